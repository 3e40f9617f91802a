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
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	samples := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("unparsable sample line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// TestScrapeOverHTTP runs a wrapped handler and /metrics on one loopback
// server, drives sessions through their lifecycle and checks what a
// Prometheus server would scrape.
func TestScrapeOverHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := promsession.New(promsession.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", mgr.Wrap(testApp()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server is not on loopback: %s", srv.URL)
	}
	client := srv.Client()
	name := mgr.CookieName()

	requests := 0
	// do sends one request through the wrapped handler with the given
	// session cookie value ("" for none) and returns the session cookie
	// the response sets, or the one sent when it sets none.
	do := func(method, path, cookie string, wantStatus int) string {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: name, Value: cookie})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		requests++
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %s, want %d", method, path, resp.Status, wantStatus)
		}
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
		if v, ok := before[series]; !ok || v != 0 {
			t.Errorf("before traffic: %s = %v (present %v), want 0", series, v, ok)
		}
	}

	cookie := do("POST", "/note?v=hello", "", http.StatusOK) // created
	if cookie == "" {
		t.Fatal("no session cookie after writing a note")
	}
	clk.Advance(5 * time.Minute)                     // past RenewThreshold, within IdleTimeout
	renewed := do("GET", "/", cookie, http.StatusOK) // renewed
	if renewed == cookie {
		t.Fatal("the session was not re-issued after 5 minutes")
	}
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
		v, ok := got[series]
		if !ok {
			t.Errorf("%s missing from the scrape", series)
			continue
		}
		if v != w {
			t.Errorf("%s = %v, want %v", series, v, w)
		}
	}
	if requests != 6 {
		t.Fatalf("made %d requests, the scenario has 6", requests)
	}
	var rejected float64
	for series, v := range got {
		if strings.HasPrefix(series, "sealedsession_sessions_rejected_total{") {
			rejected += v
		}
	}
	if rejected != 2 {
		t.Errorf("rejections over all reasons = %v, want 2", rejected)
	}
	if sum := got["sealedsession_middleware_overhead_seconds_sum"]; sum <= 0 || sum > 10 {
		t.Errorf("overhead sum = %v s over %d requests, want a small positive number", sum, requests)
	}
	if v := got[`sealedsession_middleware_overhead_seconds_bucket{le="5e-06"}`]; v > float64(requests) {
		t.Errorf("smallest bucket %v exceeds the request count", v)
	}
	for series := range got {
		if strings.Contains(series, "alice") {
			t.Errorf("a user ID leaked into a label: %s", series)
		}
	}
}

// TestObserveEvents feeds events directly, including kinds the HTTP test
// cannot easily produce.
func TestObserveEvents(t *testing.T) {
	m, err := promsession.New(promsession.Options{Namespace: "app"})
	if err != nil {
		t.Fatal(err)
	}
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
		if !strings.Contains(text, "\n"+line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if strings.Contains(text, "sealedsession_") {
		t.Error("the default namespace was used despite Options.Namespace")
	}
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
			if !errors.Is(err, promsession.ErrConfig) || m != nil {
				t.Fatalf("New = %v, %v; want nil, ErrConfig", m, err)
			}
		})
	}

	buckets := []float64{1e-6, 1e-3}
	m, err := promsession.New(promsession.Options{Buckets: buckets})
	if err != nil {
		t.Fatal(err)
	}
	buckets[1] = 0 // New copied them
	m.ObserveOverhead(time.Millisecond / 2)
	if n := testutil.CollectAndCount(m.Registry(), "sealedsession_middleware_overhead_seconds"); n != 1 {
		t.Fatalf("%d overhead histograms, want 1", n)
	}
	want := "# HELP sealedsession_middleware_overhead_seconds Time the session middleware itself spent per request, not counting the wrapped handler.\n" +
		"# TYPE sealedsession_middleware_overhead_seconds histogram\n" +
		"sealedsession_middleware_overhead_seconds_bucket{le=\"1e-06\"} 0\n" +
		"sealedsession_middleware_overhead_seconds_bucket{le=\"0.001\"} 1\n" +
		"sealedsession_middleware_overhead_seconds_bucket{le=\"+Inf\"} 1\n" +
		"sealedsession_middleware_overhead_seconds_sum 0.0005\n" +
		"sealedsession_middleware_overhead_seconds_count 1\n"
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sealedsession_middleware_overhead_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	web := prometheus.Labels{"manager": "web"}
	first, err := promsession.New(promsession.Options{Registerer: reg, ConstLabels: web})
	if err != nil {
		t.Fatal(err)
	}
	if first.Registry() != nil {
		t.Error("Registry() is not nil although a Registerer was given")
	}
	_, err = promsession.New(promsession.Options{Registerer: reg, ConstLabels: web})
	var already prometheus.AlreadyRegisteredError
	if !errors.Is(err, promsession.ErrRegister) || !errors.As(err, &already) {
		t.Fatalf("second New with the same labels: %v; want ErrRegister wrapping AlreadyRegisteredError", err)
	}
	// The same registry takes a second set under another label value.
	second, err := promsession.New(promsession.Options{Registerer: reg, ConstLabels: prometheus.Labels{"manager": "api"}})
	if err != nil {
		t.Fatal(err)
	}
	first.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	second.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	second.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	want := "# HELP sealedsession_sessions_created_total Sessions written for the first time.\n" +
		"# TYPE sealedsession_sessions_created_total counter\n" +
		"sealedsession_sessions_created_total{manager=\"api\"} 2\n" +
		"sealedsession_sessions_created_total{manager=\"web\"} 1\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sealedsession_sessions_created_total"); err != nil {
		t.Fatal(err)
	}

	// A conflict on the last metric leaves nothing of the failed New behind.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "sealedsession_middleware_overhead_seconds", Help: "squatter"}))
	if _, err := promsession.New(promsession.Options{Registerer: reg2}); !errors.Is(err, promsession.ErrRegister) {
		t.Fatalf("New with a squatted name: %v, want ErrRegister", err)
	}
	if n, err := testutil.GatherAndCount(reg2); err != nil || n != 1 {
		t.Fatalf("after a failed New the registry has %d series (%v), want only the squatter", n, err)
	}
}

