package versioning

import (
	"fmt"
	"time"
)

// Policy defaults and bounds.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 24 * time.Hour
	DefaultRenewThreshold  = time.Minute
	DefaultClockSkew       = 30 * time.Second
	// MaxClockSkew is the largest ClockSkew Validate accepts.
	MaxClockSkew = 5 * time.Minute
)

// Policy says how long a session stays current. The zero value of each
// field means its default; WithDefaults fills them in. Sealed timestamps
// have millisecond precision, and so do the durations as the Checker uses
// them (truncated); timeouts below a millisecond are refused. A Policy is a value:
// copy it freely, and do not change one in use by a Checker.
type Policy struct {
	// IdleTimeout ends a session not used for this long (measured from the
	// sealed last-seen time). Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it was issued, however
	// active. Default 24 hours. It must not be shorter than IdleTimeout
	// (the idle timeout would never apply; Validate refuses it).
	AbsoluteTimeout time.Duration
	// RenewThreshold: a valid session is re-issued (Renew) only when that
	// would move its idle deadline by more than this, so a busy client does
	// not get a new cookie on every response. Default: the smaller of 1
	// minute and a quarter of IdleTimeout; it must be below IdleTimeout.
	RenewThreshold time.Duration
	// ClockSkew is how far in the future a sealed issued-at or last-seen
	// time may be (another instance's clock running ahead). Default 30
	// seconds, at most MaxClockSkew (5 minutes).
	ClockSkew time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// WithDefaults returns p with every zero field replaced by its default.
// Negative values are kept, so that Validate reports them.
func (p Policy) WithDefaults() Policy {
	if p.IdleTimeout == 0 {
		p.IdleTimeout = DefaultIdleTimeout
	}
	if p.AbsoluteTimeout == 0 {
		p.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if p.RenewThreshold == 0 {
		// Short idle timeouts (tests, kiosks) renew at a quarter of the
		// idle timeout rather than the usual minute.
		p.RenewThreshold = DefaultRenewThreshold
		if p.IdleTimeout > 0 {
			p.RenewThreshold = min(DefaultRenewThreshold, p.IdleTimeout/4)
		}
	}
	if p.ClockSkew == 0 {
		p.ClockSkew = DefaultClockSkew
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

// Validate reports whether p, as given (call WithDefaults first to fill in
// zero fields), is usable: both timeouts at least a millisecond, RenewThreshold positive
// and below IdleTimeout, ClockSkew positive and at most MaxClockSkew. The
// error matches ErrInvalidPolicy and names the field.
func (p Policy) Validate() error {
	switch {
	case p.IdleTimeout < time.Millisecond:
		return fmt.Errorf("%w: IdleTimeout must be at least 1ms, got %v", ErrInvalidPolicy, p.IdleTimeout)
	case p.AbsoluteTimeout < time.Millisecond:
		return fmt.Errorf("%w: AbsoluteTimeout must be at least 1ms, got %v", ErrInvalidPolicy, p.AbsoluteTimeout)
	case p.IdleTimeout > p.AbsoluteTimeout:
		return fmt.Errorf("%w: IdleTimeout (%v) is longer than AbsoluteTimeout (%v): the idle timeout would never apply", ErrInvalidPolicy, p.IdleTimeout, p.AbsoluteTimeout)
	case p.RenewThreshold <= 0:
		return fmt.Errorf("%w: RenewThreshold must be positive, got %v", ErrInvalidPolicy, p.RenewThreshold)
	case p.RenewThreshold >= p.IdleTimeout:
		return fmt.Errorf("%w: RenewThreshold (%v) must be below IdleTimeout (%v)", ErrInvalidPolicy, p.RenewThreshold, p.IdleTimeout)
	case p.ClockSkew <= 0:
		return fmt.Errorf("%w: ClockSkew must be positive, got %v", ErrInvalidPolicy, p.ClockSkew)
	case p.ClockSkew > MaxClockSkew:
		return fmt.Errorf("%w: ClockSkew %v is above the maximum %v", ErrInvalidPolicy, p.ClockSkew, MaxClockSkew)
	case p.Now == nil:
		return fmt.Errorf("%w: Now is nil", ErrInvalidPolicy)
	}
	return nil
}
