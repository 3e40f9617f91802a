package otelsession

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sealedsession/sealedsession/httpx"
)

// ScopeName is the instrumentation scope (meter name) of the instruments.
const ScopeName = "github.com/sealedsession/sealedsession/metrics/otel"

// Names and attribute keys; see the package documentation.
const (
	// CounterPrefix starts each event counter's name; the event kind's
	// name follows ("sealedsession.sessions.created").
	CounterPrefix = "sealedsession.sessions."
	// OverheadName is the histogram of the middleware's own time per request.
	OverheadName = "sealedsession.middleware.overhead"
	// SpanEventPrefix starts each span event's name; the event kind's
	// name follows ("sealedsession.session.rejected").
	SpanEventPrefix = "sealedsession.session."

	// ReasonKey is the attribute holding httpx.ReasonLabel of a rejection
	// or an anomaly, on the counters and on the span events.
	ReasonKey = attribute.Key("sealedsession.reason")
	// TagKey is the attribute holding the session ID's tag.
	TagKey = attribute.Key("sealedsession.session.tag")
	// AuthenticatedKey is the span event attribute telling whether the
	// session belonged to a logged-in user.
	AuthenticatedKey = attribute.Key("sealedsession.session.authenticated")
)

// DefaultBuckets are the explicit bucket boundaries, in seconds, of the
// overhead histogram when Options.Buckets is nil: 5µs to 100ms (a few
// microseconds with an in-memory store, a network round trip with Redis).
var DefaultBuckets = []float64{
	5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3,
}

// Options configures New. The zero value is ready to use.
type Options struct {
	// MeterProvider creates the instruments. Default: the global one,
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider

	// Attributes are added to every measurement, for example to tell two
	// Managers of one process apart. Default none.
	Attributes []attribute.KeyValue

	// Buckets are the explicit bucket boundaries, in seconds, of the
	// overhead histogram. Default DefaultBuckets.
	Buckets []float64

	// NoSpans turns off span events and attributes: metrics only.
	NoSpans bool

	// OmitSessionTag leaves the session tag off spans.
	OmitSessionTag bool
}

// Observer records session events as OpenTelemetry metrics and span
// events. It is an httpx.Observer and an httpx.OverheadObserver, safe for
// concurrent use. Create it with New.
type Observer struct {
	kinds    [256]*kindInstruments // by httpx.EventKind; never nil after New
	overhead metric.Float64Histogram
	base     []attribute.KeyValue
	plain    metric.MeasurementOption // the base attributes alone
	spans    bool
	tags     bool

	withReason sync.Map // reason label -> metric.MeasurementOption
}

// kindInstruments are what one event kind records into.
type kindInstruments struct {
	counter   metric.Int64Counter
	spanEvent string        // span event name
	reasonKey attribute.Key // span attribute for the reason
}

var (
	_ httpx.Observer         = (*Observer)(nil)
	_ httpx.OverheadObserver = (*Observer)(nil)
)

// New creates the instruments with opts.MeterProvider (or the global
// one). It fails, wrapping ErrInstrument, if the meter refuses one.
func New(opts Options) (*Observer, error) {
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	o := &Observer{
		base:  append([]attribute.KeyValue(nil), opts.Attributes...),
		spans: !opts.NoSpans,
		tags:  !opts.OmitSessionTag,
	}
	o.plain = metric.WithAttributeSet(attribute.NewSet(o.base...))

	// One set of instruments per kind name, so that every kind the httpx
	// package has (and "unknown" for any other value) is resolved once,
	// whatever the kinds are called.
	byName := make(map[string]*kindInstruments)
	for i := range o.kinds {
		name := httpx.EventKind(i).String()
		ki := byName[name]
		if ki == nil {
			c, err := meter.Int64Counter(CounterPrefix+name,
				metric.WithUnit("{session}"),
				metric.WithDescription(fmt.Sprintf("Session events of kind %q (see httpx.EventKind).", name)))
			if err != nil {
				return nil, fmt.Errorf("%w: %s%s: %w", ErrInstrument, CounterPrefix, name, err)
			}
			ki = &kindInstruments{
				counter:   c,
				spanEvent: SpanEventPrefix + name,
				reasonKey: attribute.Key(SpanEventPrefix + name + ".reason"),
			}
			byName[name] = ki
		}
		o.kinds[i] = ki
	}

	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	h, err := meter.Float64Histogram(OverheadName,
		metric.WithUnit("s"),
		metric.WithDescription("Time the session middleware itself spent per request, not counting the wrapped handler."),
		metric.WithExplicitBucketBoundaries(buckets...))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInstrument, OverheadName, err)
	}
	o.overhead = h
	return o, nil
}

// Observe records e: it adds one to the counter of e's kind (with the
// reason label as an attribute when e has a reason) and, unless
// Options.NoSpans, adds a span event to the span of ctx if it is
// recording. It never records e.UserID, a session ID or e.Reason's text.
func (o *Observer) Observe(ctx context.Context, e httpx.Event) {
	ki := o.kinds[e.Kind]
	reason := httpx.ReasonLabel(e.Reason)
	if reason == "" {
		ki.counter.Add(ctx, 1, o.plain)
	} else {
		ki.counter.Add(ctx, 1, o.reasonOption(reason))
	}
	if !o.spans {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 3)
	if o.tags && e.SessionTag != "" {
		attrs = append(attrs, TagKey.String(e.SessionTag))
		span.SetAttributes(TagKey.String(e.SessionTag))
	}
	attrs = append(attrs, AuthenticatedKey.Bool(e.UserID != ""))
	if reason != "" {
		attrs = append(attrs, ReasonKey.String(reason))
		span.SetAttributes(ki.reasonKey.String(reason))
	}
	opts := []trace.EventOption{trace.WithAttributes(attrs...)}
	if !e.Time.IsZero() {
		opts = append(opts, trace.WithTimestamp(e.Time))
	}
	span.AddEvent(ki.spanEvent, opts...)
}

// reasonOption returns the measurement option for the base attributes
// and the reason label; the labels are a small fixed set, so each is
// built once.
func (o *Observer) reasonOption(reason string) metric.MeasurementOption {
	if opt, ok := o.withReason.Load(reason); ok {
		return opt.(metric.MeasurementOption)
	}
	kvs := append(append(make([]attribute.KeyValue, 0, len(o.base)+1), o.base...), ReasonKey.String(reason))
	opt, _ := o.withReason.LoadOrStore(reason, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	return opt.(metric.MeasurementOption)
}

// ObserveOverhead records the middleware's own time for one request in
// the overhead histogram.
func (o *Observer) ObserveOverhead(d time.Duration) {
	o.overhead.Record(context.Background(), d.Seconds(), o.plain)
}
