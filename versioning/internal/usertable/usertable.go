// Package usertable is the in-memory per-user state of memstore and
// boltstore: each user's epoch counter and revoked session IDs, in a map
// split into shards so that no operation, sweeps included, ever holds a
// lock over more than one shard.
//
// A user with no epoch and no live revocation has no entry: the table is
// sized by what is live. Sweep drops expired revocations shard by shard and
// rebuilds a shard's map when it has shrunk to a quarter of its peak, or
// when more users left it than it holds (Go maps never give memory back by
// themselves, and a map under churn keeps the slots of the users that
// left).
package usertable

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/sealedsession/sealedsession/codec"
)

// Shards is the number of shards.
const Shards = 64

// minRebuild is the peak size below which a shrunk shard map is not
// rebuilt (a small map costs little).
const minRebuild = 256

// Rev is one revocation: a session ID and when the revocation ends (unix
// nanoseconds or milliseconds: the table only compares them with the now
// it is given).
type Rev struct {
	ID    codec.SessionID
	Until int64
}

// User is one user's state. Revs is never changed in place once a User is
// in the table: updates build a new slice, so a User read from the table
// stays valid.
type User struct {
	Epoch uint64
	Revs  []Rev
}

// Empty reports whether u holds nothing worth keeping.
func (u User) Empty() bool { return u.Epoch == 0 && len(u.Revs) == 0 }

// Revoked reports whether id is revoked in u at now.
func (u User) Revoked(id codec.SessionID, now int64) bool {
	for _, r := range u.Revs {
		if r.ID == id {
			return r.Until > now
		}
	}
	return false
}

// hasExpired reports whether any revocation of u has ended at now.
func (u User) hasExpired(now int64) bool {
	for _, r := range u.Revs {
		if r.Until <= now {
			return true
		}
	}
	return false
}

// Live returns u without the revocations ended at now (a new slice when
// something was dropped) and whether something was dropped.
func (u User) Live(now int64) (User, bool) {
	if !u.hasExpired(now) {
		return u, false
	}
	var revs []Rev
	for _, r := range u.Revs {
		if r.Until > now {
			revs = append(revs, r)
		}
	}
	return User{Epoch: u.Epoch, Revs: revs}, true
}

// WithRevocation returns u with id revoked until until (keeping a later
// existing until) and expired revocations dropped, and whether that
// changed anything.
func (u User) WithRevocation(id codec.SessionID, until, now int64) (User, bool) {
	live, changed := u.Live(now)
	i := slices.IndexFunc(live.Revs, func(r Rev) bool { return r.ID == id })
	if i >= 0 && live.Revs[i].Until >= until {
		return live, changed
	}
	revs := make([]Rev, 0, len(live.Revs)+1)
	revs = append(revs, live.Revs...)
	if i >= 0 {
		revs[i].Until = until
	} else {
		revs = append(revs, Rev{ID: id, Until: until})
	}
	return User{Epoch: live.Epoch, Revs: revs}, true
}

type shard struct {
	mu    sync.RWMutex
	users map[string]User
	peak  int // largest len(users) since the map was made
	// deletes counts users removed since the map was made. A map under
	// churn (users come and go) keeps their slots and grows with their
	// tombstones although len stays put, so a sweep also rebuilds a map
	// that has seen more deletes than it holds users.
	deletes int
}

// Table is a sharded map from user ID to User, safe for concurrent use.
type Table struct {
	seed   maphash.Seed
	shards [Shards]shard
}

// New returns an empty Table.
func New() *Table {
	t := &Table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].users = make(map[string]User)
	}
	return t
}

func (t *Table) shard(user string) *shard {
	return &t.shards[maphash.String(t.seed, user)%Shards]
}

// Get returns user's state (the zero User if none).
func (t *Table) Get(user string) User {
	sh := t.shard(user)
	sh.mu.RLock()
	u := sh.users[user]
	sh.mu.RUnlock()
	return u
}

// Check returns user's epoch and whether id is revoked at the time clock
// gives, changing nothing. The clock is read only for a user with
// revocations.
func (t *Table) Check(user string, id codec.SessionID, clock func() int64) (epoch uint64, revoked bool) {
	u := t.Get(user)
	if len(u.Revs) == 0 {
		return u.Epoch, false
	}
	return u.Epoch, u.Revoked(id, clock())
}

// Lookup is Check, and when the user holds revocations that have ended it
// drops them (prune on read: one shard lock, one user).
func (t *Table) Lookup(user string, id codec.SessionID, clock func() int64) (epoch uint64, revoked bool) {
	u := t.Get(user)
	if len(u.Revs) == 0 {
		return u.Epoch, false
	}
	now := clock()
	if u.hasExpired(now) {
		t.Update(user, func(u User) User { l, _ := u.Live(now); return l })
	}
	return u.Epoch, u.Revoked(id, now)
}

// Update replaces user's state by fn's result under the shard's lock; an
// empty result removes the user. It returns the new state.
func (t *Table) Update(user string, fn func(User) User) User {
	sh := t.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := fn(sh.users[user])
	sh.setLocked(user, u)
	return u
}

// Set stores u for user (an empty u removes the user).
func (t *Table) Set(user string, u User) {
	sh := t.shard(user)
	sh.mu.Lock()
	sh.setLocked(user, u)
	sh.mu.Unlock()
}

func (sh *shard) setLocked(user string, u User) {
	if u.Empty() {
		if _, ok := sh.users[user]; ok {
			delete(sh.users, user)
			sh.deletes++
		}
		return
	}
	sh.users[user] = u
	sh.peak = max(sh.peak, len(sh.users))
}

// Sweep drops the revocations ended at now, one shard at a time, calling
// changed (if not nil) with each user whose state it changed (an empty
// User for a user removed), under that shard's lock. It rebuilds a shard
// map that has shrunk to a quarter of its peak, so that memory is returned
// after a mass expiry, or that has seen more users removed than it holds,
// so that churn does not grow it. It returns the users and revocations left.
func (t *Table) Sweep(now int64, changed func(user string, u User)) (users, revs int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for user, u := range sh.users {
			l, dropped := u.Live(now)
			if !dropped {
				continue
			}
			sh.setLocked(user, l)
			if changed != nil {
				changed(user, l)
			}
		}
		if sh.peak >= minRebuild && (len(sh.users) <= sh.peak/4 || sh.deletes > max(len(sh.users), minRebuild)) {
			m := make(map[string]User, len(sh.users))
			for k, v := range sh.users {
				m[k] = v
			}
			sh.users = m
			sh.peak, sh.deletes = len(m), 0
		}
		users += len(sh.users)
		for _, u := range sh.users {
			revs += len(u.Revs)
		}
		sh.mu.Unlock()
	}
	return users, revs
}

// Len returns the number of users and of revocations held (including
// ended revocations not yet swept). It locks one shard at a time.
func (t *Table) Len() (users, revs int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		users += len(sh.users)
		for _, u := range sh.users {
			revs += len(u.Revs)
		}
		sh.mu.RUnlock()
	}
	return users, revs
}
