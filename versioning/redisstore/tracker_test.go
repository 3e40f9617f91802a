package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

func trackInfo(t testing.TB, created time.Time, ttl time.Duration) versioning.SessionInfo {
	t.Helper()
	id, err := codec.NewSessionID()
	require.NoError(t, err)
	created = created.Truncate(time.Millisecond)
	return versioning.SessionInfo{ID: id, Created: created, LastSeen: created, Expires: created.Add(ttl), Network: "198.51.100.0/24", Client: "Firefox on Linux"}
}

func TestTrackerEntryRoundTrip(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	for _, si := range []versioning.SessionInfo{
		{ID: codec.SessionID{1, 2, 3}, Created: now, LastSeen: now.Add(time.Second), Expires: now.Add(time.Hour), Network: "2001:db8:1::/48", Client: "curl/8.0"},
		{ID: codec.SessionID{0xff}, Created: now, LastSeen: now, Expires: now.Add(time.Minute), Network: "", Client: "a\nclient with\nline feeds and spaces "},
		{ID: codec.SessionID{}, Created: time.UnixMilli(0), LastSeen: time.UnixMilli(-5), Expires: now, Network: "192.0.2.0/24", Client: ""},
	} {
		got, err := decodeEntry(si.ID.String(), encodeEntry(si))
		require.NoError(t, err, "decode(encode(%+v))", si)
		assert.Equal(t, si.ID, got.ID, "ID after a round trip of %+v", si)
		assert.WithinDuration(t, si.Created, got.Created, 0, "Created after a round trip of %+v", si)
		assert.WithinDuration(t, si.LastSeen, got.LastSeen, 0, "LastSeen after a round trip of %+v", si)
		assert.WithinDuration(t, si.Expires, got.Expires, 0, "Expires after a round trip of %+v", si)
		assert.Equal(t, si.Network, got.Network, "Network after a round trip of %+v", si)
		assert.Equal(t, si.Client, got.Client, "Client after a round trip of %+v", si)
	}
	for _, bad := range [][2]string{
		{"00", "1 2 3 n\nc"},                                       // short ID
		{strings.Repeat("zz", 16), "1 2 3 n\nc"},                   // not hex
		{strings.Repeat("00", 16), "1 2 3 n"},                      // no line feed
		{strings.Repeat("00", 16), "1 2 3\nc"},                     // three fields
		{strings.Repeat("00", 16), "1 x 3 n\nc"},                   // not a number
		{strings.Repeat("00", 16), "99999999999999999999 2 3 n\n"}, // overflow
	} {
		_, err := decodeEntry(bad[0], bad[1])
		assert.ErrorIs(t, err, errBadEntry, "decodeEntry(%q, %q)", bad[0], bad[1])
	}
}

// FuzzDecodeEntry: an entry read from Redis never panics the decoder, and
// whatever decodes encodes back to an entry that decodes the same.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(strings.Repeat("ab", 16), "1700000000123 1700000000000 1700003600000 192.0.2.0/24\nFirefox")
	f.Add(strings.Repeat("00", 16), "0 0 0 \n")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, hexID, e string) {
		si, err := decodeEntry(hexID, e)
		if err != nil {
			return
		}
		again, err := decodeEntry(si.ID.String(), encodeEntry(si))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.ID != si.ID || !again.Created.Equal(si.Created) || !again.LastSeen.Equal(si.LastSeen) || !again.Expires.Equal(si.Expires) || again.Network != si.Network || again.Client != si.Client {
			t.Fatalf("round trip changed %+v into %+v", si, again)
		}
	})
}

