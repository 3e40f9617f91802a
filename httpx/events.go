package httpx

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

// EventKind says what happened to a session.
type EventKind uint8

// The kinds of event a Manager reports to its Observer.
const (
	// EventCreated: a new session was written for the first time.
	EventCreated EventKind = iota + 1
	// EventRenewed: a current session was re-issued to move its idle deadline.
	EventRenewed
	// EventRegenerated: the session got a new ID (login, Regenerate).
	EventRegenerated
	// EventDestroyed: the session was logged out and its cookies cleared.
	EventDestroyed
	// EventRejected: a session presented by the client was refused; Reason says why.
	EventRejected
	// EventResealed: a session opened with a non-primary key was re-sealed with the primary.
	EventResealed
	// EventMigrated: a legacy (gorilla/sessions) cookie was read and re-issued in the current format.
	EventMigrated
	// EventAnomaly: something about the request looks wrong (see Reason).
	EventAnomaly
	// EventSaveFailed: a change to the session could not reach the
	// client; Reason says why (ErrTooLarge, ErrResponseStarted, a store
	// failure). The handler got the error too, or, for a failure at the
	// end of the request, the ErrorHandler answered instead.
	EventSaveFailed
)

var kindNames = [...]string{
	EventCreated:     "created",
	EventRenewed:     "renewed",
	EventRegenerated: "regenerated",
	EventDestroyed:   "destroyed",
	EventRejected:    "rejected",
	EventResealed:    "resealed",
	EventMigrated:    "migrated",
	EventAnomaly:     "anomaly",
	EventSaveFailed:  "save_failed",
}

// String returns the kind's lowercase name, e.g. "rejected".
func (k EventKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one thing that happened to a session. Session IDs appear only as
// their short non-reversible tag.
type Event struct {
	Kind EventKind
	// Reason is why a session was rejected (EventRejected) or what looked
	// wrong (EventAnomaly); nil otherwise. Test it with errors.Is against
	// the sentinels of sealed, codec, versioning and this package, or use
	// ReasonLabel for a short stable label.
	Reason error
	// SessionTag is the tag of the session ID concerned (see codec.SessionID.Tag).
	SessionTag string
	// UserID is the session's user, "" for anonymous sessions.
	UserID string
	// Time is when it happened, by the Manager's clock.
	Time time.Time
}

// Observer receives a Manager's events. Observe is called synchronously
// on the request's goroutine, so it must be quick and safe for concurrent
// use; it must not keep ctx.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// OverheadObserver is an optional Observer ability, found by type
// assertion when the Manager is created: ObserveOverhead is called once per
// request with the time the middleware itself took (reading and checking
// the session before the handler, and sealing it before the response),
// not counting the handler. Metrics adapters use it for a latency
// histogram. It must be quick and safe for concurrent use.
type OverheadObserver interface {
	ObserveOverhead(d time.Duration)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// ReasonLabel returns a short, stable, lowercase label for a rejection or
// anomaly reason, suitable for log fields and metric labels: one of
// "malformed", "auth_failed", "unknown_key", "too_large", "chunks",
// "idle_expired", "absolute_expired", "issued_in_future", "epoch_bumped",
// "revoked", "unsupported_version", "store_unavailable", "legacy_invalid",
// "client_changed", "simultaneous_use", "response_started", or "other". It
// returns "" for a nil error.
func ReasonLabel(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, sealed.ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, sealed.ErrAuthFailed):
		return "auth_failed"
	case errors.Is(err, ErrResponseStarted):
		return "response_started"
	case errors.Is(err, ErrOversizedCookie), errors.Is(err, sealed.ErrTooLarge), errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrChunks):
		return "chunks"
	case errors.Is(err, versioning.ErrIdleExpired):
		return "idle_expired"
	case errors.Is(err, versioning.ErrAbsoluteExpired):
		return "absolute_expired"
	case errors.Is(err, versioning.ErrIssuedInFuture):
		return "issued_in_future"
	case errors.Is(err, versioning.ErrEpochBumped):
		return "epoch_bumped"
	case errors.Is(err, versioning.ErrRevoked):
		return "revoked"
	case errors.Is(err, codec.ErrUnsupportedVersion): // versioning's is the same sentinel
		return "unsupported_version"
	case errors.Is(err, versioning.ErrStoreUnavailable):
		return "store_unavailable"
	case errors.Is(err, ErrLegacyRejected):
		return "legacy_invalid"
	case errors.Is(err, ErrClientChanged):
		return "client_changed"
	case errors.Is(err, ErrSimultaneousUse):
		return "simultaneous_use"
	case errors.Is(err, sealed.ErrMalformed), errors.Is(err, codec.ErrMalformed),
		errors.Is(err, codec.ErrTooLarge), errors.Is(err, codec.ErrLimit):
		return "malformed"
	}
	return "other"
}

// NewSlogObserver returns an Observer that logs each event to l (nil
// means slog.Default()): failed saves, anomalies and store outages at
// Warn, other rejections at Debug (a bad cookie is routine on the
// internet), everything else at Info.
func NewSlogObserver(l *slog.Logger) Observer {
	if l == nil {
		l = slog.Default()
	}
	return slogObserver{l}
}

type slogObserver struct{ l *slog.Logger }

func (o slogObserver) Observe(ctx context.Context, e Event) {
	level := slog.LevelInfo
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs, slog.String("event", e.Kind.String()), slog.String("session", e.SessionTag))
	if e.UserID != "" {
		attrs = append(attrs, slog.String("user", e.UserID))
	}
	if e.Reason != nil {
		attrs = append(attrs, slog.String("reason", ReasonLabel(e.Reason)))
		level = slog.LevelDebug
		if e.Kind == EventAnomaly || e.Kind == EventSaveFailed || errors.Is(e.Reason, versioning.ErrStoreUnavailable) {
			level = slog.LevelWarn
		}
	}
	o.l.LogAttrs(ctx, level, "session", attrs...)
}
