package httpx

import (
	"errors"
	"fmt"

	"github.com/sealedsession/sealedsession/internal/wire"
)

// Errors returned or reported by this package. Use errors.Is to test for
// them. Rejection reasons from the lower layers (sealed, codec,
// versioning) are reported as they are, so errors.Is works with their
// sentinels too.
var (
	// ErrConfig means New was given a configuration it refuses.
	ErrConfig = errors.New("httpx: invalid configuration")
	// ErrTooLarge means the session does not fit the size budget. The
	// error is a *SizeError that says which limit and by how much.
	ErrTooLarge = errors.New("httpx: session too large for the size budget")
	// ErrChunks means the request carried a chunk set that cannot be
	// joined: a duplicated chunk name, a gap, or more chunks than allowed.
	ErrChunks = wire.ErrChunks
	// ErrOversizedCookie means the session cookie(s) or token in the
	// request are longer than any session this Manager writes; they are
	// refused unread.
	ErrOversizedCookie = wire.ErrOversized
	// ErrResponseStarted is returned by every call that would change a
	// session (Key.Set and Key.Delete on it, AddFlash, Login, Logout,
	// Regenerate) once the response has started: the change could no
	// longer reach the client, so it is not made at all.
	ErrResponseStarted = errors.New("httpx: session changed after the response started")
	// ErrResponseAborted is returned by Write on a response whose session
	// could not be saved: the ErrorHandler has already answered.
	ErrResponseAborted = errors.New("httpx: response aborted: the session could not be saved")
	// ErrLegacyRejected is the rejection reason when a legacy cookie
	// (Config.Legacy) could not be read; the reader's own error is wrapped.
	ErrLegacyRejected = errors.New("httpx: legacy session cookie refused")
	// ErrClientChanged is the anomaly reason when a session is presented by
	// a client whose coarse binding (IP prefix or User-Agent) differs from
	// the one that logged in.
	ErrClientChanged = errors.New("httpx: session presented by a different client")
	// ErrSimultaneousUse is the anomaly reason when a user logs in from one
	// network while another of their sessions was active from a distant
	// one within Tracking.SimultaneousWindow.
	ErrSimultaneousUse = errors.New("httpx: simultaneous sessions from distant networks")
	// ErrNoTracking means an operation needs session tracking
	// (Config.Tracking) and it is off.
	ErrNoTracking = errors.New("httpx: session tracking is not enabled")
	// ErrUnknownSession is returned by Manager.RevokeSession when the
	// session ID is not a live tracked session of that user.
	ErrUnknownSession = errors.New("httpx: no such session for this user")
)

// SizeLimit names the limit a session went over (SizeError.Limit).
type SizeLimit uint8

const (
	// LimitHeaderBytes is Cookie.MaxHeaderBytes: the response header lines
	// one save writes (Set-Cookie lines, or the Session-Token line).
	LimitHeaderBytes SizeLimit = iota + 1
	// LimitChunks is Cookie.MaxChunks: how many cookies a session may be
	// split into, each within MaxSetCookieLine.
	LimitChunks
)

// String returns the name of the setting, e.g. "Cookie.MaxHeaderBytes".
func (l SizeLimit) String() string {
	switch l {
	case LimitHeaderBytes:
		return "Cookie.MaxHeaderBytes"
	case LimitChunks:
		return "Cookie.MaxChunks"
	}
	return "SizeLimit(" + fmt.Sprint(uint8(l)) + ")"
}

// SizeError reports a session that would not fit the size budget. It
// matches ErrTooLarge with errors.Is.
type SizeError struct {
	// Limit is the limit that was hit.
	Limit SizeLimit
	// Size is what the session needs in that limit's unit (bytes for
	// LimitHeaderBytes, cookies for LimitChunks); Max is the limit.
	Size, Max int
	// HeaderBytes is how many bytes of response header lines the save
	// would write; CookieBytes how many the browser would send back in its
	// Cookie header; Chunks how many cookies it would take.
	HeaderBytes, CookieBytes, Chunks int
}

// Over returns by how much the session is over the limit.
func (e *SizeError) Over() int { return e.Size - e.Max }

// Error names the limit and says by how much it was exceeded; it never
// contains key material or session contents.
func (e *SizeError) Error() string {
	if e.Limit == LimitChunks {
		return fmt.Sprintf("httpx: session needs %d cookies, %d over %s (%d); %d bytes of response header lines",
			e.Size, e.Over(), e.Limit, e.Max, e.HeaderBytes)
	}
	return fmt.Sprintf("httpx: session needs %d bytes of response header lines, %d over %s (%d)",
		e.Size, e.Over(), e.Limit, e.Max)
}

// Is reports whether target is ErrTooLarge.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }
