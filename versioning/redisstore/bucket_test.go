package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// setUser writes userID's state into its bucket behind the store's back
// (no message), in the store's layout.
func setUser(t testing.TB, c redis.Cmdable, s *Store, userID string, u usertable.User) {
	t.Helper()
	require.NoError(t, c.HSet(t.Context(), s.bucketKey(userID), userID, encodeValue(u)).Err())
}

// getUser reads userID's state from its bucket (every revocation, ended
// ones included).
func getUser(t testing.TB, c redis.Cmdable, s *Store, userID string) usertable.User {
	t.Helper()
	v, err := c.HGet(t.Context(), s.bucketKey(userID), userID).Result()
	if errors.Is(err, redis.Nil) {
		return usertable.User{}
	}
	require.NoError(t, err)
	u, err := decodeValue(v, -1)
	require.NoError(t, err)
	return u
}

// TestRevocationLayout: a user's epoch and revocations are one field of
// the user's bucket, a listpack-encoded hash shared with other users; the
// field goes when nothing is left in it.
func TestRevocationLayout(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	now := time.Now()
	a, b := codec.SessionID{1}, codec.SessionID{2}
	require.NoError(t, s.Revoke(ctx, "alice", a, now.Add(time.Minute)))
	require.NoError(t, s.Revoke(ctx, "alice", b, now.Add(2*time.Minute)))
	bucket := bucketOf("alice", DefaultBuckets)
	key := prefix + "b{" + strconv.Itoa(bucket) + "}"
	assert.Equal(t, key, s.bucketKey("alice"))
	v, err := c.HGet(ctx, key, "alice").Result()
	require.NoError(t, err)
	assert.Len(t, v, 2+2*revLen, "alice's value %q: epoch 0, ':', two revocations", v)
	assert.True(t, strings.HasPrefix(v, "0:"), "alice's value %q", v)
	assert.Equal(t, "0:"+string(a[:])+encodeEnd(now.Add(time.Minute).UnixMilli())+string(b[:])+encodeEnd(now.Add(2*time.Minute).UnixMilli()), v)
	pttl, _ := c.PTTL(ctx, key).Result()
	assert.Equal(t, time.Duration(-1), pttl, "a bucket never expires")
	enc, err := c.ObjectEncoding(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "listpack", enc)
	// A later end wins; an earlier one changes nothing.
	require.NoError(t, s.Revoke(ctx, "alice", a, now.Add(time.Second)))
	assert.Equal(t, now.Add(time.Minute).UnixMilli(), getUser(t, c, s, "alice").Revs[0].Until)
	require.NoError(t, s.Revoke(ctx, "alice", a, now.Add(3*time.Minute)))
	assert.Equal(t, now.Add(3*time.Minute).UnixMilli(), getUser(t, c, s, "alice").Revs[0].Until)
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	got := getUser(t, c, s, "alice")
	assert.Equal(t, uint64(1), got.Epoch)
	assert.Len(t, got.Revs, 2)
	// The meta key holds the bucket count.
	n, err := c.Get(ctx, prefix+"{v}:buckets").Result()
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(DefaultBuckets), n)
}

// encodeEnd is the stored form of a revocation's end.
func encodeEnd(ms int64) string {
	v := encodeValue(usertable.User{Revs: []usertable.Rev{{Until: ms}}})
	return v[len(v)-6:]
}
func TestBucketSpread(t *testing.T) {
	// Users spread evenly over the buckets.
	const buckets, users = 1024, 100_000
	per := make([]int, buckets)
	for i := range users {
		per[bucketOf(scaleUser(i), buckets)]++
	}
	mean := users / buckets
	for b, n := range per {
		require.Greater(t, n, mean/2, "bucket %d holds %d users, mean %d", b, n, mean)
		require.Less(t, n, 2*mean, "bucket %d holds %d users, mean %d", b, n, mean)
	}
	// The default buckets cover nearly every Cluster slot, and a
	// three-master cluster's thirds evenly.
	s := &Store{opts: Options{Prefix: DefaultPrefix, Buckets: DefaultBuckets}}
	slots := map[int]int{}
	thirds := [3]int{}
	for b := range DefaultBuckets {
		sl := redisSlot(s.bucketName(b))
		slots[sl]++
		thirds[sl*3/16384]++
	}
	assert.Greater(t, len(slots), 16384*95/100, "the %d buckets use %d of 16384 slots", DefaultBuckets, len(slots))
	for i, n := range thirds {
		assert.InDelta(t, DefaultBuckets/3, n, DefaultBuckets/30, "third %d of the slots holds %d buckets", i, n)
	}
	assert.Equal(t, DefaultPrefix+"b{0}", s.bucketName(0))
}

func TestBucketsOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	for _, o := range []Options{{Buckets: -1}, {Buckets: MaxBuckets + 1}, {SweepPeriod: 10 * time.Millisecond}} {
		_, err := New(c, &o)
		assert.ErrorIs(t, err, ErrInvalidOptions, "%+v", o)
	}
	s, err := New(c, &Options{SweepPeriod: -1})
	require.NoError(t, err)
	assert.Nil(t, s.sweepDone, "a negative SweepPeriod starts no sweep")
	assert.Equal(t, DefaultBuckets, s.opts.Buckets)
	require.NoError(t, s.Close())
	s, err = New(c, nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultSweepPeriod, s.opts.SweepPeriod)
	require.NoError(t, s.Close())
	select {
	case <-s.sweepDone:
	default:
		assert.Fail(t, "Close returned with the sweep running")
	}
}

// TestBucketsMismatchRefused: an instance whose Options.Buckets differs
// from the count in Redis refuses every call and writes nothing.
func TestBucketsMismatchRefused(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	ctx := t.Context()
	a := openStore(t, c, &Options{Prefix: prefix, Buckets: 64}, nil)
	_, err := a.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	keys, err := c.DBSize(ctx).Result()
	require.NoError(t, err)

	// Calls made before the subscriber's first check, and after it.
	for _, early := range []bool{true, false} {
		b, err := New(newClient(t, srv.Addr()), &Options{Prefix: prefix, Buckets: 128})
		require.NoError(t, err, "New does not contact Redis")
		t.Cleanup(func() { _ = b.Close() })
		if !early {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := b.WaitReady(wctx)
			cancel()
			require.ErrorIs(t, err, ErrBucketsMismatch)
			assert.ErrorIs(t, err, versioning.ErrStoreUnavailable)
			assert.Contains(t, err.Error(), "Redis holds 64")
		}
		_, err = b.BumpEpoch(ctx, "alice")
		assert.ErrorIs(t, err, ErrBucketsMismatch, "BumpEpoch")
		assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "BumpEpoch")
		assert.ErrorIs(t, b.Revoke(ctx, "bob", codec.SessionID{1}, time.Now().Add(time.Hour)), ErrBucketsMismatch, "Revoke")
		_, err = b.Lookup(ctx, "alice", codec.SessionID{1})
		assert.ErrorIs(t, err, ErrBucketsMismatch, "Lookup")
		_, err = b.Epoch(ctx, "alice")
		assert.ErrorIs(t, err, ErrBucketsMismatch, "Epoch")
		assert.ErrorIs(t, b.BumpGlobalEpoch(ctx), ErrBucketsMismatch, "BumpGlobalEpoch")
		ok, _ := b.Trusted()
		assert.False(t, ok, "a refusing store trusts its cache")
	}
	after, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, keys, after, "the refusing stores wrote keys")
	e, err := a.Epoch(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), e)

	// A deleted count is stored again by the next check.
	require.NoError(t, c.Del(ctx, a.metaKey()).Err())
	require.Eventually(t, func() bool { return c.Get(ctx, a.metaKey()).Val() == "64" }, 5*time.Second, time.Millisecond)
}

// redisNow is Redis's clock, by which revocations end.
func redisNow(t *testing.T, c *redis.Client) time.Time {
	t.Helper()
	now, err := c.Time(t.Context()).Result()
	require.NoError(t, err)
	return now
}

// waitRedisPast waits until Redis's clock is past at.
func waitRedisPast(t *testing.T, c *redis.Client, at time.Time) {
	t.Helper()
	require.Eventually(t, func() bool { return redisNow(t, c).After(at) }, 5*time.Second, 5*time.Millisecond)
}