// A Registerer that cannot be gathered (here one that adds a label) still
// gets a working Handler.
func TestHandlerWithWrappedRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promsession.New(promsession.Options{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"zone": "a"}, reg)})
	if err != nil {
		t.Fatal(err)
	}
	m.Observe(context.Background(), httpx.Event{Kind: httpx.EventDestroyed})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nsealedsession_sessions_destroyed_total 1\n") {
		t.Errorf("Handler does not serve the counters:\n%s", rec.Body.String())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(
		"# HELP sealedsession_sessions_destroyed_total Sessions logged out.\n"+
			"# TYPE sealedsession_sessions_destroyed_total counter\n"+
			"sealedsession_sessions_destroyed_total{zone=\"a\"} 1\n"), "sealedsession_sessions_destroyed_total"); err != nil {
		t.Fatal(err)
	}
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
	if o := promsession.Chain(); o != nil {
		t.Errorf("Chain() = %v, want nil", o)
	}
	if o := promsession.Chain(nil, nil); o != nil {
		t.Errorf("Chain(nil, nil) = %v, want nil", o)
	}
	single := &overheadRecorder{}
	if o := promsession.Chain(nil, single); o != single {
		t.Errorf("Chain(nil, x) = %v, want x itself", o)
	}

	var plain []httpx.EventKind
	logger := httpx.ObserverFunc(func(_ context.Context, e httpx.Event) { plain = append(plain, e.Kind) })
	noOverhead := promsession.Chain(logger, httpx.ObserverFunc(func(context.Context, httpx.Event) {}))
	if _, ok := noOverhead.(httpx.OverheadObserver); ok {
		t.Error("a chain of observers without ObserveOverhead claims to be an OverheadObserver")
	}

	rec := &overheadRecorder{}
	m, err := promsession.New(promsession.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := promsession.Chain(logger, nil, m, rec)
	oo, ok := c.(httpx.OverheadObserver)
	if !ok {
		t.Fatal("a chain holding Metrics is not an OverheadObserver")
	}
	c.Observe(context.Background(), httpx.Event{Kind: httpx.EventCreated})
	c.Observe(context.Background(), httpx.Event{Kind: httpx.EventDestroyed})
	oo.ObserveOverhead(7 * time.Microsecond)
	if len(plain) != 2 || plain[0] != httpx.EventCreated || plain[1] != httpx.EventDestroyed {
		t.Errorf("first observer saw %v", plain)
	}
	if len(rec.events) != 2 || rec.total != 7*time.Microsecond {
		t.Errorf("last observer saw %v and %v overhead", rec.events, rec.total)
	}
	body := httptest.NewRecorder()
	m.Handler().ServeHTTP(body, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{"sealedsession_sessions_created_total 1", "sealedsession_middleware_overhead_seconds_count 1"} {
		if !strings.Contains(body.Body.String(), "\n"+line+"\n") {
			t.Errorf("metrics behind Chain lack %q", line)
		}
	}
}

// Through Chain, the Manager still finds the OverheadObserver: every
// request reaches the histogram.
func TestChainWithManager(t *testing.T) {
	m, err := promsession.New(promsession.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64
	mgr, err := httpx.New(httpx.Config{
		Keys:   newKeys(t),
		Cookie: httpx.CookieConfig{InsecureAllowPlainHTTP: true},
		Observer: promsession.Chain(httpx.ObserverFunc(func(context.Context, httpx.Event) {
			seen.Add(1)
		}), m),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mgr.Wrap(testApp())
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/note?v=x", nil))
	}
	if seen.Load() != 3 {
		t.Errorf("the chained logger saw %d events, want 3 creations", seen.Load())
	}
	if n := sampleCount(t, m.Registry(), "sealedsession_middleware_overhead_seconds"); n != 3 {
		t.Errorf("histogram count %v, want 3", n)
	}
}

// sampleCount returns the number of observations of the histogram named
// name in g.
func sampleCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("histogram %s not gathered", name)
	return 0
}

func BenchmarkObserve(b *testing.B) {
	m, err := promsession.New(promsession.Options{})
	if err != nil {
		b.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
			if !strings.Contains(text, "\n"+line+"\n") {
				t.Errorf("%v: no preset series %s", reason, line)
			}
		}
	}
}

// TestSaveFailedCounted: a session change that could not reach the client
// is counted by reason, through a real Manager.
func TestSaveFailedCounted(t *testing.T) {
	m, err := promsession.New(promsession.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := httpx.New(httpx.Config{Keys: newKeys(t), Observer: m})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sealedsession_session_saves_failed_total"); err != nil {
		t.Fatal(err)
	}
}