// TestTrackerKeys checks the layout: three keys per user in the user's slot,
// expiring with the user's latest entry, gone when the last entry goes.
func TestTrackerKeys(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	now := time.Now()
	a := trackInfo(t, now, 10*time.Minute)
	b := trackInfo(t, now, time.Hour)
	for _, si := range []versioning.SessionInfo{a, b} {
		_, err := s.AddSession(ctx, "a{b}c", si, 0, false)
		require.NoError(t, err)
	}
	assert.Equal(t, prefix+"u{alice}:tc", s.trackKeys("alice")[0], "alice's first tracker key")
	keys := s.trackKeys("a{b}c")
	for i, k := range keys {
		// A user ID holding '}' is tagged by its FNV-1a hash (see userTag).
		want := prefix + "u{7198c47b008ce261}=a{b}c:" + []string{"tc", "tx", "th"}[i]
		assert.Equal(t, want, k, "key %d", i)
		ms, err := srv.Do("PTTL", k)
		require.NoError(t, err)
		ttl, _ := strconv.ParseInt(ms, 10, 64)
		d := time.Duration(ttl) * time.Millisecond
		assert.GreaterOrEqual(t, d, 59*time.Minute, "PTTL %s, want about an hour (the latest expiry)", k)
		assert.LessOrEqual(t, d, time.Hour, "PTTL %s, want about an hour (the latest expiry)", k)
	}
	for _, si := range []versioning.SessionInfo{b, a} {
		require.NoError(t, s.RemoveSession(ctx, "a{b}c", si.ID))
	}
	for _, k := range keys {
		n, err := srv.Do("EXISTS", k)
		assert.NoError(t, err, "EXISTS %s", k)
		assert.Equal(t, "0", n, "%s still exists after the last entry was removed", k)
	}
	// Display text is bounded, and a network that cannot be a prefix is refused.
	long := trackInfo(t, now, time.Hour)
	long.Client = strings.Repeat("é", 100)
	_, err := s.AddSession(ctx, "carol", long, 0, false)
	require.NoError(t, err)
	l, err := s.Sessions(ctx, "carol")
	require.NoError(t, err, "Sessions with a long client")
	require.Len(t, l, 1, "Sessions with a long client")
	require.LessOrEqual(t, len(l[0].Client), maxClient, "long client %q", l[0].Client)
	require.True(t, strings.HasPrefix(long.Client, l[0].Client), "long client %q is not a prefix of the one added", l[0].Client)
	bad := trackInfo(t, now, time.Hour)
	bad.Network = "1 2"
	_, err = s.AddSession(ctx, "carol", bad, 0, false)
	assert.Error(t, err, "AddSession with network %q, want a usage error", bad.Network)
	assert.NotErrorIs(t, err, versioning.ErrStoreUnavailable, "AddSession with network %q, want a usage error", bad.Network)
	_, err = s.AddSession(ctx, "", trackInfo(t, now, time.Hour), 0, false)
	assert.Error(t, err, "AddSession for an empty user ID succeeded")
}

// TestTrackerTwoInstances: two stores (two application instances) on one
// Redis share the per-user limit, atomically.
func TestTrackerTwoInstances(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	a := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	b := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	const workers, limit = 16, 3
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		ok, refused int
	)
	now := time.Now()
	for i := range workers {
		s := a
		if i%2 == 1 {
			s = b
		}
		si := trackInfo(t, now.Add(time.Duration(i)*time.Millisecond), time.Hour)
		wg.Go(func() {
			_, err := s.AddSession(t.Context(), "shared", si, limit, false)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, versioning.ErrTooManySessions):
				refused++
			default:
				assert.NoError(t, err, "AddSession: want success or ErrTooManySessions")
			}
		})
	}
	wg.Wait()
	require.Equal(t, limit, ok, "sessions accepted across two instances")
	require.Equal(t, workers-limit, refused, "sessions refused across two instances")
	la, errA := a.Sessions(t.Context(), "shared")
	lb, errB := b.Sessions(t.Context(), "shared")
	require.NoError(t, errA, "Sessions on instance a")
	require.NoError(t, errB, "Sessions on instance b")
	require.Len(t, la, limit, "sessions instance a sees")
	require.Len(t, lb, limit, "sessions instance b sees")
	// Evicting through b removes the oldest, whichever instance added it.
	ev, err := b.AddSession(t.Context(), "shared", trackInfo(t, now.Add(time.Second), time.Hour), limit, true)
	require.NoError(t, err, "evict through the other instance")
	require.Len(t, ev, 1, "evict through the other instance")
	require.Equal(t, la[0].ID, ev[0].ID, "evict through the other instance: want the oldest %s", la[0].ID.Tag())
	assert.WithinDuration(t, la[0].Expires, ev[0].Expires, 0, "evicted entry lost its expiry")
	assert.Equal(t, la[0].Client, ev[0].Client, "evicted entry lost its client")
}

