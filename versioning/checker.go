package versioning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

// Verdict is the outcome of Checker.Check.
type Verdict uint8

const (
	// Fresh: the session is current; nothing to re-issue.
	Fresh Verdict = iota
	// Renew: the session is current and its cookie should be re-issued with
	// an updated last-seen time (its idle deadline moves by more than the
	// renewal threshold).
	Renew
	// Rejected: the session is not current; the error says why.
	Rejected
)

// String returns "fresh", "renew" or "rejected".
func (v Verdict) String() string {
	switch v {
	case Fresh:
		return "fresh"
	case Renew:
		return "renew"
	case Rejected:
		return "rejected"
	}
	return "Verdict(" + itoa(uint64(v)) + ")"
}

// CheckerOptions configures a Checker's server state.
type CheckerOptions struct {
	// Store holds user epochs and revocations. Nil means none: no epoch or
	// revocation checks at all (forced logout and logout-replay protection
	// are then unavailable); only timeouts and versions are checked.
	Store Store
	// OnStoreError says what to do when Store fails. Default FailClosed.
	OnStoreError StoreFailurePolicy
	// MaxStale is the oldest cached answer ServeStale accepts; 0 means the
	// store's own bound. Ignored with FailClosed.
	MaxStale time.Duration
}

// Checker decides whether a session header is still current. It is safe
// for concurrent use.
type Checker struct {
	p        Policy
	now      func() time.Time
	store    Store
	stale    StaleReader // non-nil only with ServeStale and a store that has one
	onErr    StoreFailurePolicy
	maxStale time.Duration

	// The policy in milliseconds, the sealed timestamps' precision.
	idleMs, absMs, renewMs, skewMs int64
}

// NewChecker returns a Checker for p (zero fields take their defaults) and
// o. It fails with an error matching ErrInvalidPolicy if p or o is invalid.
func NewChecker(p Policy, o CheckerOptions) (*Checker, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if o.OnStoreError > ServeStale {
		return nil, fmt.Errorf("%w: unknown OnStoreError %d", ErrInvalidPolicy, o.OnStoreError)
	}
	if o.MaxStale < 0 {
		return nil, fmt.Errorf("%w: MaxStale must not be negative, got %v", ErrInvalidPolicy, o.MaxStale)
	}
	c := &Checker{
		p: p, now: p.Now, store: o.Store, onErr: o.OnStoreError, maxStale: o.MaxStale,
		idleMs:  p.IdleTimeout.Milliseconds(),
		absMs:   p.AbsoluteTimeout.Milliseconds(),
		renewMs: p.RenewThreshold.Milliseconds(),
		skewMs:  p.ClockSkew.Milliseconds(),
	}
	if o.OnStoreError == ServeStale {
		c.stale, _ = o.Store.(StaleReader)
	}
	return c, nil
}

// Policy returns the Checker's policy with defaults filled in.
func (c *Checker) Policy() Policy { return c.p }

// OnStoreError returns the Checker's store failure policy.
func (c *Checker) OnStoreError() StoreFailurePolicy { return c.onErr }

// Store returns the Checker's store (nil if none).
func (c *Checker) Store() Store { return c.store }

// Now returns the current time from the policy's clock.
func (c *Checker) Now() time.Time { return c.now() }

// AbsoluteDeadline returns when h's session ends however active it is:
// IssuedAt plus the absolute timeout.
func (c *Checker) AbsoluteDeadline(h *codec.Header) time.Time {
	return h.IssuedAt.Add(c.p.AbsoluteTimeout)
}

// IdleDeadline returns when h's session ends if unused: LastSeen plus the
// idle timeout, but never later than AbsoluteDeadline.
func (c *Checker) IdleDeadline(h *codec.Header) time.Time {
	idle := h.LastSeen.Add(c.p.IdleTimeout)
	if abs := c.AbsoluteDeadline(h); abs.Before(idle) {
		return abs
	}
	return idle
}

// RevocationDeadline returns until when a logout of h's session, at now,
// must keep its ID revoked (the until to give Store.Revoke): the earlier of
// the session's absolute deadline and now + idle timeout + clock skew.
//
// Why that is enough: every copy of the cookie that anyone may hold was
// issued no later than now, so its sealed last-seen is at most now plus the
// clock skew (another instance's clock may run ahead by that much, and
// Check refuses anything further in the future). Check refuses such a copy
// at its last-seen plus the idle timeout, and at its absolute deadline,
// whatever any store says. After RevocationDeadline no copy can pass Check,
// so the revocation would protect nothing. It is also never later than the
// absolute deadline, so revocations live at most min(idle, absolute) +
// skew: with the defaults 30.5 minutes instead of 24 hours.
func (c *Checker) RevocationDeadline(h *codec.Header, now time.Time) time.Time {
	d := now.Add(c.p.IdleTimeout + c.p.ClockSkew)
	if abs := c.AbsoluteDeadline(h); abs.Before(d) {
		return abs
	}
	return d
}

