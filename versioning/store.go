package versioning

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

// Store holds the little server state sealed sessions need, kept per user:
// each user's epoch and that user's revoked session IDs, plus one global
// epoch. Nothing is kept for anonymous sessions (user ID ""): they carry no
// privilege, so revoking one protects nothing, and a store that accepted
// such revocations would let any unauthenticated client grow it.
//
// Every method honours its context. A non-nil error always means a system
// failure (store down, closed, cancelled context, unwritable file, corrupt
// value) and must match ErrStoreUnavailable with errors.Is; "not found" is
// never an error. Implementations must be safe for concurrent use.
//
// State is per user so that a store can keep, fetch, cache and invalidate
// one user's epoch and revocations together: a request of an authenticated
// session needs exactly one per-user answer (Lookup), which a distributed
// store can serve from a bounded per-user cache, or with one round trip.
type Store interface {
	// Epoch returns the user's effective epoch: the user's own counter plus
	// the global counter. A user the store has never seen has a counter of
	// 0, so Epoch returns just the global counter and a nil error. A sum
	// that does not fit a uint64 gives an error matching ErrEpochOverflow
	// (and ErrStoreUnavailable).
	Epoch(ctx context.Context, userID string) (uint64, error)

	// BumpEpoch increments the user's counter by one (forced logout of every
	// session of that user) and returns the new effective epoch. It must be
	// durable for durable stores before it returns, and atomic: n concurrent
	// bumps raise the counter by exactly n. A counter never moves backwards
	// and never wraps (an increment past the largest value fails).
	BumpEpoch(ctx context.Context, userID string) (uint64, error)

	// BumpGlobalEpoch increments the global counter by one, which raises
	// every user's effective epoch: every authenticated session is logged
	// out. Anonymous sessions are unaffected.
	BumpGlobalEpoch(ctx context.Context) error

	// Revoke records session id of userID as revoked until the given time
	// (see Checker.RevocationDeadline for the time to give). The entry
	// expires by itself at until; an until in the past records nothing.
	// Revoking an already revoked ID keeps the later of the two times. An
	// anonymous session (userID "") is never revoked: Revoke records
	// nothing and returns nil.
	Revoke(ctx context.Context, userID string, id codec.SessionID, until time.Time) error

	// Lookup returns, in one read, what the Checker needs about session id
	// of userID: the user's effective epoch (as Epoch) and whether id is
	// revoked for that user now. An ID never revoked, or whose revocation
	// has expired, is not revoked. For userID "" it returns the zero
	// SessionState without consulting anything.
	Lookup(ctx context.Context, userID string, id codec.SessionID) (SessionState, error)

	// Close releases the store's resources. Calls after Close return an
	// error matching ErrClosed and ErrStoreUnavailable. Close is idempotent.
	Close() error
}

// SessionState is a Store's answer about one session of a user.
type SessionState struct {
	// Epoch is the user's effective epoch (own counter plus global).
	Epoch uint64
	// Revoked reports that the session ID is revoked for that user.
	Revoked bool
}

// StaleReader is an optional Store ability, found by type assertion, used
// by a Checker configured with ServeStale when a regular read fails. A
// store with a local cache (Redis) answers from that cache if its entry is
// no older than maxAge; maxAge <= 0 means the store's own configured bound.
// With no fresh-enough cached answer it returns an error matching
// ErrStoreUnavailable.
type StaleReader interface {
	// LookupStale is Lookup served from the local cache.
	LookupStale(ctx context.Context, userID string, id codec.SessionID, maxAge time.Duration) (SessionState, error)
}

// EffectiveEpoch returns user + global, the effective epoch of a user, or
// an *EpochOverflowError if the sum does not fit a uint64. Stores use it so
// that corrupt or forged counters can never wrap around to the epoch of a
// logged-out session.
func EffectiveEpoch(user, global uint64) (uint64, error) {
	if user > math.MaxUint64-global {
		return 0, &EpochOverflowError{User: user, Global: global}
	}
	return user + global, nil
}

// ErrEpochOverflow means a user's effective epoch (own counter plus the
// global counter) does not fit a uint64, or a counter read from a store is
// out of the range the store can produce. Only corrupt or forged store
// contents lead there; the session is refused. Errors matching it also
// match ErrStoreUnavailable.
var ErrEpochOverflow = errors.New("versioning: epoch out of range")

// EpochOverflowError is the error of EffectiveEpoch. It matches
// ErrEpochOverflow and ErrStoreUnavailable.
type EpochOverflowError struct {
	User, Global uint64 // the counters
}

// Error describes the failure.
func (e *EpochOverflowError) Error() string {
	return "versioning: epoch out of range (user " + strconv.FormatUint(e.User, 10) +
		" + global " + strconv.FormatUint(e.Global, 10) + ")"
}

// Is reports whether target is ErrEpochOverflow or ErrStoreUnavailable.
func (e *EpochOverflowError) Is(target error) bool {
	return target == ErrEpochOverflow || target == ErrStoreUnavailable
}

// StoreFailurePolicy says what a Checker does when its Store fails.
type StoreFailurePolicy uint8

const (
	// FailClosed rejects the session with an error matching
	// ErrStoreUnavailable. It is the default.
	FailClosed StoreFailurePolicy = iota
	// ServeStale answers from the store's local cache (see StaleReader) if
	// it is no older than the allowed staleness, and fails closed
	// otherwise or if the store has no cache.
	ServeStale
)

// String returns "fail-closed" or "serve-stale".
func (f StoreFailurePolicy) String() string {
	switch f {
	case FailClosed:
		return "fail-closed"
	case ServeStale:
		return "serve-stale"
	}
	return "StoreFailurePolicy(" + itoa(uint64(f)) + ")"
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
