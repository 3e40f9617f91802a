package promsession_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	promsession "github.com/sealedsession/sealedsession/metrics/prometheus"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/mock"
)

// newKeys is the shared test kit's fresh key ring.
var newKeys = testkit.NewRing

var noteKey = codec.NewKey[string]("note")

// testApp is the wrapped application: a note to create a session, a page
// that only reads it, login and logout.
func testApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) {
		if err := noteKey.Set(httpx.FromContext(r.Context()), r.FormValue("v")); err != nil {
			http.Error(w, "cannot set the note", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		note, _ := noteKey.Get(s)
		fmt.Fprintf(w, "user=%s note=%s", s.UserID(), note)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Login("alice"); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Logout(); err != nil {
			http.Error(w, "logout failed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	return mux
}

// scrape fetches url and returns every sample of the text exposition
// format, keyed by series as written ("name{label=\"v\"}").
func scrape(t *testing.T, c *http.Client, url string) map[string]float64 {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, resp.Status)
	ct := resp.Header.Get("Content-Type")
	require.True(t, strings.HasPrefix(ct, "text/plain"), "GET %s: Content-Type %q, want the text format", url, ct)
	samples := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.GreaterOrEqual(t, i, 0, "unparsable sample line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "sample line %q", line)
		samples[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return samples
}

// TestScrapeOverHTTP runs a wrapped handler and /metrics on one loopback
// server, drives sessions through their lifecycle and checks what a
// Prometheus server would scrape.
func TestScrapeOverHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := promsession.New(promsession.Options{Registerer: reg})
	require.NoError(t, err)
	var storeDown atomic.Bool
	store := &mock.Store{
		LookupFunc: func(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
			if storeDown.Load() {
				return versioning.SessionState{}, errors.New("connection refused")
			}
			return versioning.SessionState{}, nil
		},
	}
	clk := testkit.NewClockAt(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	mgr, err := httpx.New(httpx.Config{
		Keys:     newKeys(t),
		Store:    store,
		Cookie:   httpx.CookieConfig{InsecureAllowPlainHTTP: true}, // httptest.NewServer speaks plain http
		Policy:   versioning.Policy{Now: clk.Now},
		Observer: metrics,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", mgr.Wrap(testApp()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), "server is not on loopback: %s", srv.URL)
	client := srv.Client()
	name := mgr.CookieName()

	requests := 0
	// do sends one request through the wrapped handler with the given
	// session cookie value ("" for none) and returns the session cookie
	// the response sets, or the one sent when it sets none.
	do := func(method, path, cookie string, wantStatus int) string {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: name, Value: cookie})
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		requests++
		require.Equal(t, wantStatus, resp.StatusCode, "%s %s: %s", method, path, resp.Status)
		for _, c := range resp.Cookies() {
			if c.Name == name && c.Value != "" {
				return c.Value
			}
		}
		return cookie
	}

	// Before any traffic every counter exists and is zero.
	before := scrape(t, client, srv.URL+"/metrics")
	for _, series := range []string{
		"sealedsession_sessions_created_total",
		"sealedsession_store_errors_total",
		`sealedsession_sessions_rejected_total{reason="auth_failed"}`,
		`sealedsession_session_anomalies_total{reason="client_changed"}`,
		"sealedsession_middleware_overhead_seconds_count",
	} {
		assert.Contains(t, before, series, "before traffic: %s missing", series)
		assert.Zero(t, before[series], "before traffic: %s", series)
	}

	cookie := do("POST", "/note?v=hello", "", http.StatusOK) // created
	require.NotEmpty(t, cookie, "no session cookie after writing a note")
	clk.Advance(5 * time.Minute)                     // past RenewThreshold, within IdleTimeout
	renewed := do("GET", "/", cookie, http.StatusOK) // renewed
	require.NotEqual(t, cookie, renewed, "the session was not re-issued after 5 minutes")
	cookie = renewed

	tampered := []byte(cookie)
	mid := len(tampered) / 2
	if tampered[mid] == 'A' {
		tampered[mid] = 'B'
	} else {
		tampered[mid] = 'A'
	}
	do("GET", "/", string(tampered), http.StatusOK) // rejected: auth_failed

	cookie = do("POST", "/login", cookie, http.StatusOK) // regenerated
	storeDown.Store(true)
	do("GET", "/", cookie, http.StatusOK) // rejected: store_unavailable
	storeDown.Store(false)
	do("POST", "/logout", cookie, http.StatusOK) // destroyed

	got := scrape(t, client, srv.URL+"/metrics")
	want := map[string]float64{
		"sealedsession_sessions_created_total":                              1,
		"sealedsession_sessions_renewed_total":                              1,
		"sealedsession_sessions_regenerated_total":                          1,
		"sealedsession_sessions_destroyed_total":                            1,
		"sealedsession_sessions_resealed_total":                             0,
		"sealedsession_sessions_migrated_total":                             0,
		`sealedsession_sessions_rejected_total{reason="auth_failed"}`:       1,
		`sealedsession_sessions_rejected_total{reason="store_unavailable"}`: 1,
		`sealedsession_sessions_rejected_total{reason="malformed"}`:         0,
		`sealedsession_sessions_rejected_total{reason="idle_expired"}`:      0,
		`sealedsession_session_anomalies_total{reason="client_changed"}`:    0,
		"sealedsession_store_errors_total":                                  1,
		"sealedsession_middleware_overhead_seconds_count":                   float64(requests),
		`sealedsession_middleware_overhead_seconds_bucket{le="+Inf"}`:       float64(requests),
	}
	for series, w := range want {
		if !assert.Contains(t, got, series, "%s missing from the scrape", series) {
			continue
		}
		assert.Equal(t, w, got[series], "series %s", series)
	}
	require.Equal(t, 6, requests, "requests made: the scenario has 6")
	var rejected float64
	for series, v := range got {
		if strings.HasPrefix(series, "sealedsession_sessions_rejected_total{") {
			rejected += v
		}
	}
	assert.Equal(t, 2.0, rejected, "rejections over all reasons")
	sum := got["sealedsession_middleware_overhead_seconds_sum"]
	assert.Greater(t, sum, 0.0, "overhead sum (s) over %d requests, want a small positive number", requests)
	assert.LessOrEqual(t, sum, 10.0, "overhead sum (s) over %d requests, want a small positive number", requests)
	assert.LessOrEqual(t, got[`sealedsession_middleware_overhead_seconds_bucket{le="5e-06"}`], float64(requests), "smallest bucket exceeds the request count")
	for series := range got {
		assert.NotContains(t, series, "alice", "a user ID leaked into a label")
	}
}

// TestObserveEvents feeds events directly, including kinds the HTTP test
// cannot easily produce.
func TestObserveEvents(t *testing.T) {
	m, err := promsession.New(promsession.Options{Namespace: "app"})
	require.NoError(t, err)
	ctx := context.Background()
	storeErr := &versioning.StoreError{Op: "epoch", Err: errors.New("timeout")}
	for _, e := range []httpx.Event{
		{Kind: httpx.EventResealed},
		{Kind: httpx.EventMigrated},
		{Kind: httpx.EventMigrated},
		{Kind: httpx.EventAnomaly, Reason: httpx.ErrClientChanged},
		{Kind: httpx.EventAnomaly, Reason: storeErr},
		{Kind: httpx.EventRejected, Reason: fmt.Errorf("open: %w", sealed.ErrUnknownKey)},
		{Kind: httpx.EventRejected, Reason: versioning.ErrRevoked},
		{Kind: httpx.EventRejected, Reason: storeErr},
		{Kind: httpx.EventRejected},                            // no reason: "other"
		{Kind: httpx.EventRejected, Reason: errors.New("odd")}, // "other"
		{Kind: 200},                 // unknown kind: ignored
		{Kind: 0, Reason: storeErr}, // still a store error
	} {
		m.Observe(ctx, e)
	}
	m.ObserveOverhead(3 * time.Microsecond)
	m.ObserveOverhead(2 * time.Millisecond)

	body := httptest.NewRecorder()
	m.Handler().ServeHTTP(body, httptest.NewRequest("GET", "/metrics", nil))
	text := body.Body.String()
	for _, line := range []string{
		"app_sessions_resealed_total 1",
		"app_sessions_migrated_total 2",
		"app_sessions_created_total 0",
		`app_session_anomalies_total{reason="client_changed"} 1`,
		`app_session_anomalies_total{reason="store_unavailable"} 1`,
		`app_sessions_rejected_total{reason="unknown_key"} 1`,
		`app_sessions_rejected_total{reason="revoked"} 1`,
		`app_sessions_rejected_total{reason="store_unavailable"} 1`,
		`app_sessions_rejected_total{reason="other"} 2`,
		"app_store_errors_total 3",
		"app_middleware_overhead_seconds_count 2",
		`app_middleware_overhead_seconds_bucket{le="5e-06"} 1`,
		`app_middleware_overhead_seconds_bucket{le="0.001"} 1`,
		`app_middleware_overhead_seconds_bucket{le="0.0025"} 2`,
	} {
		assert.Contains(t, text, "\n"+line+"\n", "scrape lacks %q", line)
	}
	assert.NotContains(t, text, "sealedsession_", "the default namespace was used despite Options.Namespace")
}

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts promsession.Options
	}{
		{"namespace with a dash", promsession.Options{Namespace: "my-app"}},
		{"namespace starting with a digit", promsession.Options{Namespace: "1app"}},
		{"empty buckets", promsession.Options{Buckets: []float64{}}},
		{"decreasing buckets", promsession.Options{Buckets: []float64{1e-3, 1e-4}}},
		{"repeated bucket", promsession.Options{Buckets: []float64{1e-3, 1e-3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := promsession.New(tc.opts)
			require.ErrorIs(t, err, promsession.ErrConfig, "New")
			require.Nil(t, m, "New")
		})
	}

	buckets := []float64{1e-6, 1e-3}
	m, err := promsession.New(promsession.Options{Buckets: buckets})
	require.NoError(t, err)
	buckets[1] = 0 // New copied them
	m.ObserveOverhead(time.Millisecond / 2)
	require.Equal(t, 1, testutil.CollectAndCount(m.Registry(), "sealedsession_middleware_overhead_seconds"), "overhead histograms")
	want := "# HELP sealedsession_middleware_overhead_seconds Time the session middleware itself spent per request, not counting the wrapped handler.\n" +
		"# TYPE sealedsession_middleware_overhead_seconds histogram\n" +
		"sealedsession_middleware_overhead_seconds_bucket{le=\"1e-06\"} 0\n" +
		"sealedsession_middleware_overhead_seconds_bucket{le=\"0.001\"} 1\n" +
		"sealedsession_middleware_overhead_seconds_bucket{le=\"+Inf\"} 1\n" +
		"sealedsession_middleware_overhead_seconds_sum 0.0005\n" +
		"sealedsession_middleware_overhead_seconds_count 1\n"
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sealedsession_middleware_overhead_seconds"))
}

func TestRegisterConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	web := prometheus.Labels{"manager": "web"}
	first, err := promsession.New(promsession.Options{Registerer: reg, ConstLabels: web})
	require.NoError(t, err)
	assert.Nil(t, first.Registry(), "Registry() is not nil although a Registerer was given")
	_, err = promsession.New(promsession.Options{Registerer: reg, ConstLabels: web})
	var already prometheus.AlreadyRegisteredError
	require.ErrorIs(t, err, promsession.ErrRegister, "second New with the same labels")
	require.ErrorAs(t, err, &already, "second New with the same labels: want ErrRegister wrapping AlreadyRegisteredError")
	// The same registry takes a second set under another label value.
	second, err := promsession.New(promsession.Options{Registerer: reg, ConstLabels: prometheus.Labels{"manager": "api"}})
	require.NoError(t, err)
	first.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	second.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	second.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	want := "# HELP sealedsession_sessions_created_total Sessions written for the first time.\n" +
		"# TYPE sealedsession_sessions_created_total counter\n" +
		"sealedsession_sessions_created_total{manager=\"api\"} 2\n" +
		"sealedsession_sessions_created_total{manager=\"web\"} 1\n"
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "sealedsession_sessions_created_total"))

	// A conflict on the last metric leaves nothing of the failed New behind.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "sealedsession_middleware_overhead_seconds", Help: "squatter"}))
	_, err = promsession.New(promsession.Options{Registerer: reg2})
	require.ErrorIs(t, err, promsession.ErrRegister, "New with a squatted name")
	n, err := testutil.GatherAndCount(reg2)
	require.NoError(t, err, "gathering after a failed New")
	require.Equal(t, 1, n, "series after a failed New: want only the squatter")
}

// A Registerer that cannot be gathered (here one that adds a label) still
// gets a working Handler.
func TestHandlerWithWrappedRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promsession.New(promsession.Options{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"zone": "a"}, reg)})
	require.NoError(t, err)
	m.Observe(context.Background(), httpx.Event{Kind: httpx.EventDestroyed})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, rec.Body.String(), "\nsealedsession_sessions_destroyed_total 1\n", "Handler does not serve the counters")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(
		"# HELP sealedsession_sessions_destroyed_total Sessions logged out.\n"+
			"# TYPE sealedsession_sessions_destroyed_total counter\n"+
			"sealedsession_sessions_destroyed_total{zone=\"a\"} 1\n"), "sealedsession_sessions_destroyed_total"))
}

