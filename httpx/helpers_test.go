package httpx_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/internal/testkit/eventrec"
)

// The shared test kit: a settable clock, an event recorder, a key ring.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClock() }

var newRing = testkit.NewRing

// recorder collects events (eventrec.Recorder with this file's shorthands).
type recorder struct{ eventrec.Recorder }

func (r *recorder) reasons() []string { return r.Reasons(httpx.EventRejected) }

func (r *recorder) kinds() []httpx.EventKind { return r.Kinds() }

func (r *recorder) all() []httpx.Event { return r.Events() }

func (r *recorder) reset() { r.Reset() }

var (
	noteKey = codec.NewKey[string]("note")
	blobKey = codec.NewKey[[]byte]("blob")
)

// app is the test application: a handful of routes over a Manager.
func app(m *httpx.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		note, _ := noteKey.Get(s)
		fmt.Fprintf(w, "user=%s note=%s gen=%d", s.UserID(), note, s.Generation())
	})
	mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, httpx.FromContext(r.Context()).ID())
	})
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if err := noteKey.Set(s, r.FormValue("v")); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /blob", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		n := 0
		fmt.Sscan(r.FormValue("n"), &n)
		if err := blobKey.Set(s, []byte(strings.Repeat("x", n))); err != nil {
			// Refused when set: the handler answers, the session is as it was.
			http.Error(w, "refused", http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /bloat", func(w http.ResponseWriter, r *http.Request) {
		// Grows the session past the budget behind the values' guard (a
		// direct header edit), so the save at the end fails.
		s := httpx.FromContext(r.Context())
		fill(s)
		s.Payload().Header().UserID = strings.Repeat("u", 255)
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if err := s.Login(r.FormValue("u")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Logout(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /plain", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})
	return m.Wrap(mux)
}

// goroutineT is the testing.TB of a worker goroutine a test starts and
// waits for: a failed require marks the test failed and ends the worker,
// as FailNow does on the test's own goroutine (FailNow itself must not be
// called from another goroutine).
type goroutineT struct{ testing.TB }

// FailNow marks the test failed and ends the calling worker.
func (g goroutineT) FailNow() {
	g.Fail()
	runtime.Goexit()
}

// client is a TLS test client with a cookie jar.
type client struct {
	t   testing.TB
	srv *httptest.Server
	c   *http.Client
}

func newClient(t testing.TB, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := *srv.Client()
	c.Jar = jar
	return &client{t: t, srv: srv, c: &c}
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (c *client) get(path string) string {
	_, b := c.do("GET", path, nil)
	return b
}

func (c *client) post(path string, kv ...string) (*http.Response, string) {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return c.do("POST", path, f)
}

// cookies returns the client's cookies for the server.
func (c *client) cookies() []*http.Cookie {
	u, _ := url.Parse(c.srv.URL)
	return c.c.Jar.Cookies(u)
}

// setCookies replaces the client's session cookies with cs.
func (c *client) setCookies(cs []*http.Cookie) {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(c.srv.URL)
	var out []*http.Cookie
	for _, k := range cs {
		k2 := *k
		k2.Secure = true
		k2.Path = "/"
		out = append(out, &k2)
	}
	jar.SetCookies(u, out)
	c.c.Jar = jar
}

// rawGet sends a request with exactly the given Cookie header.
func rawGet(t testing.TB, srv *httptest.Server, path, cookie string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	c := *srv.Client()
	c.Jar = nil
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func cookieHeader(cs []*http.Cookie) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// fill sets 64-byte values under fresh names until the next one would not
// fit the size budget.
func fill(s *httpx.Session) {
	for i := 0; ; i++ {
		if err := codec.NewKey[[]byte](fmt.Sprintf("f%03d", i)).Set(s, make([]byte, 64)); err != nil {
			return
		}
	}
}

// raisedBudget is the budget of a deployment whose proxy allows large
// response headers (docs/proxies.md): sessions past one cookie are chunked.
func raisedBudget(c *httpx.Config) { c.Cookie.MaxHeaderBytes = 12288 }