// TestBucketPruning: a write to one user drops the ended revocations of
// the other users of its bucket, and the users left with nothing.
func TestBucketPruning(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: uniquePrefix(t), Buckets: 1, SweepPeriod: -1}, nil)
	ctx := t.Context()
	now := redisNow(t, c)
	soon := now.Add(100 * time.Millisecond).UnixMilli()
	later := now.Add(time.Hour).UnixMilli()
	a, b := codec.SessionID{0xa}, codec.SessionID{0xb}
	setUser(t, c, s, "bob", usertable.User{Revs: []usertable.Rev{{ID: a, Until: soon}}})
	setUser(t, c, s, "carol", usertable.User{Epoch: 3, Revs: []usertable.Rev{{ID: a, Until: soon}, {ID: b, Until: later}}})
	setUser(t, c, s, "dave", usertable.User{Epoch: 2, Revs: []usertable.Rev{{ID: a, Until: soon}}})
	setUser(t, c, s, "erin", usertable.User{Revs: []usertable.Rev{{ID: b, Until: later}}})
	require.NoError(t, c.HSet(ctx, s.bucketKey("mallory"), "mallory", "not ours").Err())
	waitRedisPast(t, c, time.UnixMilli(soon))
	// A write for alice (a revocation that has ended already writes
	// nothing, so revoke a live one).
	require.NoError(t, s.Revoke(ctx, "alice", a, time.Now().Add(time.Hour)))
	all, err := c.HGetAll(ctx, s.bucketKey("alice")).Result()
	require.NoError(t, err)
	want := map[string]string{
		"alice":   encodeValue(usertable.User{Revs: []usertable.Rev{{ID: a, Until: getUser(t, c, s, "alice").Revs[0].Until}}}),
		"carol":   encodeValue(usertable.User{Epoch: 3, Revs: []usertable.Rev{{ID: b, Until: later}}}),
		"dave":    "2:",
		"erin":    encodeValue(usertable.User{Revs: []usertable.Rev{{ID: b, Until: later}}}),
		"mallory": "not ours", // left alone
	}
	assert.Equal(t, want, all)
	// A bump prunes too.
	setUser(t, c, s, "bob", usertable.User{Revs: []usertable.Rev{{ID: a, Until: redisNow(t, c).Add(50 * time.Millisecond).UnixMilli()}}})
	waitRedisPast(t, c, redisNow(t, c).Add(60*time.Millisecond))
	_, err = s.BumpEpoch(ctx, "dave")
	require.NoError(t, err)
	ok, err := c.HExists(ctx, s.bucketKey("bob"), "bob").Result()
	require.NoError(t, err)
	assert.False(t, ok, "bob's ended revocation survived a bump in his bucket")
	assert.Equal(t, "3:", c.HGet(ctx, s.bucketKey("dave"), "dave").Val())
}

// TestManyRevocations: a user with many revocations round-trips, and an
// end past what the value can hold is kept as the largest one.
func TestManyRevocations(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: uniquePrefix(t)}, nil)
	ctx := t.Context()
	const n = 300
	now := time.Now()
	for i := range n {
		require.NoError(t, s.Revoke(ctx, "alice", codec.SessionID{byte(i), byte(i >> 8), 0xff}, now.Add(time.Duration(i+1)*time.Minute)))
	}
	far := codec.SessionID{0xfa}
	require.NoError(t, s.Revoke(ctx, "alice", far, time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)))
	_, err := s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	v, err := c.HGet(ctx, s.bucketKey("alice"), "alice").Result()
	require.NoError(t, err)
	assert.Len(t, v, 2+(n+1)*revLen)
	u, err := decodeValue(v, now.UnixMilli())
	require.NoError(t, err)
	require.Len(t, u.Revs, n+1)
	assert.Equal(t, uint64(1), u.Epoch)
	for i, r := range u.Revs[:n] {
		assert.Equal(t, codec.SessionID{byte(i), byte(i >> 8), 0xff}, r.ID)
		assert.Equal(t, now.Add(time.Duration(i+1)*time.Minute).UnixMilli(), r.Until)
	}
	assert.Equal(t, usertable.Rev{ID: far, Until: maxUntil}, u.Revs[n])
	assert.Equal(t, v, encodeValue(u))
	// Through a store that has not cached alice.
	fresh := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: s.opts.Prefix}, nil)
	for i := 0; i < n; i += 37 {
		st, err := fresh.Lookup(ctx, "alice", codec.SessionID{byte(i), byte(i >> 8), 0xff})
		require.NoError(t, err)
		assert.True(t, st.Revoked, "revocation %d", i)
		assert.Equal(t, uint64(1), st.Epoch)
	}
	st, err := fresh.Lookup(ctx, "alice", far)
	require.NoError(t, err)
	assert.True(t, st.Revoked)
	st, err = fresh.Lookup(ctx, "alice", codec.SessionID{0xfb})
	require.NoError(t, err)
	assert.False(t, st.Revoked)
}

