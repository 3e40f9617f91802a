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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

func TestFlushCommitsBeforeBody(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		_ = noteKey.Set(s, "streamed")
		assert.NoError(t, http.NewResponseController(w).Flush(), "ResponseController.Flush")
		io.WriteString(w, "chunk1\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "chunk2\n")
	}))
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	// The first line arrives before the handler finishes, so the body was
	// not buffered, and the cookie came with the header.
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	require.Equal(t, "chunk1\n", line, "first line")
	require.Len(t, resp.Header.Values("Set-Cookie"), 1, "Set-Cookie lines on a flushed response")
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
	require.Equal(t, http.StatusCreated, rr.Code, "cookies %v", rr.Result().Cookies())
	require.Len(t, rr.Result().Cookies(), 1, "cookies")
}

func TestHijackWorks(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err, "hijack") {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "hijacked", string(b), "body")
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
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, deadlineErr, "SetWriteDeadline through the wrapper")
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
	require.ErrorIs(t, writeErr, httpx.ErrResponseAborted, "write error")
	require.Equal(t, 500, rr.Code, "body %q", rr.Body.String())
	require.NotContains(t, rr.Body.String(), "should not")
}

func TestCacheControlPublicMadePrivate(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		_ = noteKey.Set(httpx.FromContext(r.Context()), "x")
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	cc := rr.Header().Get("Cache-Control")
	require.NotContains(t, cc, "public", "Cache-Control")
	require.Contains(t, cc, "private", "Cache-Control")
}

func TestFromContextPanicsWithRemedy(t *testing.T) {
	defer func() {
		r := recover()
		s, _ := r.(string)
		require.Contains(t, s, "Manager.Wrap", "panic %v", r)
	}()
	httpx.FromContext(t.Context())
}

func TestStoreDownKeepsCookie(t *testing.T) {
	down := &flakyStore{Store: memstore.New(nil)}
	e := newEnv(t, func(c *httpx.Config) { c.Store = down })
	c := newClient(t, e.srv)
	c.post("/login", "u", "sam")
	before := cookieHeader(c.cookies())
	down.fail.Store(true)
	// Reading: an anonymous session, and the cookie is left alone.
	resp, body := c.do("GET", "/whoami", nil)
	require.Equal(t, "user= note= gen=0", body, "store down")
	require.Empty(t, resp.Header.Values("Set-Cookie"), "store down")
	// Writing would replace the logged-in cookie with an anonymous one:
	// the request fails with 503 instead, and the cookie survives.
	resp, _ = c.post("/note", "v", "lost?")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "write while store down")
	require.Empty(t, resp.Header.Values("Set-Cookie"), "write while store down")
	require.Equal(t, before, cookieHeader(c.cookies()), "cookie changed during the outage")
	down.fail.Store(false)
	require.Equal(t, "user=sam note= gen=1", c.get("/whoami"), "after the outage")
	require.NotEmpty(t, e.rec.reasons(), "no rejection reason recorded")
	require.Equal(t, "store_unavailable", e.rec.reasons()[0], "reasons %v", e.rec.reasons())
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
