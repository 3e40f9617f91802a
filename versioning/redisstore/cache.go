package redisstore

import (
	"hash/maphash"
	"sync"

	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// cacheShards is the number of independently locked parts of the cache.
const cacheShards = 64

// entryOverhead estimates the bytes one cached user costs beyond its user
// ID and revocations: the map slot, the entry and the allocator's rounding.
// The scale harness (TestScaleSmall, bench/scale) measures the real figure.
const entryOverhead = 112

// revCost is the bytes one cached revocation costs.
const revCost = 24

// userCache is a bounded, sharded LRU of per-user state (epoch counter and
// revocations, untils in unix ms). A user with no state in Redis is cached
// too (an empty entry: the cheap negative answer). Fills race with
// invalidations: a fill registers before it reads Redis, and an
// invalidation or flush meanwhile makes it drop its result.
//
// A flush does not drop the entries: it moves every shard to a new
// generation, and entries of an older one are misses for get. The
// entries of the generation just before stay readable by peekStale, for
// the bounded-staleness reads of an outage (LookupStale), which are
// needed most right after a reconnect, when the store has just flushed.
// Old entries stay within the byte bound and are the first the LRU
// evicts.
type userCache struct {
	seed     maphash.Seed
	maxBytes int64 // per shard
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu       sync.Mutex
	m        map[string]*cacheEntry
	lru      cacheEntry // sentinel: lru.next is the most recent
	bytes    int64
	inflight map[string]*fillToken
	peak     int
	gen      uint64 // flushes so far
}

type cacheEntry struct {
	user       string
	st         usertable.User
	gen        uint64 // the shard's generation when the entry was filled
	prev, next *cacheEntry
}

// fillToken is shared by the concurrent fills of one user.
type fillToken struct {
	valid bool
	refs  int
}

func newUserCache(maxBytes int64) *userCache {
	c := &userCache{seed: maphash.MakeSeed(), maxBytes: max(maxBytes/cacheShards, 1)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.m = make(map[string]*cacheEntry)
		sh.inflight = make(map[string]*fillToken)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	return c
}

func (c *userCache) shard(user string) *cacheShard {
	return &c.shards[maphash.String(c.seed, user)%cacheShards]
}

func entryCost(user string, st usertable.User) int64 {
	return int64(entryOverhead + len(user) + revCost*len(st.Revs))
}

func (sh *cacheShard) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (sh *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// get returns the cached state of user and marks it recently used.
func (c *userCache) get(user string) (usertable.User, bool) {
	sh := c.shard(user)
	sh.mu.Lock()
	e, ok := sh.m[user]
	if !ok || e.gen != sh.gen {
		sh.mu.Unlock()
		return usertable.User{}, false
	}
	if sh.lru.next != e {
		sh.unlink(e)
		sh.pushFront(e)
	}
	st := e.st
	sh.mu.Unlock()
	return st, true
}

// peekStale returns the cached state of user without touching the LRU
// order, from the current generation (previous false) or the one before
// the last flush (previous true).
func (c *userCache) peekStale(user string) (st usertable.User, previous, ok bool) {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, found := sh.m[user]
	if !found || sh.gen-e.gen > 1 {
		return usertable.User{}, false, false
	}
	return e.st, e.gen != sh.gen, true
}

// begin registers a fill of user; call finish with the token afterwards.
func (c *userCache) begin(user string) *fillToken {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f, ok := sh.inflight[user]
	if !ok {
		f = &fillToken{valid: true}
		sh.inflight[user] = f
	}
	f.refs++
	return f
}

// finish ends a fill: with ok, st is cached unless an invalidation or a
// flush happened since begin. It reports whether st was cached.
func (c *userCache) finish(user string, f *fillToken, st usertable.User, ok bool) bool {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f.refs--
	if f.refs == 0 && sh.inflight[user] == f {
		delete(sh.inflight, user)
	}
	if !ok || !f.valid {
		return false
	}
	if old, found := sh.m[user]; found {
		sh.bytes -= entryCost(user, old.st)
		old.st, old.gen = st, sh.gen
		sh.bytes += entryCost(user, st)
		sh.unlink(old)
		sh.pushFront(old)
	} else {
		e := &cacheEntry{user: user, st: st, gen: sh.gen}
		sh.m[user] = e
		sh.pushFront(e)
		sh.bytes += entryCost(user, st)
		sh.peak = max(sh.peak, len(sh.m))
	}
	for sh.bytes > c.maxBytes && sh.lru.prev != &sh.lru {
		victim := sh.lru.prev
		sh.unlink(victim)
		delete(sh.m, victim.user)
		sh.bytes -= entryCost(victim.user, victim.st)
	}
	sh.maybeShrinkLocked()
	return true
}

// invalidate drops user's entry and spoils the fills in flight for it.
func (c *userCache) invalidate(user string) {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[user]; ok {
		sh.unlink(e)
		delete(sh.m, user)
		sh.bytes -= entryCost(user, e.st)
	}
	if f, ok := sh.inflight[user]; ok {
		f.valid = false
		delete(sh.inflight, user)
	}
}

// flush makes every cached entry a miss for get (one shard at a time) and
// spoils every fill in flight. The entries stay, as the previous
// generation, for peekStale, until the LRU evicts them or a fill replaces
// them.
func (c *userCache) flush() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		for _, f := range sh.inflight {
			f.valid = false
		}
		clear(sh.inflight)
		sh.mu.Unlock()
	}
}

// maybeShrinkLocked rebuilds a map that holds a quarter of its peak, so
// that memory returns after the working set shrinks.
func (sh *cacheShard) maybeShrinkLocked() {
	if sh.peak < 1024 || len(sh.m) > sh.peak/4 {
		return
	}
	m := make(map[string]*cacheEntry, len(sh.m))
	for k, v := range sh.m {
		m[k] = v
	}
	sh.m = m
	sh.peak = len(m)
}

// stats returns the number of cached users (entries kept for stale reads
// included) and the estimated bytes.
func (c *userCache) stats() (users int, bytes int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		users += len(sh.m)
		bytes += sh.bytes
		sh.mu.Unlock()
	}
	return users, bytes
}