// TestBadValueRefused: a field this package did not write fails reads
// and writes of that user with a typed error, and is never overwritten.
func TestBadValueRefused(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	ctx := t.Context()
	for _, cached := range []bool{true, false} {
		o := &Options{Prefix: uniquePrefix(t)}
		if !cached {
			o.CacheBytes = -1
		}
		s := openStore(t, c, o, nil)
		for _, bad := range []string{"", "x:", "12", "01:", "1:short", "99999999999999999999:"} {
			require.NoError(t, c.HSet(ctx, s.bucketKey("alice"), "alice", bad).Err())
			_, err := s.Lookup(ctx, "alice", codec.SessionID{1})
			assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Lookup of %q", bad)
			_, err = s.BumpEpoch(ctx, "alice")
			assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "BumpEpoch of %q", bad)
			err = s.Revoke(ctx, "alice", codec.SessionID{1}, time.Now().Add(time.Hour))
			assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Revoke of %q", bad)
			assert.Equal(t, bad, c.HGet(ctx, s.bucketKey("alice"), "alice").Val())
		}
		require.NoError(t, c.HSet(ctx, s.bucketKey("alice"), "alice", "9223372036854775808:").Err())
		_, err := s.Lookup(ctx, "alice", codec.SessionID{1})
		assert.ErrorIs(t, err, versioning.ErrEpochOverflow)
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, u := range []usertable.User{
		{},
		{Epoch: 1},
		{Epoch: maxCounter, Revs: []usertable.Rev{{ID: codec.SessionID{1, 2, 3}, Until: 1}, {ID: codec.SessionID{':'}, Until: maxUntil}}},
	} {
		v := encodeValue(u)
		got, err := decodeValue(v, 0)
		require.NoError(t, err)
		assert.Equal(t, u, got)
	}
	// Two revocations and a 16-digit epoch stay within Redis's default
	// hash-max-listpack-value (64 bytes).
	v := encodeValue(usertable.User{Epoch: 1e15, Revs: make([]usertable.Rev, 2)})
	assert.LessOrEqual(t, len(v), 64)
	// Ended revocations are left out.
	u, err := decodeValue(encodeValue(usertable.User{Revs: []usertable.Rev{{Until: 5}, {ID: codec.SessionID{1}, Until: 6}}}), 5)
	require.NoError(t, err)
	assert.Equal(t, usertable.User{Revs: []usertable.Rev{{ID: codec.SessionID{1}, Until: 6}}}, u)
}

func FuzzDecodeValue(f *testing.F) {
	f.Add("0:")
	f.Add("1:")
	f.Add("")
	f.Add(":")
	f.Add("00:")
	f.Add("9223372036854775807:")
	f.Add("9223372036854775808:")
	f.Add("18446744073709551616:")
	f.Add(encodeValue(usertable.User{Epoch: 7, Revs: []usertable.Rev{{ID: codec.SessionID{':', 0xff}, Until: maxUntil}}}))
	f.Add("3:" + strings.Repeat("\x00", revLen-1))
	f.Fuzz(func(t *testing.T, v string) {
		u, err := decodeValue(v, -1)
		if err != nil {
			if !errors.Is(err, errBadValue) && !errors.Is(err, versioning.ErrEpochOverflow) {
				t.Fatalf("decodeValue(%q) = %v: untyped error", v, err)
			}
			return
		}
		// What parses is canonical: it encodes back to itself.
		if got := encodeValue(u); got != v {
			t.Fatalf("decodeValue(%q) = %+v, which encodes as %q", v, u, got)
		}
		if u.Epoch > maxCounter {
			t.Fatalf("decodeValue(%q) gave epoch %d", v, u.Epoch)
		}
	})
}
