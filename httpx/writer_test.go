package httpx_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"

	"github.com/sealedsession/sealedsession/httpx"
)

func TestFlushCommitsBeforeBody(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		_ = noteKey.Set(s, "streamed")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		io.WriteString(w, "chunk1\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "chunk2\n")
	}))
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first line arrives before the handler finishes, so the body was
	// not buffered, and the cookie came with the header.
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	if line != "chunk1\n" {
		t.Fatalf("first line %q", line)
	}
	if len(resp.Header.Values("Set-Cookie")) != 1 {
		t.Fatal("no Set-Cookie on a flushed response")
	}
}

func TestSetCookieBeforeWriteHeader(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = noteKey.Set(httpx.FromContext(r.Context()), "x")
		w.WriteHeader(http.StatusCreated)
		// Changes after the header is sent cannot be saved.
		_ = noteKey.Set(httpx.FromContext(r.Context()), "late")
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if rr.Code != http.StatusCreated || len(rr.Result().Cookies()) != 1 {
		t.Fatalf("code %d cookies %v", rr.Code, rr.Result().Cookies())
	}
}

func TestHijackWorks(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hijacked" {
		t.Fatalf("body %q", b)
	}
}

func TestUnwrapForResponseController(t *testing.T) {
	e := newEnv(t, nil)
	var deadlineErr error
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadlineErr = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
		w.Write([]byte("ok"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if deadlineErr != nil {
		t.Fatalf("SetWriteDeadline through the wrapper: %v", deadlineErr)
	}
}

func TestAbortedWriteReturnsError(t *testing.T) {
	e := newEnv(t, nil)
	var writeErr error
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		fill(s)
		s.Payload().Header().UserID = strings.Repeat("u", 255) // past the budget, behind the guard
		_, writeErr = w.Write([]byte("should not be sent"))
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if !errors.Is(writeErr, httpx.ErrResponseAborted) {
		t.Fatalf("write error %v", writeErr)
	}
	if rr.Code != 500 || strings.Contains(rr.Body.String(), "should not") {
		t.Fatalf("code %d body %q", rr.Code, rr.Body.String())
	}
}

func TestCacheControlPublicMadePrivate(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		_ = noteKey.Set(httpx.FromContext(r.Context()), "x")
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if cc := rr.Header().Get("Cache-Control"); strings.Contains(cc, "public") || !strings.Contains(cc, "private") {
		t.Fatalf("Cache-Control %q", cc)
	}
}

func TestFromContextPanicsWithRemedy(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "Manager.Wrap") {
			t.Fatalf("panic %v", r)
		}
	}()
	httpx.FromContext(t.Context())
}

func TestStoreDownKeepsCookie(t *testing.T) {
	down := &flakyStore{Store: memstore.New()}
	e := newEnv(t, func(c *httpx.Config) { c.Store = down })
	c := newClient(t, e.srv)
	c.post("/login", "u", "sam")
	before := cookieHeader(c.cookies())
	down.fail.Store(true)
	// Reading: an anonymous session, and the cookie is left alone.
	resp, body := c.do("GET", "/whoami", nil)
	if body != "user= note= gen=0" || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("store down: %q %q", body, resp.Header.Values("Set-Cookie"))
	}
	// Writing would replace the logged-in cookie with an anonymous one:
	// the request fails with 503 instead, and the cookie survives.
	resp, _ = c.post("/note", "v", "lost?")
	if resp.StatusCode != http.StatusServiceUnavailable || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("write while store down: %d %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if cookieHeader(c.cookies()) != before {
		t.Fatal("cookie changed during the outage")
	}
	down.fail.Store(false)
	if got := c.get("/whoami"); got != "user=sam note= gen=1" {
		t.Fatalf("after the outage: %q", got)
	}
	if e.rec.reasons()[0] != "store_unavailable" {
		t.Fatal(e.rec.reasons())
	}
}

// flakyStore fails every call while fail is set, like a store that is down.
type flakyStore struct {
	versioning.Store
	fail atomic.Bool
}

func (f *flakyStore) err() error {
	return &versioning.StoreError{Op: "test", Err: errors.New("connection refused")}
}

func (f *flakyStore) Epoch(ctx context.Context, u string) (uint64, error) {
	if f.fail.Load() {
		return 0, f.err()
	}
	return f.Store.Epoch(ctx, u)
}

func (f *flakyStore) Lookup(ctx context.Context, u string, id codec.SessionID) (versioning.SessionState, error) {
	if f.fail.Load() {
		return versioning.SessionState{}, f.err()
	}
	return f.Store.Lookup(ctx, u, id)
}
