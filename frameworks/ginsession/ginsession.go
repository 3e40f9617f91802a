package ginsession

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// Options configures the middleware. The zero value is ready to use.
type Options struct {
	// ErrorHandler answers a request whose session could not be saved:
	// the store is down and the handler changed a session whose cookie
	// could not be checked, or the session no longer fits the budget (a
	// header edited past it). It runs instead of the handler's response,
	// before any of it was sent, and must write the answer itself; c.Writer
	// is gin's own writer while it runs. err matches
	// versioning.ErrStoreUnavailable or httpx.ErrTooLarge. Default:
	// DefaultErrorHandler.
	ErrorHandler func(c *gin.Context, err error)
}

// DefaultErrorHandler answers 503 Service Unavailable when err matches
// versioning.ErrStoreUnavailable and 500 Internal Server Error otherwise,
// with the status text as a plain-text body: nothing about the cause
// reaches the client.
func DefaultErrorHandler(c *gin.Context, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, versioning.ErrStoreUnavailable) {
		code = http.StatusServiceUnavailable
	}
	http.Error(c.Writer, http.StatusText(code), code)
	c.Abort()
}

// ctxKey finds the session in a gin.Context and in a request context.
type ctxKey struct{}

// Middleware returns the gin middleware for m with the default Options.
func Middleware(m *httpx.Manager) gin.HandlerFunc {
	return MiddlewareWith(m, Options{})
}

// MiddlewareWith returns the gin middleware for m: it loads the request's
// session (m.Load), makes it available to the handlers after it (Get,
// Lookup), and saves it (m.Save) before the response header is written,
// or after the handlers if they wrote nothing.
//
// A store that cannot be reached while the request's session is loaded
// does not fail the request: the handler sees an anonymous session (its
// Rejected reports the outage), and the client's cookie is kept unless the
// handler changes the session, which then fails the response through
// Options.ErrorHandler (503 by default).
func MiddlewareWith(m *httpx.Manager, opts Options) gin.HandlerFunc {
	if m == nil {
		panic("ginsession: nil *httpx.Manager")
	}
	onErr := opts.ErrorHandler
	if onErr == nil {
		onErr = DefaultErrorHandler
	}
	return func(c *gin.Context) {
		// An error here means the store is down: the session is anonymous
		// and Save holds the client's cookie; the request goes on.
		s, _ := m.Load(c.Request)
		c.Set(ctxKey{}, s)
		// httpx.NewContext: httpx.FromContext and m.FromContext find the
		// session in the request's context too, as under m.Wrap.
		c.Request = c.Request.WithContext(httpx.NewContext(c.Request.Context(), s))
		w := &writer{ResponseWriter: c.Writer, c: c, m: m, s: s, onErr: onErr}
		c.Writer = w
		defer func() { c.Writer = w.ResponseWriter }()
		c.Next()
		w.save() // the handlers wrote nothing (or panicked past Recovery's reach)
	}
}

// Get returns the session the middleware loaded for c. It panics if the
// middleware is not in c's handler chain (a programming error, as with
// httpx.FromContext).
func Get(c *gin.Context) *httpx.Session {
	s, ok := Lookup(c)
	if !ok {
		panic("ginsession: no session in this gin.Context; add ginsession.Middleware to the chain")
	}
	return s
}

// Lookup returns the session the middleware loaded, from a *gin.Context
// or from the request's context (c.Request.Context()), and reports
// whether there was one.
func Lookup(ctx context.Context) (*httpx.Session, bool) {
	if c, ok := ctx.(*gin.Context); ok {
		if v, ok := c.Get(ctxKey{}); ok {
			s, ok := v.(*httpx.Session)
			return s, ok
		}
		if c.Request == nil {
			return nil, false
		}
		ctx = c.Request.Context()
	}
	s, ok := httpx.Lookup(ctx)
	return s, ok
}

// writer is the gin.ResponseWriter the middleware puts in c.Writer: it
// saves the session before the first thing that could send the header,
// and delegates everything else to gin's writer.
type writer struct {
	gin.ResponseWriter
	c       *gin.Context
	m       *httpx.Manager
	s       *httpx.Session
	onErr   func(*gin.Context, error)
	saved   bool // Save was called
	aborted bool // and failed: the ErrorHandler answered
}

var _ gin.ResponseWriter = (*writer)(nil)

// save saves the session once and reports whether the handler's response
// may go on.
func (w *writer) save() bool {
	if w.saved {
		return !w.aborted
	}
	w.saved = true
	err := w.m.Save(w.ResponseWriter, w.c.Request, w.s)
	if err == nil {
		return true
	}
	w.aborted = true
	// The ErrorHandler writes through gin's own writer; the handler's
	// writes go on reaching this one, which drops them.
	mine := w.c.Writer
	w.c.Writer = w.ResponseWriter
	w.onErr(w.c, err)
	w.c.Writer = mine
	w.c.Abort()
	return false
}

// WriteHeader saves the session, then records the status (gin sends it
// with the first body write).
func (w *writer) WriteHeader(code int) {
	if w.save() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// WriteHeaderNow saves the session, then sends the header.
func (w *writer) WriteHeaderNow() {
	if w.save() {
		w.ResponseWriter.WriteHeaderNow()
	}
}

// Write saves the session, then writes the body. It returns
// httpx.ErrResponseAborted when the session could not be saved.
func (w *writer) Write(b []byte) (int, error) {
	if !w.save() {
		return 0, httpx.ErrResponseAborted
	}
	return w.ResponseWriter.Write(b)
}

// WriteString is Write for a string.
func (w *writer) WriteString(s string) (int, error) {
	if !w.save() {
		return 0, httpx.ErrResponseAborted
	}
	return w.ResponseWriter.WriteString(s)
}

// Flush saves the session, then flushes the response.
func (w *writer) Flush() {
	if w.save() {
		w.ResponseWriter.Flush()
	}
}

// Hijack saves the session (its header is lost with the hijacked
// connection), then hands over the connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.save() {
		return nil, nil, httpx.ErrResponseAborted
	}
	return w.ResponseWriter.Hijack()
}

// Unwrap returns gin's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
