package redisstore

import (
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
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// setUser writes userID's state into its bucket behind the store's back
// (no message), in the store's layout.
func setUser(t testing.TB, c redis.Cmdable, s *Store, userID string, u usertable.User) {
	t.Helper()
	if err := c.HSet(t.Context(), s.bucketKey(userID), userID, encodeValue(u)).Err(); err != nil {
		t.Fatal(err)
	}
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
