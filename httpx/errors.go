package httpx

import (
	"errors"
	"fmt"
)

// Errors returned or reported by this package. Use errors.Is to test for
// them. Rejection reasons from the lower layers (sealed, codec,
// versioning) are reported as they are, so errors.Is works with their
// sentinels too.
var (
	// ErrConfig means New was given a configuration it refuses.
	ErrConfig = errors.New("httpx: invalid configuration")
	// ErrTooLarge means the session does not fit the cookie budget. The
	// error is a *SizeError with the sizes.
	ErrTooLarge = errors.New("httpx: session too large for the cookie budget")
	// ErrChunks means the request carried a chunk set that cannot be
	// joined: a duplicated chunk name, a gap, or more chunks than allowed.
	ErrChunks = errors.New("httpx: bad session cookie chunks")
	// ErrOversizedCookie means the session cookie(s) in the request are
	// longer than the configured budget allows; they are refused unread.
	ErrOversizedCookie = errors.New("httpx: session cookie over the size budget")
	// ErrResponseAborted is returned by Write on a response whose session
	// could not be saved: the ErrorHandler has already answered.
	ErrResponseAborted = errors.New("httpx: response aborted: the session could not be saved")
	// ErrLegacyRejected is the rejection reason when a legacy cookie
	// (Config.Legacy) could not be read; the reader's own error is wrapped.
	ErrLegacyRejected = errors.New("httpx: legacy session cookie refused")
	// ErrNoStore is returned when an operation needs a store and none
	// was configured.
	ErrNoStore = errors.New("httpx: no store configured")
)

// SizeError reports a session that would not fit the cookie budget. It
// matches ErrTooLarge with errors.Is.
type SizeError struct {
	// Size is the number of bytes the session's cookies would take in the
	// Cookie request header.
	Size int
	// Budget is the configured maximum (Config.MaxTotalCookieBytes).
	Budget int
	// Chunks is the number of cookies it would need; MaxChunks the limit.
	Chunks, MaxChunks int
}

// Error describes the failure; it never contains key material.
func (e *SizeError) Error() string {
	return fmt.Sprintf("httpx: session needs %d bytes in %d cookie(s), over the budget of %d bytes in at most %d cookies",
		e.Size, e.Chunks, e.Budget, e.MaxChunks)
}

// Is reports whether target is ErrTooLarge.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// ErrClientChanged is the anomaly reason when a session is presented by a
// client whose coarse binding (IP prefix or User-Agent) differs from the one
// that logged in.
var ErrClientChanged = errors.New("httpx: session presented by a different client")

// ErrSimultaneousUse is the anomaly reason when a user logs in from one
// network while another of their sessions was active from a distant one
// within Config.SimultaneousWindow.
var ErrSimultaneousUse = errors.New("httpx: simultaneous sessions from distant networks")

// ErrNoTracking means an operation needs session tracking
// (Config.TrackSessions) and it is off.
var ErrNoTracking = errors.New("httpx: session tracking is not enabled")
