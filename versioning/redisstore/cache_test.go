package redisstore

import (
	"fmt"
	"testing"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

func TestCacheFillRaces(t *testing.T) {
	c := newUserCache(1 << 20)
	st := usertable.User{Epoch: 3}
	// A fill that completes undisturbed is cached.
	tok := c.begin("alice")
	if !c.finish("alice", tok, st, true) {
		t.Fatal("undisturbed fill not cached")
	}
	if got, ok := c.get("alice"); !ok || got.Epoch != 3 {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	// An invalidation between begin and finish spoils the fill: the
	// answer read before the change must not be cached after it.
	tok = c.begin("bob")
	c.invalidate("bob")
	if c.finish("bob", tok, st, true) {
		t.Fatal("a fill raced by an invalidation was cached")
	}
	if _, ok := c.get("bob"); ok {
		t.Fatal("bob cached after a spoiled fill")
	}
	// So does a flush, for every fill in flight; two fills of one user
	// share their fate.
	t1, t2 := c.begin("carol"), c.begin("carol")
	c.flush()
	if c.finish("carol", t1, st, true) || c.finish("carol", t2, st, true) {
		t.Fatal("a fill raced by a flush was cached")
	}
	if _, ok := c.get("alice"); ok {
		t.Fatal("flush kept alice")
	}
	// A fill started after an invalidation is fine.
	c.invalidate("dave")
	tok = c.begin("dave")
	if !c.finish("dave", tok, st, true) {
		t.Fatal("a fill begun after the invalidation was not cached")
	}
	// A failed fill caches nothing.
	tok = c.begin("erin")
	if c.finish("erin", tok, st, false) {
		t.Fatal("a failed fill was cached")
	}
	for i := range c.shards {
		if n := len(c.shards[i].inflight); n != 0 {
			t.Fatalf("shard %d keeps %d fill tokens after every fill finished", i, n)
		}
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
	if bytes > perShard*cacheShards || users > 4*cacheShards || users < cacheShards {
		t.Fatalf("%d users, %d bytes cached; bound %d bytes", users, bytes, perShard*cacheShards)
	}
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
	if sum != sh.bytes {
		t.Fatalf("shard accounts %d bytes, entries cost %d", sh.bytes, sum)
	}
}

// TestCacheGenerations: a flush makes every entry a miss for get but keeps
// it for peekStale as the previous generation; a fill after the flush is
// current again; a second flush retires what the first one kept.
func TestCacheGenerations(t *testing.T) {
	c := newUserCache(1 << 20)
	fill := func(user string, epoch uint64) {
		if !c.finish(user, c.begin(user), usertable.User{Epoch: epoch}, true) {
			t.Fatalf("fill of %s not cached", user)
		}
	}
	fill("alice", 1)
	fill("bob", 2)
	c.flush()
	if _, ok := c.get("alice"); ok {
		t.Fatal("get hit after a flush")
	}
	if st, previous, ok := c.peekStale("alice"); !ok || !previous || st.Epoch != 1 {
		t.Fatalf("peekStale(alice) after a flush = %+v, previous %v, ok %v", st, previous, ok)
	}
	fill("bob", 3)
	if st, ok := c.get("bob"); !ok || st.Epoch != 3 {
		t.Fatalf("get(bob) after a refill = %+v, %v", st, ok)
	}
	if _, previous, ok := c.peekStale("bob"); !ok || previous {
		t.Fatalf("peekStale(bob) after a refill: previous %v, ok %v", previous, ok)
	}
	if users, _ := c.stats(); users != 2 {
		t.Fatalf("stats: %d users, want 2 (a refill replaces its entry)", users)
	}
	c.flush()
	if _, _, ok := c.peekStale("alice"); ok {
		t.Fatal("an entry two flushes old is still readable")
	}
	if st, previous, ok := c.peekStale("bob"); !ok || !previous || st.Epoch != 3 {
		t.Fatalf("peekStale(bob) after the second flush = %+v, previous %v, ok %v", st, previous, ok)
	}
}
