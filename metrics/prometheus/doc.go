// Package promsession exports the session events of an [httpx.Manager] as
// Prometheus metrics, through github.com/prometheus/client_golang.
//
// It lives in its own Go module,
// github.com/sealedsession/sealedsession/metrics/prometheus, so that the
// library's own go.mod never requires Prometheus: only programs that import
// this package pay for it. The package is named promsession so that it does
// not shadow client_golang's package prometheus in the files that use both.
//
// A [*Metrics] is an [httpx.Observer] and an [httpx.OverheadObserver]: set it
// as httpx.Config.Observer (or combine it with a logging observer through
// [Chain]) and serve [Metrics.Handler] on an internal port:
//
//	metrics, err := promsession.New(promsession.Options{})
//	...
//	mgr, err := httpx.New(httpx.Config{Keys: keys, Observer: metrics})
//	...
//	http.Handle("/", mgr.Wrap(app))
//	http.Handle("/metrics", metrics.Handler())
//
// # Metrics
//
// With the default namespace "sealedsession":
//
//   - sealedsession_sessions_created_total, _renewed_total,
//     _regenerated_total, _destroyed_total, _resealed_total and
//     _migrated_total count the events of the same names (see
//     [httpx.EventKind]).
//   - sealedsession_sessions_rejected_total{reason} counts sessions a client
//     presented and the middleware refused, labelled by
//     [httpx.ReasonLabel] ("auth_failed", "idle_expired", "revoked", ...).
//   - sealedsession_session_anomalies_total{reason} counts anomaly events,
//     labelled the same way.
//   - sealedsession_store_errors_total counts events whose reason is
//     [versioning.ErrStoreUnavailable]: the epoch and revocation store did
//     not answer while a session was being checked. A store failure while a
//     session is being saved (Login, Logout) is not an event; it goes to
//     httpx.Config.ErrorHandler, which an application may count itself.
//   - sealedsession_middleware_overhead_seconds is a histogram of the time
//     the middleware itself spent on each request (opening and checking the
//     session, sealing it into the response), not counting the wrapped
//     handler. Its count is the number of requests served. The default
//     buckets ([DefaultBuckets]) run from 5µs to 100ms.
//
// Every reason label [httpx.ReasonLabel] documents starts at zero, so rates
// and alerts work before the first rejection. No label carries a session
// tag or user ID: their number is unbounded, and they belong in logs.
//
// # Cost
//
// Observe and ObserveOverhead run on the request's goroutine. They update
// series resolved once in New (atomic adds, no locks) and allocate
// nothing; a rejection or anomaly also classifies its reason with
// [httpx.ReasonLabel], a chain of errors.Is tests. BenchmarkObserve
// measures each case.
package promsession
