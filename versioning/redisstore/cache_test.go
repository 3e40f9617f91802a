package redisstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

func TestCacheFillRaces(t *testing.T) {
	c := newUserCache(1 << 20)
	st := usertable.User{Epoch: 3}
	// A fill that completes undisturbed is cached.
	tok := c.begin("alice")
	require.True(t, c.finish("alice", tok, st, true), "undisturbed fill not cached")
	got, ok := c.get("alice")
	require.True(t, ok, "get(alice)")
	require.Equal(t, uint64(3), got.Epoch, "get(alice)")
	// An invalidation between begin and finish spoils the fill: the
	// answer read before the change must not be cached after it.
	tok = c.begin("bob")
	c.invalidate("bob")
	require.False(t, c.finish("bob", tok, st, true), "a fill raced by an invalidation was cached")
	_, ok = c.get("bob")
	require.False(t, ok, "bob cached after a spoiled fill")
	// So does a flush, for every fill in flight; two fills of one user
	// share their fate.
	t1, t2 := c.begin("carol"), c.begin("carol")
	c.flush()
	require.False(t, c.finish("carol", t1, st, true), "a fill raced by a flush was cached")
	require.False(t, c.finish("carol", t2, st, true), "a fill raced by a flush was cached")
	_, ok = c.get("alice")
	require.False(t, ok, "flush kept alice")
	// A fill started after an invalidation is fine.
	c.invalidate("dave")
	tok = c.begin("dave")
	require.True(t, c.finish("dave", tok, st, true), "a fill begun after the invalidation was not cached")
	// A failed fill caches nothing.
	tok = c.begin("erin")
	require.False(t, c.finish("erin", tok, st, false), "a failed fill was cached")
	for i := range c.shards {
		require.Empty(t, c.shards[i].inflight, "shard %d keeps fill tokens after every fill finished", i)
	}
}

func TestCacheLRUBound(t *testing.T) {
	const perShard = 4 * entryOverhead
	c := newUserCache(perShard * cacheShards)
	fill := func(u string, st usertable.User) {
		c.finish(u, c.begin(u), st, true)
	}
	for i := range 10_000 {
		fill(fmt.Sprint("user", i), usertable.User{})
	}
	users, bytes := c.stats()
	require.LessOrEqual(t, bytes, int64(perShard*cacheShards), "bytes cached (%d users)", users)
	require.LessOrEqual(t, users, 4*cacheShards, "users cached (%d bytes)", bytes)
	require.GreaterOrEqual(t, users, cacheShards, "users cached (%d bytes)", bytes)
	// Recently used entries survive; the least recently used go first.
	sh := c.shard("keep")
	fill("keep", usertable.User{Epoch: 1, Revs: []usertable.Rev{{ID: codec.SessionID{1}, Until: 9}}})
	for i := range 10_000 {
		u := fmt.Sprint("other", i)
		if c.shard(u) != sh {
			continue
		}
		if _, ok := c.get("keep"); !ok {
			t.Fatalf("a user used before every insertion was evicted after %d", i)
		}
		fill(u, usertable.User{})
	}
	// Replacing an entry keeps the byte count exact.
	fill("keep", usertable.User{Epoch: 2})
	var sum int64
	for k, e := range sh.m {
		sum += entryCost(k, e.st)
	}
	require.Equal(t, sum, sh.bytes, "the bytes the shard accounts against what its entries cost")
}

// TestCacheGenerations: a flush makes every entry a miss for get but keeps
// it for peekStale as the previous generation; a fill after the flush is
// current again; a second flush retires what the first one kept.
func TestCacheGenerations(t *testing.T) {
	c := newUserCache(1 << 20)
	fill := func(user string, epoch uint64) {
		require.True(t, c.finish(user, c.begin(user), usertable.User{Epoch: epoch}, true), "fill of %s not cached", user)
	}
	fill("alice", 1)
	fill("bob", 2)
	c.flush()
	_, ok := c.get("alice")
	require.False(t, ok, "get hit after a flush")
	st, previous, ok := c.peekStale("alice")
	require.True(t, ok, "peekStale(alice) after a flush")
	require.True(t, previous, "peekStale(alice) after a flush")
	require.Equal(t, uint64(1), st.Epoch, "peekStale(alice) after a flush")
	fill("bob", 3)
	st, ok = c.get("bob")
	require.True(t, ok, "get(bob) after a refill")
	require.Equal(t, uint64(3), st.Epoch, "get(bob) after a refill")
	_, previous, ok = c.peekStale("bob")
	require.True(t, ok, "peekStale(bob) after a refill")
	require.False(t, previous, "peekStale(bob) after a refill")
	users, _ := c.stats()
	require.Equal(t, 2, users, "users in the cache (a refill replaces its entry)")
	c.flush()
	_, _, ok = c.peekStale("alice")
	require.False(t, ok, "an entry two flushes old is still readable")
	st, previous, ok = c.peekStale("bob")
	require.True(t, ok, "peekStale(bob) after the second flush")
	require.True(t, previous, "peekStale(bob) after the second flush")
	require.Equal(t, uint64(3), st.Epoch, "peekStale(bob) after the second flush")
}
