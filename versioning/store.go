package versioning

import (
	"context"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

// Store holds the little server state sealed sessions need: one epoch per
// user, one global epoch, and a self-expiring list of revoked session IDs.
//
// Every method honours its context. A non-nil error always means a system
// failure (store down, closed, cancelled context, unwritable file) and must
// match ErrStoreUnavailable with errors.Is; "not found" is never an error.
// Implementations must be safe for concurrent use.
//
// The empty user ID is not special to a Store; the Checker never asks
// about it (anonymous sessions have no epoch).
type Store interface {
	// Epoch returns the user's effective epoch: the user's own counter plus
	// the global counter. A user the store has never seen has a counter of
	// 0, so Epoch returns just the global counter and a nil error.
	Epoch(ctx context.Context, userID string) (uint64, error)

	// BumpEpoch increments the user's counter by one (forced logout of every
	// session of that user) and returns the new effective epoch. It must be
	// durable for durable stores before it returns, and atomic: n concurrent
	// bumps raise the counter by exactly n.
	BumpEpoch(ctx context.Context, userID string) (uint64, error)

	// BumpGlobalEpoch increments the global counter by one, which raises
	// every user's effective epoch: every authenticated session is logged
	// out. Anonymous sessions are unaffected.
	BumpGlobalEpoch(ctx context.Context) error

	// Revoke records id as revoked until the given time, normally the
	// moment the session would have expired anyway. The entry expires by
	// itself at until; an until in the past records nothing. Revoking an
	// already revoked ID keeps the later of the two times.
	Revoke(ctx context.Context, id codec.SessionID, until time.Time) error

	// IsRevoked reports whether id is revoked now. An ID never revoked, or
	// whose revocation has expired, gives false and a nil error.
	IsRevoked(ctx context.Context, id codec.SessionID) (bool, error)

	// Close releases the store's resources. Calls after Close return an
	// error matching ErrClosed and ErrStoreUnavailable. Close is idempotent.
	Close() error
}

// StaleReader is an optional Store ability, found by type assertion, used
// by a Checker configured with ServeStale when a regular read fails. A
// store with a local cache (Redis) answers from that cache if its entry is
// no older than maxAge; maxAge <= 0 means the store's own configured bound.
// With no fresh-enough cached answer it returns an error matching
// ErrStoreUnavailable.
type StaleReader interface {
	// EpochStale is Epoch served from the local cache.
	EpochStale(ctx context.Context, userID string, maxAge time.Duration) (uint64, error)
	// IsRevokedStale is IsRevoked served from the local cache.
	IsRevokedStale(ctx context.Context, id codec.SessionID, maxAge time.Duration) (bool, error)
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
