package promsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// DefaultNamespace prefixes every metric name when Options.Namespace is
// empty.
const DefaultNamespace = "sealedsession"

// DefaultBuckets are the upper bounds, in seconds, of the
// middleware_overhead_seconds histogram when Options.Buckets is nil. The
// middleware's own work is a few microseconds with an in-memory store and
// grows to a network round trip with Redis, so the buckets run from 5µs to
// 100ms.
var DefaultBuckets = []float64{
	5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3,
}

// reasonLabels are the labels httpx.ReasonLabel documents. Their series
// exist from the start (at zero) and are resolved once, in New.
var reasonLabels = []string{
	"malformed", "auth_failed", "unknown_key", "too_large", "chunks",
	"idle_expired", "absolute_expired", "issued_in_future", "epoch_bumped",
	"revoked", "unsupported_version", "store_unavailable", "legacy_invalid",
	"client_changed", "simultaneous_use", "response_started", "other",
}

// Options configures New. The zero value is ready to use.
type Options struct {
	// Namespace prefixes every metric name ("<Namespace>_sessions_created_total").
	// Default "sealedsession".
	Namespace string

	// ConstLabels are added to every series, for example to tell apart two
	// Managers in one process that share a Registerer: give both the same
	// label names with different values (a registry refuses one metric name
	// with different label names). Default none.
	ConstLabels prometheus.Labels

	// Registerer receives the metrics. Default: a new, private
	// prometheus.Registry, returned by Metrics.Registry and served by
	// Metrics.Handler; nothing is added to the global
	// prometheus.DefaultRegisterer behind the program's back, and tests can
	// create as many Metrics as they like. Pass
	// prometheus.DefaultRegisterer to publish through an existing
	// promhttp.Handler instead.
	Registerer prometheus.Registerer

	// Buckets are the upper bounds, in seconds and strictly increasing, of
	// the middleware_overhead_seconds histogram. Default DefaultBuckets.
	Buckets []float64
}

// Metrics counts session events in Prometheus metrics. It is an
// httpx.Observer and an httpx.OverheadObserver, safe for concurrent use.
// Create it with New.
type Metrics struct {
	created, renewed, regenerated, destroyed prometheus.Counter
	resealed, migrated, storeErrors          prometheus.Counter

	rejected  *prometheus.CounterVec
	anomalies *prometheus.CounterVec
	saveFails *prometheus.CounterVec
	// Pre-resolved series for the documented reason labels; read-only
	// after New, so lookups need no lock.
	rejectedBy  map[string]prometheus.Counter
	anomaliesBy map[string]prometheus.Counter
	saveFailsBy map[string]prometheus.Counter

	overhead prometheus.Histogram

	registry *prometheus.Registry // set when New created it
	gatherer prometheus.Gatherer  // what Handler serves
}

var (
	_ httpx.Observer         = (*Metrics)(nil)
	_ httpx.OverheadObserver = (*Metrics)(nil)
)

