package otelsession_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	otelsession "github.com/sealedsession/sealedsession/metrics/otel"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

// clock is the shared test kit's settable clock.
type clock = testkit.Clock

func newRing(t testing.TB) (*sealed.Keyring, *sealed.Key) {
	t.Helper()
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
	ring, err := sealed.NewKeyring(k)
	require.NoError(t, err)
	return ring, k
}

var noteKey = codec.NewKey[string]("note")

// harness is a Manager observed by an Observer with in-memory metric and
// span readers, behind a middleware that starts a span per request (as
// otelhttp would).
type harness struct {
	t       *testing.T
	reader  *sdkmetric.ManualReader
	spans   *tracetest.SpanRecorder
	handler http.Handler
	mgr     *httpx.Manager
	clk     *clock
	keys    []*sealed.Key

	mu       sync.Mutex
	ids      []string // every session ID a handler saw
	lastTag  string
	requests int
}

func newHarness(t *testing.T, opts otelsession.Options) *harness {
	h := &harness{t: t, reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts.MeterProvider = mp
	obs, err := otelsession.New(opts)
	require.NoError(t, err)
	ring, key := newRing(t)
	h.keys = []*sealed.Key{key}
	// Near the real time: the default in-memory store expires revocations
	// by its own clock.
	h.clk = testkit.NewClockAt(time.Now().UTC().Truncate(time.Second))
	h.mgr, err = httpx.New(httpx.Config{Keys: ring, Policy: versioning.Policy{Now: h.clk.Now}, Observer: obs})
	require.NoError(t, err)
	mux := http.NewServeMux()
	see := func(s *httpx.Session) {
		h.mu.Lock()
		h.ids = append(h.ids, s.ID().String())
		h.mu.Unlock()
	}
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if err := noteKey.Set(s, "hello"); err != nil {
			http.Error(w, "cannot set", http.StatusInternalServerError)
			return
		}
		// Once the response has started: asking a new session for its ID
		// before it is saved makes httpx report no "created" event.
		_, _ = w.Write([]byte("ok"))
		see(s)
		h.mu.Lock()
		h.lastTag = s.Tag()
		h.mu.Unlock()
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
		see(httpx.FromContext(r.Context()))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		see(s)
		if err := s.Login("alice@example.com"); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		see(s)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Logout(); err != nil {
			http.Error(w, "logout failed", http.StatusServiceUnavailable)
		}
	})
	wrapped := h.mgr.Wrap(mux)
	tracer := tp.Tracer("test")
	h.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), r.Method+" "+r.URL.Path)
		defer span.End()
		wrapped.ServeHTTP(w, r.WithContext(ctx))
	})
	return h
}

// do sends a request with the session cookie value ("" for none) and
// returns the cookie the response sets, or the one sent.
func (h *harness) do(method, path, cookie string) string {
	h.t.Helper()
	req := httptest.NewRequest(method, "https://example.test"+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: h.mgr.CookieName(), Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	h.requests++
	require.Equal(h.t, http.StatusOK, rec.Code, "%s %s", method, path)
	for _, c := range rec.Result().Cookies() {
		if c.Name == h.mgr.CookieName() && c.Value != "" {
			return c.Value
		}
	}
	return cookie
}

// collect returns the sum of every event counter, by instrument name and
// reason attribute ("name" or "name/reason"), the overhead histogram's
// point, and every metric attribute recorded.
func (h *harness) collect() (map[string]int64, *metricdata.HistogramDataPoint[float64], []attribute.KeyValue) {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(h.t, h.reader.Collect(context.Background(), &rm))
	sums := make(map[string]int64)
	var hist *metricdata.HistogramDataPoint[float64]
	var all []attribute.KeyValue
	for _, sm := range rm.ScopeMetrics {
		require.Equal(h.t, otelsession.ScopeName, sm.Scope.Name, "scope")
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				require.True(h.t, d.IsMonotonic, "%s is not a counter", m.Name)
				for _, dp := range d.DataPoints {
					key := m.Name
					if r, ok := dp.Attributes.Value(otelsession.ReasonKey); ok {
						key += "/" + r.AsString()
					}
					sums[key] += dp.Value
					all = append(all, dp.Attributes.ToSlice()...)
				}
			case metricdata.Histogram[float64]:
				require.Equal(h.t, otelsession.OverheadName, m.Name, "histogram name")
				require.Equal(h.t, "s", m.Unit, "histogram %s unit", m.Name)
				require.Len(h.t, d.DataPoints, 1, "histogram %s points", m.Name)
				hist = &d.DataPoints[0]
				all = append(all, hist.Attributes.ToSlice()...)
			default:
				require.Failf(h.t, "unexpected metric", "%s: %T", m.Name, m.Data)
			}
		}
	}
	return sums, hist, all
}

