// Command helloserver serves a hello-world handler on loopback for the load
// test (bench/load.sh), one of three ways:
//
//	-mode bare           the handler alone
//	-mode sealedsession  wrapped by sealedsession's httpx middleware
//	-mode gorilla        reading a gorilla/sessions CookieStore session
//
// In the session modes the handler greets the user named in the session
// and answers 401 when there is none, so a load run whose cookie is not
// accepted shows up as non-2xx responses. At start it creates the typical
// benchmark session and writes the Cookie header that carries it to
// -cookie-file, then serves until interrupted or until -lifetime has
// passed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sealedsession/sealedsession/bench"
	"github.com/sealedsession/sealedsession/httpx"
)

func main() {
	mode := flag.String("mode", "bare", "bare, sealedsession or gorilla")
	addr := flag.String("addr", "127.0.0.1:18080", "listen address (loopback)")
	cookieFile := flag.String("cookie-file", "", "write the session's Cookie header here")
	lifetime := flag.Duration("lifetime", 10*time.Minute, "exit after this long even if not interrupted")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	printUA := flag.Bool("print-user-agent", false, "print the User-Agent the load test must send (the one the session logged in with), and exit")
	flag.Parse()
	if *printUA {
		fmt.Println(bench.UserAgent)
		return
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}

	h, cookie, err := build(*mode)
	if err != nil {
		log.Fatal(err)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("helloserver: -addr %q: only loopback addresses are allowed", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *cookieFile != "" {
		// Written after Listen: the file's presence means "ready".
		if err := os.WriteFile(*cookieFile, []byte(cookie), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(*lifetime):
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "helloserver: %s on http://%s\n", *mode, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
}

// build returns the handler for mode and the Cookie header to send it.
func build(mode string) (http.Handler, string, error) {
	s := bench.Typical(time.Now())
	switch mode {
	case "bare", "sealedsession":
		m, err := bench.NewManager(true) // plain http: wrk speaks no TLS here
		if err != nil {
			return nil, "", err
		}
		login := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ss := httpx.FromContext(r.Context())
			if err := ss.Login(s.UserID); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if err := bench.PutSession(ss, s); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}))
		cookie, err := setup(login)
		if err != nil {
			return nil, "", err
		}
		if mode == "bare" {
			// The same request bytes as sealedsession's, nothing opened,
			// and the same handler work: it greets the user it knows.
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				greet(w, s.UserID)
			}), cookie, nil
		}
		return m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uid := httpx.FromContext(r.Context()).UserID()
			greet(w, uid)
		})), cookie, nil
	case "gorilla":
		store := bench.NewGorillaStore()
		store.Options.Secure = false
		login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, _ := store.New(r, bench.GorillaCookieName)
			bench.GorillaPut(sess, s)
			if err := sess.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
		cookie, err := setup(login)
		if err != nil {
			return nil, "", err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, err := store.Get(r, bench.GorillaCookieName)
			uid, _ := sess.Values[bench.NameUserID].(string)
			if err != nil {
				uid = ""
			}
			greet(w, uid)
		}), cookie, nil
	}
	return nil, "", fmt.Errorf("helloserver: unknown -mode %q (bare, sealedsession, gorilla)", mode)
}

func greet(w http.ResponseWriter, uid string) {
	if uid == "" {
		http.Error(w, "no session", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("hello, " + uid + "\n"))
}

func setup(login http.Handler) (string, error) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/login", nil)
	// Log in from where wrk will come from (loopback, the browser's
	// User-Agent that load.sh sends), so that the middleware's client
	// binding sees the same client.
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("User-Agent", bench.UserAgent)
	login.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("helloserver: login: status %d: %s", rec.Code, rec.Body.String())
	}
	cookie := bench.CookieHeader("", rec.Result().Header)
	if cookie == "" {
		return "", errors.New("helloserver: login set no cookie")
	}
	return cookie, nil
}
