// Package otelsession records the session events of an [httpx.Manager]
// with OpenTelemetry: as metrics, through the OTel metric API, and as
// events and attributes on the request's span.
//
// It lives in its own Go module,
// github.com/sealedsession/sealedsession/metrics/otel, so that the
// library's own go.mod never requires OpenTelemetry: only programs that
// import this package pay for it. The package is named otelsession so that
// it does not shadow go.opentelemetry.io/otel in the files that use both.
//
// An [*Observer] is an [httpx.Observer] and an [httpx.OverheadObserver]:
//
//	obs, err := otelsession.New(otelsession.Options{}) // the global MeterProvider
//	...
//	mgr, err := httpx.New(httpx.Config{Keys: keys, Observer: obs})
//	...
//	http.Handle("/", otelhttp.NewHandler(mgr.Wrap(app), "app"))
//
// # Metrics
//
// One Int64Counter per event kind, named "sealedsession.sessions." and the
// kind's name ([httpx.EventKind.String]): sealedsession.sessions.created,
// .renewed, .regenerated, .destroyed, .rejected, .resealed, .migrated and
// .anomaly. Events with a reason (rejections and anomalies) carry the
// attribute sealedsession.reason, one of the labels of
// [httpx.ReasonLabel] ("auth_failed", "idle_expired", "revoked", ...). The
// histogram sealedsession.middleware.overhead (seconds) records the time
// the middleware itself took per request, not counting the wrapped
// handler. Options.Attributes are added to every measurement.
//
// # Spans
//
// When the request's context carries a recording span (an otelhttp
// handler, or any middleware that starts a span, wraps the Manager), each
// event is added to it as a span event named "sealedsession.session." and
// the kind's name, at the event's time, with the attributes
// sealedsession.session.tag (the session ID's short non-reversible tag,
// see codec.SessionID.Tag), sealedsession.session.authenticated and, for
// rejections and anomalies, sealedsession.reason. The span itself gets
// sealedsession.session.tag (the session in use after the request) and
// sealedsession.session.<kind>.reason for a rejection or an anomaly.
//
// Nothing recorded carries a session ID, a key, a user ID or an error's
// text: only the tag, the reason label and the kind. Options.OmitSessionTag
// leaves the tag out too.
//
// # Cost
//
// Observe runs on the request's goroutine. The instruments and their
// attribute sets are resolved in New (reasons on first use), so an event
// costs a counter add, plus a span event when a span is recording; a
// rejection or anomaly also classifies its reason with [httpx.ReasonLabel].
package otelsession