// New creates the metrics and registers them with opts.Registerer (or a
// new registry). It fails, wrapping ErrConfig, on a bad namespace or
// buckets, and wrapping ErrRegister when registration fails, as it does
// when a Metrics with the same Namespace and ConstLabels is already
// registered there; nothing stays registered then.
func New(opts Options) (*Metrics, error) {
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if !validNamespace(ns) {
		return nil, fmt.Errorf("%w: namespace %q must match [a-zA-Z_][a-zA-Z0-9_]*", ErrConfig, ns)
	}
	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	if len(buckets) == 0 {
		return nil, fmt.Errorf("%w: Buckets is empty; leave it nil for DefaultBuckets", ErrConfig)
	}
	for i := 1; i < len(buckets); i++ {
		if !(buckets[i] > buckets[i-1]) {
			return nil, fmt.Errorf("%w: Buckets must be strictly increasing (bucket %d is %g after %g)", ErrConfig, i, buckets[i], buckets[i-1])
		}
	}

	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: name, Help: help, ConstLabels: opts.ConstLabels,
		})
	}
	m := &Metrics{
		created:     counter("sessions_created_total", "Sessions written for the first time."),
		renewed:     counter("sessions_renewed_total", "Current sessions re-issued to move their idle deadline (sliding renewal)."),
		regenerated: counter("sessions_regenerated_total", "Sessions given a new ID (login, Regenerate)."),
		destroyed:   counter("sessions_destroyed_total", "Sessions logged out."),
		resealed:    counter("sessions_resealed_total", "Sessions opened with a non-primary key (or an older format) and re-sealed with the primary."),
		migrated:    counter("sessions_migrated_total", "Legacy (gorilla/sessions) cookies read and re-issued in the current format."),
		storeErrors: counter("store_errors_total", "Session checks that failed because the epoch/revocation store was unavailable."),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "sessions_rejected_total", ConstLabels: opts.ConstLabels,
			Help: "Sessions presented by clients and refused, by reason.",
		}, []string{"reason"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "session_anomalies_total", ConstLabels: opts.ConstLabels,
			Help: "Requests whose session looked wrong (for example a changed client), by reason.",
		}, []string{"reason"}),
		overhead: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "middleware_overhead_seconds", ConstLabels: opts.ConstLabels,
			Help:    "Time the session middleware itself spent per request, not counting the wrapped handler.",
			Buckets: append([]float64(nil), buckets...),
		}),
		saveFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "session_saves_failed_total", ConstLabels: opts.ConstLabels,
			Help: "Session changes that could not reach the client (too large, response started, store down), by reason.",
		}, []string{"reason"}),
		rejectedBy:  make(map[string]prometheus.Counter, len(reasonLabels)),
		anomaliesBy: make(map[string]prometheus.Counter, len(reasonLabels)),
		saveFailsBy: make(map[string]prometheus.Counter, len(reasonLabels)),
	}
	for _, l := range reasonLabels {
		m.rejectedBy[l] = m.rejected.WithLabelValues(l)
		m.anomaliesBy[l] = m.anomalies.WithLabelValues(l)
		m.saveFailsBy[l] = m.saveFails.WithLabelValues(l)
	}

	reg := opts.Registerer
	if reg == nil {
		m.registry = prometheus.NewRegistry()
		m.gatherer = m.registry
		reg = m.registry
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	} else {
		// A Registerer that cannot be scraped directly: Handler serves a
		// private registry holding just these metrics.
		own := prometheus.NewRegistry()
		if err := registerAll(own, m.collectors()); err != nil {
			return nil, err
		}
		m.gatherer = own
	}
	if err := registerAll(reg, m.collectors()); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.created, m.renewed, m.regenerated, m.destroyed, m.resealed, m.migrated,
		m.storeErrors, m.rejected, m.anomalies, m.saveFails, m.overhead,
	}
}

// registerAll registers cs with r, or none of them.
func registerAll(r prometheus.Registerer, cs []prometheus.Collector) error {
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			return fmt.Errorf("%w: %w", ErrRegister, err)
		}
	}
	return nil
}

func validNamespace(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// Observe counts e. Events of a kind this version does not know are
// ignored. An event whose Reason matches versioning.ErrStoreUnavailable also
// counts as a store error.
func (m *Metrics) Observe(_ context.Context, e httpx.Event) {
	switch e.Kind {
	case httpx.EventCreated:
		m.created.Inc()
	case httpx.EventRenewed:
		m.renewed.Inc()
	case httpx.EventRegenerated:
		m.regenerated.Inc()
	case httpx.EventDestroyed:
		m.destroyed.Inc()
	case httpx.EventResealed:
		m.resealed.Inc()
	case httpx.EventMigrated:
		m.migrated.Inc()
	case httpx.EventRejected:
		inc(m.rejectedBy, m.rejected, e.Reason)
	case httpx.EventAnomaly:
		inc(m.anomaliesBy, m.anomalies, e.Reason)
	case httpx.EventSaveFailed:
		inc(m.saveFailsBy, m.saveFails, e.Reason)
	}
	if e.Reason != nil && errors.Is(e.Reason, versioning.ErrStoreUnavailable) {
		m.storeErrors.Inc()
	}
}

// inc counts reason in vec, through the pre-resolved series when it has one.
func inc(by map[string]prometheus.Counter, vec *prometheus.CounterVec, reason error) {
	label := httpx.ReasonLabel(reason)
	if label == "" {
		label = "other" // a rejection or anomaly without a reason
	}
	if c, ok := by[label]; ok {
		c.Inc()
		return
	}
	vec.WithLabelValues(label).Inc() // a label newer than this package
}

// ObserveOverhead records d, the middleware's own time for one request, in
// the middleware_overhead_seconds histogram.
func (m *Metrics) ObserveOverhead(d time.Duration) {
	m.overhead.Observe(d.Seconds())
}

// Registry returns the registry New created when Options.Registerer was
// nil, so that an application can add its own collectors (for example
// collectors.NewGoCollector) to what Handler serves. It returns nil when
// the metrics went to a Registerer given in Options.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler returns an http.Handler that serves the metrics in the
// Prometheus exposition formats (promhttp.HandlerFor). It serves the
// registry New created, or Options.Registerer when that is also a
// prometheus.Gatherer (as prometheus.DefaultRegisterer and any
// *prometheus.Registry are), or else a registry with just these metrics.
// Serve it on an internal address: it tells anyone who can read it how
// many users log in and how often cookies are forged.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}
