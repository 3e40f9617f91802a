// Package memstore is an in-memory [versioning.Store] (and
// [versioning.SessionTracker]) for tests and single-process applications. Nothing survives a restart: after one,
// every epoch is 0 again (bumped sessions become valid again) and every
// revocation is forgotten. Use versioning/boltstore for a durable store on
// one machine and versioning/redisstore for many.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// minSweep is the revocation count below which no sweep runs.
const minSweep = 1024

// Store is an in-memory versioning.Store. It is safe for concurrent use.
// Reads take a shared lock only; revocations expire lazily on read and are
// swept, amortised, on write, so memory stays proportional to the live
// revocations.
type Store struct {
	now     func() time.Time
	closed  atomic.Bool
	nrevoke atomic.Int64 // len(revoked), read without the lock

	mu        sync.RWMutex
	epochs    map[string]uint64
	global    uint64
	revoked   map[codec.SessionID]int64 // until, Unix nanoseconds
	nextSweep int

	// Live sessions per user (versioning.SessionTracker).
	sessions         map[string][]versioning.SessionInfo
	nsessions        int
	nextSessionSweep int
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used to expire revocations (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{
		now:       time.Now,
		epochs:    make(map[string]uint64),
		revoked:   make(map[codec.SessionID]int64),
		nextSweep: minSweep,

		sessions:         make(map[string][]versioning.SessionInfo),
		nextSessionSweep: minSweep,
	}
	for _, o := range opts {
		o(s)
	}
	return s
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
	s.mu.RLock()
	e := s.epochs[userID] + s.global
	s.mu.RUnlock()
	return e, nil
}

// BumpEpoch increments the user's counter and returns the new effective
// epoch.
func (s *Store) BumpEpoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	n := s.epochs[userID] + 1
	s.epochs[userID] = n
	e := n + s.global
	s.mu.Unlock()
	return e, nil
}

// BumpGlobalEpoch increments the global counter.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.global++
	s.mu.Unlock()
	return nil
}

// Revoke records id as revoked until the given time (the later of this and
// any earlier revocation of id). An until not after now records nothing.
func (s *Store) Revoke(ctx context.Context, id codec.SessionID, until time.Time) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now().UnixNano()
	u := until.UnixNano()
	if u <= now {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.revoked[id]; !ok || old < u {
		s.revoked[id] = u
	}
	if len(s.revoked) >= s.nextSweep {
		s.sweepLocked(now)
	}
	s.nrevoke.Store(int64(len(s.revoked)))
	return nil
}

// sweepLocked deletes expired revocations and schedules the next sweep
// when the map has doubled, so sweeping costs amortised O(1) per Revoke.
func (s *Store) sweepLocked(now int64) {
	for id, u := range s.revoked {
		if u <= now {
			delete(s.revoked, id)
		}
	}
	s.nextSweep = max(2*len(s.revoked), minSweep)
}

// Sweep deletes every expired revocation now and returns how many remain.
// Stores sweep by themselves; Sweep is for tests and operators.
func (s *Store) Sweep() int {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.nrevoke.Store(int64(len(s.revoked)))
	return len(s.revoked)
}

// Len returns the number of revocation entries held, including expired
// ones not yet swept.
func (s *Store) Len() int { return int(s.nrevoke.Load()) }

// IsRevoked reports whether id is revoked and its revocation has not
// expired.
func (s *Store) IsRevoked(ctx context.Context, id codec.SessionID) (bool, error) {
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	if s.nrevoke.Load() == 0 {
		return false, nil
	}
	s.mu.RLock()
	u, ok := s.revoked[id]
	s.mu.RUnlock()
	if !ok {
		return false, nil
	}
	return s.now().UnixNano() < u, nil
}

// Close marks the store closed; later calls fail with an error matching
// versioning.ErrClosed. Close always returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