// TestTrackerNotReplicated: with MinReplicas and no replica, AddSession
// fails like every write, takes its entry back, and still reports the
// entries it evicted on the master.
func TestTrackerNotReplicated(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	plain := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	waiting := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix, MinReplicas: 1, WaitTimeout: 50 * time.Millisecond}, nil)
	ctx := t.Context()
	old := trackInfo(t, time.Now().Add(-time.Minute), time.Hour)
	_, err := plain.AddSession(ctx, "alice", old, 0, false)
	require.NoError(t, err)
	ev, err := waiting.AddSession(ctx, "alice", trackInfo(t, time.Now(), time.Hour), 1, true)
	require.ErrorIs(t, err, ErrNotReplicated, "AddSession without a replica")
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "AddSession without a replica")
	if assert.Len(t, ev, 1, "evicted: want the old entry (removed on the master)") {
		assert.Equal(t, old.ID, ev[0].ID, "evicted: want the old entry (removed on the master)")
	}
	l, err := plain.Sessions(ctx, "alice")
	assert.NoError(t, err, "Sessions after an unreplicated AddSession")
	assert.Empty(t, l, "after an unreplicated AddSession: want no entry (taken back)")
	assert.ErrorIs(t, waiting.RemoveSession(ctx, "alice", old.ID), ErrNotReplicated, "RemoveSession without a replica")
	// Touch is display only: no WAIT.
	assert.NoError(t, waiting.TouchSession(ctx, "alice", old.ID, time.Now()), "TouchSession")
}

// TestTrackerUnavailable: with Redis down every call fails with
// ErrStoreUnavailable, and a corrupt entry is a store failure too.
func TestTrackerUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t)}, nil)
	ctx := t.Context()
	si := trackInfo(t, time.Now(), time.Hour)
	_, err := s.AddSession(ctx, "alice", si, 0, false)
	require.NoError(t, err)
	_, err = srv.Do("HSET", s.trackKeys("alice")[2], si.ID.String(), "garbage")
	require.NoError(t, err)
	_, err = s.Sessions(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Sessions with a corrupt entry")
	srv.Kill()
	_, errA := s.AddSession(ctx, "alice", trackInfo(t, time.Now(), time.Hour), 1, false)
	errT := s.TouchSession(ctx, "alice", si.ID, time.Now())
	errR := s.RemoveSession(ctx, "alice", si.ID)
	_, errS := s.Sessions(ctx, "alice")
	for name, err := range map[string]error{"AddSession": errA, "TouchSession": errT, "RemoveSession": errR, "Sessions": errS} {
		assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "%s with Redis down", name)
		assert.NotErrorIs(t, err, versioning.ErrTooManySessions, "%s with Redis down", name)
	}
	_ = s.Close()
	_, err = s.Sessions(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrClosed, "Sessions after Close")
}

func BenchmarkAddSession(b *testing.B) {
	srv := redistest.Start(b)
	s := openStore(b, newClient(b, srv.Addr()), &Options{Prefix: uniquePrefix(b)}, nil)
	now := time.Now()
	infos := make([]versioning.SessionInfo, 64)
	for i := range infos {
		infos[i] = trackInfo(b, now.Add(time.Duration(i)*time.Millisecond), time.Hour)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.AddSession(b.Context(), "bench", infos[i%len(infos)], 5, true); err != nil {
			b.Fatal(err)
		}
	}
}
