// Command example serves a small session-backed application and its
// Prometheus metrics on loopback:
//
//	go run ./metrics/prometheus/example -addr 127.0.0.1:8080
//	curl -c jar -b jar -X POST 127.0.0.1:8080/login?user=alice
//	curl -c jar -b jar 127.0.0.1:8080/
//	curl 127.0.0.1:8080/metrics | grep sealedsession_
//
// Sessions are sealed with the key ring in $SESSION_KEYS, or with a fresh
// random key when it is unset (every restart then logs everyone out, which
// is fine for a demonstration only). Cookies are sent over plain http, so
// run it on loopback only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	promsession "github.com/sealedsession/sealedsession/metrics/prometheus"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

var visits = codec.NewKey[int64]("visits")

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "loopback address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refusing to listen on %s: this example sends cookies over plain http, use a loopback address", addr)
	}
	keys, err := loadKeys()
	if err != nil {
		return err
	}
	h, err := newHandler(keys, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("serving http://%s/ and http://%s/metrics", addr, addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func loadKeys() (*sealed.Keyring, error) {
	if s := os.Getenv("SESSION_KEYS"); s != "" {
		return sealed.ParseKeyring(s)
	}
	key, err := sealed.GenerateKey()
	if err != nil {
		return nil, err
	}
	log.Print("SESSION_KEYS is unset: using a random key; sessions end when the program stops")
	return sealed.NewKeyring(key)
}

// newHandler returns the application wrapped by the session middleware,
// with /metrics beside it. Session events go to the metrics and, at debug
// level and up, to logger.
func newHandler(keys *sealed.Keyring, logger *slog.Logger) (http.Handler, error) {
	metrics, err := promsession.New(promsession.Options{})
	if err != nil {
		return nil, err
	}
	mgr, err := httpx.New(httpx.Config{
		Keys:     keys,
		Store:    memstore.New(nil),
		Cookie:   httpx.CookieConfig{InsecureAllowPlainHTTP: true}, // loopback demonstration over plain http
		Observer: httpx.MultiObserver(metrics, httpx.NewSlogObserver(logger)),
	})
	if err != nil {
		return nil, err
	}

	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		n, _ := visits.Get(s)
		if err := visits.Set(s, n+1); err != nil {
			http.Error(w, "cannot update the session", http.StatusInternalServerError)
			return
		}
		user := s.UserID()
		if user == "" {
			user = "anonymous"
		}
		fmt.Fprintf(w, "hello %s, visit %d\n", user, n+1)
	})
	app.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		if user == "" {
			http.Error(w, "user is required", http.StatusBadRequest)
			return
		}
		// A real application checks a password here.
		if err := httpx.FromContext(r.Context()).Login(user); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "logged in as %s\n", user)
	})
	app.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Logout(); err != nil {
			http.Error(w, "logout failed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "logged out")
	})

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("/", mgr.Wrap(app))
	return mux, nil
}
