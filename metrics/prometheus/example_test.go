package promsession_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sealedsession/sealedsession/httpx"
	promsession "github.com/sealedsession/sealedsession/metrics/prometheus"
	"github.com/sealedsession/sealedsession/sealed"
)

func ExampleNew() {
	metrics, err := promsession.New(promsession.Options{})
	if err != nil {
		panic(err)
	}
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	mgr, err := httpx.New(httpx.Config{Keys: keys, Observer: metrics})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		s.AddFlash("welcome") // any change creates the session
	})

	mux := http.NewServeMux()
	mux.Handle("/", mgr.Wrap(app))
	mux.Handle("GET /metrics", metrics.Handler()) // serve on an internal address in production
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	resp, err = srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "sealedsession_sessions_created_total ") ||
			strings.HasPrefix(line, "sealedsession_middleware_overhead_seconds_count ") {
			fmt.Println(line)
		}
	}
	// Output:
	// sealedsession_middleware_overhead_seconds_count 1
	// sealedsession_sessions_created_total 1
}

func ExampleChain() {
	metrics, _ := promsession.New(promsession.Options{})
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	// Metrics and a log of the same events; in production the second
	// would be httpx.NewSlogObserver(logger).
	logger := httpx.ObserverFunc(func(_ context.Context, e httpx.Event) {
		fmt.Println("event:", e.Kind)
	})
	mgr, _ := httpx.New(httpx.Config{Keys: keys, Observer: promsession.Chain(metrics, logger)})

	h := mgr.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = httpx.FromContext(r.Context()).Login("alice")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))

	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "sealedsession_sessions_regenerated_total ") {
			fmt.Print(line)
		}
	}
	// Output:
	// event: regenerated
	// sealedsession_sessions_regenerated_total 1
}
