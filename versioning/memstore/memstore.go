// Package memstore is an in-memory [versioning.Store] (and
// [versioning.SessionTracker]) for tests and single-process applications. Nothing survives a restart: after one,
// every epoch is 0 again (bumped sessions become valid again) and every
// revocation is forgotten. Use versioning/boltstore for a durable store on
// one machine and versioning/redisstore for many.
//
// State is kept per user in a sharded map: a read locks one shard for
// reading, a write one shard. Ended revocations are dropped when a read
// meets them, and by a sweep that runs every SweepInterval (default
// DefaultSweepInterval) one shard at a time, so no sweep stalls readers of
// the other shards; a shard's map is rebuilt when a sweep leaves it at a
// quarter of its peak size, so memory returns after a mass expiry.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/tracklist"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// DefaultSweepInterval is how often a Store drops ended revocations and
// sessions by default.
const DefaultSweepInterval = time.Minute

// Store is an in-memory versioning.Store. It is safe for concurrent use.
type Store struct {
	now    func() time.Time
	closed atomic.Bool
	global atomic.Uint64
	users  *usertable.Table // revocation untils in unix nanoseconds

	sweepEvery time.Duration
	timerMu    sync.Mutex
	timer      *time.Timer

	// Live sessions per user (versioning.SessionTracker).
	mu               sync.RWMutex
	sessions         map[string][]versioning.SessionInfo
	nsessions        int
	nextSessionSweep int
	sessionsPeak     int // largest len(sessions) since the map was made
}

// Options configures a Store. A nil *Options, like the zero value, means
// every default.
type Options struct {
	// Now is the clock used to expire revocations and sessions. Default
	// time.Now.
	Now func() time.Time
	// SweepInterval is how often ended revocations and sessions are
	// dropped in the background. Default DefaultSweepInterval (1 minute);
	// negative turns the background sweep off (reads and writes still
	// prune what they meet, and Sweep still works).
	SweepInterval time.Duration
}

// New returns an empty Store. Unless opts turn it off, a timer sweeps it
// until Close.
func New(opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	s := &Store{
		now:        o.Now,
		users:      usertable.New(),
		sweepEvery: o.SweepInterval,

		sessions:         make(map[string][]versioning.SessionInfo),
		nextSessionSweep: minSweep,
	}
	if s.sweepEvery > 0 {
		s.timerMu.Lock()
		s.timer = time.AfterFunc(s.sweepEvery, s.tick)
		s.timerMu.Unlock()
	}
	return s
}

// minSweep is the session count below which no amortised session sweep
// runs.
const minSweep = 1024

func (s *Store) tick() {
	if s.closed.Load() {
		return
	}
	s.Sweep()
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if !s.closed.Load() {
		s.timer.Reset(s.sweepEvery)
	}
}

var _ versioning.Store = (*Store)(nil)

var errClosed = fmt.Errorf("memstore: %w (%w)", versioning.ErrClosed, versioning.ErrStoreUnavailable)

func (s *Store) ready(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return &ctxError{err}
	}
	return nil
}

// ctxError is a cancelled or expired context; it matches both the context
// error and ErrStoreUnavailable.
type ctxError struct{ err error }

func (e *ctxError) Error() string        { return "memstore: " + e.err.Error() }
func (e *ctxError) Unwrap() error        { return e.err }
func (e *ctxError) Is(target error) bool { return target == versioning.ErrStoreUnavailable }

// Epoch returns the user's counter plus the global counter; 0 plus the
// global counter for an unknown user.
func (s *Store) Epoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	return versioning.EffectiveEpoch(s.users.Get(userID).Epoch, s.global.Load())
}

// Lookup returns the user's effective epoch and whether id is revoked for
// that user; the zero state for userID "".
func (s *Store) Lookup(ctx context.Context, userID string, id codec.SessionID) (versioning.SessionState, error) {
	if err := s.ready(ctx); err != nil {
		return versioning.SessionState{}, err
	}
	if userID == "" {
		return versioning.SessionState{}, nil
	}
	u, revoked := s.users.Lookup(userID, id, s.nowNanos)
	e, err := versioning.EffectiveEpoch(u, s.global.Load())
	if err != nil {
		return versioning.SessionState{}, err
	}
	return versioning.SessionState{Epoch: e, Revoked: revoked}, nil
}

// nowNanos reads the store's clock, as Unix nanoseconds.
func (s *Store) nowNanos() int64 { return s.now().UnixNano() }

var errCounterMax = fmt.Errorf("memstore: counter at its maximum: %w", versioning.ErrEpochOverflow)

// BumpEpoch increments the user's counter and returns the new effective
// epoch.
func (s *Store) BumpEpoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	full := false
	u := s.users.Update(userID, func(u usertable.User) usertable.User {
		if u.Epoch == 1<<64-1 {
			full = true
			return u
		}
		u.Epoch++
		return u
	})
	if full {
		return 0, errCounterMax
	}
	return versioning.EffectiveEpoch(u.Epoch, s.global.Load())
}

// BumpGlobalEpoch increments the global counter.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	for {
		g := s.global.Load()
		if g == 1<<64-1 {
			return errCounterMax
		}
		if s.global.CompareAndSwap(g, g+1) {
			return nil
		}
	}
}

// Revoke records id of userID as revoked until the given time (the later
// of this and any earlier revocation of id). An until not after now, or
// userID "", records nothing.
func (s *Store) Revoke(ctx context.Context, userID string, id codec.SessionID, until time.Time) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now().UnixNano()
	u := until.UnixNano()
	if userID == "" || u <= now {
		return nil
	}
	s.users.Update(userID, func(usr usertable.User) usertable.User {
		n, _ := usr.WithRevocation(id, u, now)
		return n
	})
	return nil
}

// Sweep drops every ended revocation and tracked session now (one shard
// of users at a time) and returns how many revocations remain. The store
// sweeps by itself; Sweep is for tests and operators.
func (s *Store) Sweep() int {
	now := s.now()
	_, revs := s.users.Sweep(now.UnixNano(), nil)
	s.sweepSessions(now)
	return revs
}

// sweepChunk is how many users' session lists a sweep prunes per hold of
// the lock.
const sweepChunk = 256

// sweepSessions drops ended tracked sessions of every user, a chunk of
// users at a time: the user list is copied under the read lock, and the
// write lock is held for one chunk only.
func (s *Store) sweepSessions(now time.Time) {
	s.mu.RLock()
	users := make([]string, 0, len(s.sessions))
	for u := range s.sessions {
		users = append(users, u)
	}
	s.mu.RUnlock()
	for i := 0; i < len(users); i += sweepChunk {
		s.mu.Lock()
		for _, u := range users[i:min(i+sweepChunk, len(users))] {
			if list, ok := s.sessions[u]; ok {
				s.setSessionsLocked(u, tracklist.Live(list, now))
			}
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.nextSessionSweep = max(2*s.nsessions, minSweep)
	if len(s.sessions) < s.sessionsPeak/4 && s.sessionsPeak >= 1024 {
		m := make(map[string][]versioning.SessionInfo, len(s.sessions))
		for k, v := range s.sessions {
			m[k] = v
		}
		s.sessions = m
		s.sessionsPeak = len(m)
	}
	s.mu.Unlock()
}

// Len returns the number of users with state (an epoch or a revocation)
// and of revocation entries held, including ended ones not yet swept.
func (s *Store) Len() (users, revocations int) { return s.users.Len() }

// Close marks the store closed and stops its sweep timer; later calls fail
// with an error matching versioning.ErrClosed. Close always returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.timerMu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerMu.Unlock()
	return nil
}