// Check decides whether the session described by h is current, in this
// order: payload version; issued-at and last-seen no further in the future
// than the clock skew; absolute timeout; idle timeout; then, with a Store
// and for an authenticated session only (h.UserID != ""), one
// Store.Lookup: revocation of h.ID for that user, and the user epoch
// (h.UserEpoch must equal the store's effective epoch: a lower one was
// logged out by a bump; a higher one means the store lost increments and
// can no longer vouch for the session). Anonymous sessions never reach the
// store: they are never revoked and have no epoch.
//
// It returns Fresh or Renew with a nil error, or Rejected with an error
// matching one of ErrUnsupportedVersion, ErrIssuedInFuture,
// ErrAbsoluteExpired, ErrIdleExpired, ErrRevoked ([*RevokedError]),
// ErrEpochBumped ([*EpochError]) or ErrStoreUnavailable ([*StoreError]).
// Renew means the idle deadline would move by more than the policy's
// RenewThreshold if the session were re-issued now, or would reach the
// absolute deadline (so that an active session lasts until then).
//
// Check does not allocate unless it rejects. It reads the policy's clock
// once; a caller that already has the time uses CheckAt.
func (c *Checker) Check(ctx context.Context, h *codec.Header) (Verdict, error) {
	return c.CheckAt(ctx, h, c.now())
}

// CheckAt is Check at the given time instead of the policy's clock. The
// HTTP layer uses it to read the clock once per request.
func (c *Checker) CheckAt(ctx context.Context, h *codec.Header, now time.Time) (Verdict, error) {
	if h.Version != codec.Version {
		return Rejected, &codec.VersionError{Version: h.Version}
	}
	// Sealed timestamps have millisecond precision: compare integers.
	// The future check comes first, so the additions below cannot overflow.
	nowMs := now.UnixMilli()
	issued, seen := h.IssuedAt.UnixMilli(), h.LastSeen.UnixMilli()
	limit := nowMs + c.skewMs
	if issued > limit || seen > limit {
		return Rejected, ErrIssuedInFuture
	}
	abs := issued + c.absMs
	if nowMs >= abs {
		return Rejected, ErrAbsoluteExpired
	}
	idle := seen + c.idleMs
	if nowMs >= idle {
		return Rejected, ErrIdleExpired
	}
	if c.store != nil {
		if v, err := c.checkStore(ctx, h); err != nil {
			return v, err
		}
	}
	// Renew when the (absolute-capped) idle deadline would move by more
	// than the threshold, or would reach the absolute deadline it has not
	// reached yet: otherwise a busy session could idle out up to the
	// threshold before its absolute deadline. The second case happens at
	// most once per session.
	next := min(nowMs+c.idleMs, abs)
	cur := min(idle, abs)
	if next-cur > c.renewMs || (next == abs && cur < abs) {
		return Renew, nil
	}
	return Fresh, nil
}

func (c *Checker) checkStore(ctx context.Context, h *codec.Header) (Verdict, error) {
	if h.UserID == "" {
		// Anonymous sessions carry no privilege: they are never revoked
		// and have no epoch, so the store is not consulted at all.
		return Fresh, nil
	}
	st, err := c.store.Lookup(ctx, h.UserID, h.ID)
	if err != nil {
		// A counter out of range is corrupt or forged state: never
		// answered from a cache.
		if c.stale == nil || errors.Is(err, ErrEpochOverflow) {
			return Rejected, &StoreError{Op: "lookup", Err: err}
		}
		st, err = c.stale.LookupStale(ctx, h.UserID, h.ID, c.maxStale)
		if err != nil {
			return Rejected, &StoreError{Op: "lookup", Err: err}
		}
	}
	if st.Revoked {
		return Rejected, &RevokedError{ID: h.ID, UserID: h.UserID}
	}
	if h.UserEpoch != st.Epoch {
		return Rejected, &EpochError{UserID: h.UserID, Have: h.UserEpoch, Current: st.Epoch}
	}
	return Fresh, nil
}