func attr(kvs []attribute.KeyValue, k attribute.Key) (attribute.Value, bool) {
	s := attribute.NewSet(kvs...)
	return s.Value(k)
}

// tamper flips one character in the middle of a sealed cookie.
func tamper(c string) string {
	b := []byte(c)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestEventsBecomeMetricsAndSpanEvents(t *testing.T) {
	h := newHarness(t, otelsession.Options{Attributes: []attribute.KeyValue{attribute.String("app", "notes")}})

	start := h.clk.Now()
	c1 := h.do("POST", "/note", "") // created
	createdTag := h.lastTag
	h.do("GET", "/", c1) // nothing to report
	h.clk.Advance(2 * time.Minute)
	c1 = h.do("GET", "/", c1)        // renewed
	h.do("GET", "/", tamper(c1))     // rejected: auth_failed
	c2 := h.do("POST", "/login", c1) // regenerated
	h.do("POST", "/logout", c2)      // destroyed
	h.do("GET", "/", c2)             // rejected: revoked

	// A cookie sealed with a key this Manager does not have.
	otherRing, otherKey := newRing(t)
	h.keys = append(h.keys, otherKey)
	other, err := httpx.New(httpx.Config{Keys: otherRing, Policy: versioning.Policy{Now: h.clk.Now}})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	other.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = noteKey.Set(httpx.FromContext(r.Context()), "x")
	})).ServeHTTP(rec, httptest.NewRequest("GET", "https://example.test/", nil))
	foreign := rec.Result().Cookies()[0].Value
	h.do("GET", "/", foreign) // rejected: unknown_key

	sums, hist, metricAttrs := h.collect()
	p := otelsession.CounterPrefix
	want := map[string]int64{
		p + "created":              1,
		p + "renewed":              1,
		p + "regenerated":          1,
		p + "destroyed":            1,
		p + "rejected/auth_failed": 1,
		p + "rejected/revoked":     1,
		p + "rejected/unknown_key": 1,
	}
	for k, v := range want {
		assert.Equal(t, v, sums[k], "counter %s", k)
	}
	for k, v := range sums {
		if _, ok := want[k]; !ok {
			assert.Zero(t, v, "unexpected %s", k)
		}
	}
	require.NotNil(t, hist, "overhead histogram")
	require.Equal(t, uint64(h.requests), hist.Count, "overhead histogram: want one observation per request")
	app, ok := hist.Attributes.Value("app")
	require.True(t, ok, "histogram attributes %v: no app", hist.Attributes)
	require.Equal(t, "notes", app.AsString(), "histogram attributes %v", hist.Attributes)
	for _, kv := range metricAttrs {
		assert.Contains(t, []attribute.Key{"app", otelsession.ReasonKey}, kv.Key, "metric attribute %s: only the reason and Options.Attributes belong on metrics", kv.Key)
	}

	spans := h.spans.Ended()
	require.Len(t, spans, h.requests, "spans: one per request")
	// The first request's span: the created event, with the tag.
	first := spans[0]
	evs := first.Events()
	require.Len(t, evs, 1, "first span events %+v", evs)
	require.Equal(t, otelsession.SpanEventPrefix+"created", evs[0].Name, "first span event")
	require.NotEmpty(t, createdTag, "the handler saw no tag")
	v, ok := attr(evs[0].Attributes, otelsession.TagKey)
	require.True(t, ok, "created event has no tag")
	require.Equal(t, createdTag, v.AsString(), "created event tag")
	v, ok = attr(first.Attributes(), otelsession.TagKey)
	require.True(t, ok, "span has no tag attribute")
	require.Equal(t, createdTag, v.AsString(), "span tag attribute")
	require.True(t, evs[0].Time.Equal(start), "event time %v, want the Manager's clock %v", evs[0].Time, start)
	// The tampered request's span: a rejection with its reason.
	rej := spans[3]
	evs = rej.Events()
	require.Len(t, evs, 1, "tampered request's span events %+v", evs)
	require.Equal(t, otelsession.SpanEventPrefix+"rejected", evs[0].Name, "tampered request's span event")
	v, _ = attr(evs[0].Attributes, otelsession.ReasonKey)
	require.Equal(t, "auth_failed", v.AsString(), "rejection reason")
	v, _ = attr(rej.Attributes(), attribute.Key(otelsession.SpanEventPrefix+"rejected.reason"))
	require.Equal(t, "auth_failed", v.AsString(), "span attributes %v", rej.Attributes())
	// Login: regenerated, authenticated.
	evs = spans[4].Events()
	require.NotEmpty(t, evs, "login span events")
	require.Equal(t, otelsession.SpanEventPrefix+"regenerated", evs[len(evs)-1].Name, "login span's last event (events %+v)", evs)
	v, _ = attr(evs[len(evs)-1].Attributes, otelsession.AuthenticatedKey)
	require.True(t, v.AsBool(), "login event not authenticated: %v", evs[len(evs)-1].Attributes)

	// Nothing recorded holds a session ID, the user, a cookie or a key.
	var secrets []string
	secrets = append(secrets, "alice", c1, c2, foreign, c1[:24], c2[:24])
	h.mu.Lock()
	secrets = append(secrets, h.ids...)
	h.mu.Unlock()
	for _, k := range h.keys {
		secrets = append(secrets, k.Export(), k.Export()[5:25])
	}
	var recorded []string
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events() {
			recorded = append(recorded, e.Name)
			for _, kv := range e.Attributes {
				recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
			}
		}
	}
	for _, kv := range metricAttrs {
		recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
	}
	all := strings.Join(recorded, "\n")
	for _, s := range secrets {
		if s != "" {
			require.NotContains(t, all, s, "recorded telemetry contains a secret")
		}
	}
}