type overheadRecorder struct {
	events []httpx.EventKind
	total  time.Duration
}

func (r *overheadRecorder) Observe(_ context.Context, e httpx.Event) {
	r.events = append(r.events, e.Kind)
}
func (r *overheadRecorder) ObserveOverhead(d time.Duration) { r.total += d }

func TestChain(t *testing.T) {
	// A nil interface, not a typed nil (assert.Nil would accept an empty
	// chain value).
	o := promsession.Chain()
	assert.True(t, o == nil, "Chain() = %#v, want nil", o)
	o = promsession.Chain(nil, nil)
	assert.True(t, o == nil, "Chain(nil, nil) = %#v, want nil", o)
	single := &overheadRecorder{}
	assert.Same(t, single, promsession.Chain(nil, single), "Chain(nil, x): want x itself")

	var plain []httpx.EventKind
	logger := httpx.ObserverFunc(func(_ context.Context, e httpx.Event) { plain = append(plain, e.Kind) })
	noOverhead := promsession.Chain(logger, httpx.ObserverFunc(func(context.Context, httpx.Event) {}))
	_, ok := noOverhead.(httpx.OverheadObserver)
	assert.False(t, ok, "a chain of observers without ObserveOverhead claims to be an OverheadObserver")

	rec := &overheadRecorder{}
	m, err := promsession.New(promsession.Options{})
	require.NoError(t, err)
	c := promsession.Chain(logger, nil, m, rec)
	oo, ok := c.(httpx.OverheadObserver)
	require.True(t, ok, "a chain holding Metrics is not an OverheadObserver")
	c.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	c.Observe(context.Background(), httpx.Event{Kind: httpx.EventDestroyed})
	oo.ObserveOverhead(7 * time.Microsecond)
	assert.Equal(t, []httpx.EventKind{httpx.EventCreated, httpx.EventDestroyed}, plain, "events the first observer saw")
	assert.Len(t, rec.events, 2, "events the last observer saw")
	assert.Equal(t, 7*time.Microsecond, rec.total, "overhead the last observer saw")
	body := httptest.NewRecorder()
	m.Handler().ServeHTTP(body, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{"sealedsession_sessions_created_total 1", "sealedsession_middleware_overhead_seconds_count 1"} {
		assert.Contains(t, body.Body.String(), "\n"+line+"\n", "metrics behind Chain lack %q", line)
	}
}

// Through Chain, the Manager still finds the OverheadObserver: every
// request reaches the histogram.
func TestChainWithManager(t *testing.T) {
	m, err := promsession.New(promsession.Options{})
	require.NoError(t, err)
	var seen atomic.Int64
	mgr, err := httpx.New(httpx.Config{
		Keys:   newKeys(t),
		Cookie: httpx.CookieConfig{InsecureAllowPlainHTTP: true},
		Observer: promsession.Chain(httpx.ObserverFunc(func(context.Context, httpx.Event) {
			seen.Add(1)
		}), m),
	})
	require.NoError(t, err)
	h := mgr.Wrap(testApp())
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/note?v=x", nil))
	}
	assert.Equal(t, int64(3), seen.Load(), "events the chained logger saw: want 3 creations")
	assert.Equal(t, uint64(3), sampleCount(t, m.Registry(), "sealedsession_middleware_overhead_seconds"), "histogram count")
}

