package httpx

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"
)

// responseWriter wraps the handler's ResponseWriter so the session is
// saved before the first byte of the response: on the first WriteHeader,
// Write, ReadFrom, Flush or Hijack, or when the handler returns. It never
// buffers the body.
type responseWriter struct {
	http.ResponseWriter
	s       *Session
	aborted bool
}

// commit saves the session into h, once; later calls return the first
// outcome. From then on the session refuses every change.
func (s *Session) commit(h http.Header) error {
	if s.started {
		return s.saveErr
	}
	var start time.Time
	if s.m.overhead != nil {
		start = time.Now()
	}
	s.saveErr = s.m.save(s, h)
	s.started = true
	if s.m.overhead != nil {
		s.overhead += time.Since(start)
	}
	return s.saveErr
}

// before saves the session; it reports whether the handler's response
// may go on. When the save fails the ErrorHandler answers instead.
func (w *responseWriter) before() bool {
	if w.s.started {
		return !w.aborted
	}
	if err := w.s.commit(w.ResponseWriter.Header()); err != nil {
		w.aborted = true
		w.s.m.cfg.ErrorHandler(w.ResponseWriter, w.s.req, err)
		return false
	}
	return true
}

// WriteHeader saves the session, then sends the status code.
func (w *responseWriter) WriteHeader(code int) {
	if w.before() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write saves the session, then writes the body. It returns
// ErrResponseAborted when the session could not be saved.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.before() {
		return 0, ErrResponseAborted
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy's fast paths (sendfile) working.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.before() {
		return 0, ErrResponseAborted
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush saves the session and flushes the response.
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush reporting errors (http.ResponseController uses it).
func (w *responseWriter) FlushError() error {
	if !w.before() {
		return ErrResponseAborted
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack saves the session (its headers are lost with the hijacked
// connection) and hands over the connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.before() {
		return nil, nil, ErrResponseAborted
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
