package versioning

import (
	"context"
	"errors"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

// ErrTooManySessions is returned by SessionTracker.AddSession when the
// user already has the maximum number of sessions and the limit is
// configured to refuse new logins rather than evict the oldest.
var ErrTooManySessions = errors.New("versioning: too many concurrent sessions for this user")

// SessionInfo describes one live session of a user, as a SessionTracker
// keeps it.
type SessionInfo struct {
	// ID is the session ID.
	ID codec.SessionID
	// Created is when the session was issued (login).
	Created time.Time
	// LastSeen is the last renewal the tracker was told of.
	LastSeen time.Time
	// Expires is when the session ends at the latest (its absolute
	// deadline); the entry disappears by itself then.
	Expires time.Time
	// Network is the client's network as a coarse prefix in CIDR notation
	// (a /24 for IPv4, a /48 for IPv6), or "" if unknown.
	Network string
	// Client describes the client, for display only. httpx stores the
	// request's User-Agent header as the client sent it, unparsed (for
	// example "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101
	// Firefox/128.0"), cut to its first 120 bytes; the network is in
	// Network. Stores keep at most 128 bytes.
	Client string
	// Epoch is the user's effective epoch when the session logged in. A
	// session whose Epoch is below the user's current epoch is dead (a
	// ForceLogout or LogoutAll came after it) and must not hold a slot.
	Epoch uint64
}

// SessionTracker is an optional Store ability, found by type assertion:
// it keeps the list of each user's live sessions, so an application can
// show them, revoke one ("log out that device"), and cap how many a user
// may have at once.
//
// Entries expire by themselves at SessionInfo.Expires. As with Store, an
// error means a system failure and matches ErrStoreUnavailable, except
// ErrTooManySessions from AddSession.
type SessionTracker interface {
	// AddSession records a new session of userID. When limit > 0 and the
	// user already has limit or more live sessions: with evictOldest, the
	// oldest (by Created) are removed so that the new one fits, and
	// returned so the caller can revoke them; without it, nothing changes
	// and the error is ErrTooManySessions. The check and the change are
	// one atomic step, also across instances sharing the store.
	AddSession(ctx context.Context, userID string, info SessionInfo, limit int, evictOldest bool) (evicted []SessionInfo, err error)

	// TouchSession updates the LastSeen of a tracked session. Touching a
	// session that is not tracked (expired, removed) does nothing.
	TouchSession(ctx context.Context, userID string, id codec.SessionID, lastSeen time.Time) error

	// RemoveSession forgets one session of userID. Removing an unknown
	// session does nothing.
	RemoveSession(ctx context.Context, userID string, id codec.SessionID) error

	// Sessions returns userID's live sessions, oldest first. A user with
	// none gives an empty slice and a nil error.
	Sessions(ctx context.Context, userID string) ([]SessionInfo, error)
}