// sampleCount returns the number of observations of the histogram named
// name in g.
func sampleCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	require.Failf(t, "histogram not gathered", "histogram %s", name)
	return 0
}

func BenchmarkObserve(b *testing.B) {
	m, err := promsession.New(promsession.Options{})
	require.NoError(b, err)
	ctx := context.Background()
	created := httpx.Event{Kind: httpx.EventCreated}
	rejected := httpx.Event{Kind: httpx.EventRejected, Reason: sealed.ErrAuthFailed}
	b.Run("created", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Observe(ctx, created)
		}
	})
	b.Run("rejected", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Observe(ctx, rejected)
		}
	})
	b.Run("overhead", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.ObserveOverhead(12 * time.Microsecond)
		}
	})
}

// Every label httpx.ReasonLabel can produce has a series from the start,
// so the package's list cannot silently fall behind httpx's.
func TestReasonLabelsPreset(t *testing.T) {
	m, err := promsession.New(promsession.Options{})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, reason := range []error{
		sealed.ErrUnknownKey, sealed.ErrAuthFailed, sealed.ErrMalformed, sealed.ErrTooLarge,
		httpx.ErrOversizedCookie, httpx.ErrChunks, httpx.ErrLegacyRejected, httpx.ErrClientChanged,
		versioning.ErrIdleExpired, versioning.ErrAbsoluteExpired, versioning.ErrIssuedInFuture,
		versioning.ErrEpochBumped, versioning.ErrRevoked, versioning.ErrUnsupportedVersion,
		versioning.ErrStoreUnavailable,
		codec.ErrUnsupportedVersion, codec.ErrMalformed, codec.ErrTooLarge, codec.ErrLimit,
		errors.New("something else"),
	} {
		label := httpx.ReasonLabel(reason)
		for _, metric := range []string{"sealedsession_sessions_rejected_total", "sealedsession_session_anomalies_total"} {
			line := fmt.Sprintf("%s{reason=%q} 0", metric, label)
			assert.Contains(t, text, "\n"+line+"\n", "%v: no preset series %s", reason, line)
		}
	}
}

// TestSaveFailedCounted: a session change that could not reach the client
// is counted by reason, through a real Manager.
func TestSaveFailedCounted(t *testing.T) {
	m, err := promsession.New(promsession.Options{})
	require.NoError(t, err)
	mgr, err := httpx.New(httpx.Config{Keys: newKeys(t), Observer: m})
	require.NoError(t, err)
	h := mgr.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "body first")
		_ = httpx.FromContext(r.Context()).Login("late") // refused: the response started
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	want := `
# HELP sealedsession_session_saves_failed_total Session changes that could not reach the client (too large, response started, store down), by reason.
# TYPE sealedsession_session_saves_failed_total counter
`
	for _, l := range []string{"absolute_expired", "auth_failed", "chunks", "client_changed", "epoch_bumped", "idle_expired", "issued_in_future", "legacy_invalid", "malformed", "other", "response_started", "revoked", "simultaneous_use", "store_unavailable", "too_large", "unknown_key", "unsupported_version"} {
		n := 0
		if l == "response_started" {
			n = 1
		}
		want += fmt.Sprintf("sealedsession_session_saves_failed_total{reason=%q} %d\n", l, n)
	}
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sealedsession_session_saves_failed_total"))
}