func TestOptionsLimitSpans(t *testing.T) {
	h := newHarness(t, otelsession.Options{OmitSessionTag: true})
	h.do("POST", "/note", "")
	evs := h.spans.Ended()[0].Events()
	require.Len(t, evs, 1, "events")
	_, ok := attr(evs[0].Attributes, otelsession.TagKey)
	require.False(t, ok, "tag recorded with OmitSessionTag")
	_, ok = attr(h.spans.Ended()[0].Attributes(), otelsession.TagKey)
	require.False(t, ok, "tag recorded on the span with OmitSessionTag")

	h = newHarness(t, otelsession.Options{NoSpans: true})
	h.do("POST", "/note", "")
	require.Empty(t, h.spans.Ended()[0].Events(), "span events with NoSpans")
	sums, _, _ := h.collect()
	require.Equal(t, int64(1), sums[otelsession.CounterPrefix+"created"], "metrics with NoSpans: %v", sums)
}

// Every kind the httpx package names gets its own counter, named after
// it, and an event without a request span is still counted.
func TestEveryKindHasACounter(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	obs, err := otelsession.New(otelsession.Options{MeterProvider: mp})
	require.NoError(t, err)
	var kinds []httpx.EventKind
	for k := httpx.EventKind(1); k.String() != "unknown"; k++ {
		kinds = append(kinds, k)
		obs.Observe(context.Background(), httpx.Event{Kind: k, Reason: errors.New("something")})
	}
	obs.Observe(context.Background(), httpx.Event{Kind: 200})
	require.GreaterOrEqual(t, len(kinds), 8, "kinds")
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := make(map[string]int64)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if s, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, dp := range s.DataPoints {
				got[m.Name] += dp.Value
				if m.Name != otelsession.CounterPrefix+"unknown" {
					r, _ := dp.Attributes.Value(otelsession.ReasonKey)
					assert.Equal(t, "other", r.AsString(), "%s reason", m.Name)
				}
			}
		}
	}
	for _, k := range append(kinds, 200) {
		assert.Equal(t, int64(1), got[otelsession.CounterPrefix+k.String()], "counter of kind %s", k)
	}
}

// failingMeter refuses every instrument.
type failingMeter struct{ noop.Meter }

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errors.New("refused")
}

type failingProvider struct{ noop.MeterProvider }

func (failingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

func TestNewReportsInstrumentErrors(t *testing.T) {
	_, err := otelsession.New(otelsession.Options{MeterProvider: failingProvider{}})
	require.ErrorIs(t, err, otelsession.ErrInstrument)
	require.ErrorContains(t, err, "refused")
	_, err = otelsession.New(otelsession.Options{MeterProvider: noop.NewMeterProvider()})
	require.NoError(t, err, "noop provider")
}

func BenchmarkObserve(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := otelsession.New(otelsession.Options{MeterProvider: mp})
	require.NoError(b, err)
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("b").Start(context.Background(), "req")
	defer span.End()
	for _, c := range []struct {
		name string
		ctx  context.Context
		e    httpx.Event
	}{
		{"renewed/no-span", context.Background(), httpx.Event{Kind: httpx.EventRenewed, SessionTag: "abc"}},
		{"rejected/no-span", context.Background(), httpx.Event{Kind: httpx.EventRejected, Reason: sealed.ErrAuthFailed}},
		{"renewed/span", ctx, httpx.Event{Kind: httpx.EventRenewed, SessionTag: "abc"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obs.Observe(c.ctx, c.e)
			}
		})
	}
}
