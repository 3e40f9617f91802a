package httpx

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/sealed"
)

func sealedLen(plaintextLen int) int { return sealed.SealedLen(plaintextLen) }

// needsWrite reports whether the response must carry a new sealed session.
func (s *Session) needsWrite() bool {
	if s.p == nil {
		return false
	}
	return s.p.Dirty() || s.regenerated || s.renew || s.reseal || s.migrated
}

// commit writes the session's Set-Cookie (or Session-Token) headers. It
// runs once, before the response header is sent. On error nothing has been
// added to the header, so the client's previous cookie stays valid.
func (s *Session) commit(h http.Header) error {
	if s.committed {
		return s.commitErr
	}
	s.committed = true
	if s.m.overhead != nil {
		start := time.Now()
		defer func() { s.overhead += time.Since(start) }()
	}
	s.commitErr = s.write(h)
	return s.commitErr
}

func (s *Session) write(h http.Header) error {
	m := s.m
	if !s.needsWrite() {
		switch {
		case s.bearer && (s.destroyed || s.clearBad):
			h[TokenHeader] = []string{""}
			markPrivate(h)
		case s.destroyed:
			for i := 0; i < m.cfg.MaxChunks; i++ {
				h["Set-Cookie"] = append(h["Set-Cookie"], m.clearLine(m.names[i]))
			}
			markPrivate(h)
		case s.clearBad:
			s.clearPresent(h, 0)
			markPrivate(h)
		}
		if s.clearLegacy {
			h["Set-Cookie"] = append(h["Set-Cookie"], clearLegacyLine(m.cfg.Legacy.CookieName()))
		}
		return nil
	}
	if s.rejected != nil && s.cs.present != 0 && !s.clearBad {
		// The client's session could not be checked because the store is
		// down. Writing this (anonymous) session would replace a cookie
		// that may well be valid once the store answers: refuse instead.
		return s.rejected
	}
	created := s.p.Header().ID.IsZero()
	if err := s.ensureID(); err != nil {
		return err
	}
	hd := s.p.Header()
	hd.LastSeen = s.now
	if s.renew && m.tracker != nil && hd.UserID != "" && !s.regenerated {
		// Best effort: the tracker's last-seen is for display.
		_ = m.tracker.TouchSession(s.ctx, hd.UserID, hd.ID, s.now)
	}
	textLen := sealed.SealedLen(s.p.EncodedLen())

	var (
		n   = 1
		err error
		ad  = m.bearer
	)
	if !s.bearer {
		if n, _, err = m.plan(textLen); err != nil {
			return err
		}
		ad = m.contexts[n]
	} else if textLen > m.cfg.MaxTotalCookieBytes {
		return &SizeError{Size: textLen, Budget: m.cfg.MaxTotalCookieBytes, Chunks: 1, MaxChunks: 1}
	}

	bp := m.getBuf()
	defer m.bufs.Put(bp)
	buf := s.p.AppendEncode((*bp)[:0])
	plainLen := len(buf)
	out, err := m.sealer.Seal(buf, buf[:plainLen], ad)
	if err != nil {
		return err
	}
	text := out[plainLen:]
	*bp = out[:0]

	if s.bearer {
		h[TokenHeader] = []string{string(text)}
	} else {
		maxAge := m.maxAge(hd, s.now)
		lines := h["Set-Cookie"]
		size := (len(text) + n - 1) / n
		for i := 0; i < n; i++ {
			end := min((i+1)*size, len(text))
			lines = append(lines, m.setCookieLine(m.names[i], text[i*size:end], maxAge))
		}
		h["Set-Cookie"] = lines
		s.clearPresent(h, n)
		if s.clearLegacy {
			h["Set-Cookie"] = append(h["Set-Cookie"], clearLegacyLine(m.cfg.Legacy.CookieName()))
		}
	}
	markPrivate(h)

	var kind EventKind
	switch {
	case s.migrated:
		kind = EventMigrated
	case s.regenerated:
		kind = EventRegenerated
	case created:
		kind = EventCreated
	case s.reseal:
		kind = EventResealed
	case s.renew:
		kind = EventRenewed
	default:
		return nil // a change to a current session: not an event
	}
	if m.cfg.Observer != nil {
		m.emit(s, Event{Kind: kind, SessionTag: hd.ID.Tag(), UserID: hd.UserID})
	}
	return nil
}

// clearPresent deletes chunk cookies from index from on. When the request
// carried a chunked session, the whole fixed range of chunk names past
// from is cleared, so no stale chunk can survive a shrink; otherwise only
// the names the request actually carried.
func (s *Session) clearPresent(h http.Header, from int) {
	m := s.m
	multi := s.cs.present&^1 != 0
	for i := from; i < m.cfg.MaxChunks; i++ {
		if multi || s.cs.present&(1<<i) != 0 {
			h["Set-Cookie"] = append(h["Set-Cookie"], m.clearLine(m.names[i]))
		}
	}
}

// markPrivate keeps shared caches from storing a response that sets a
// session cookie.
func markPrivate(h http.Header) {
	cc := h.Get("Cache-Control")
	switch {
	case cc == "":
		h["Cache-Control"] = []string{"private, no-cache=\"Set-Cookie\""}
	case strings.Contains(cc, "no-store") || strings.Contains(cc, "private"):
	default:
		cc = strings.ReplaceAll(cc, "public", "private")
		if !strings.Contains(cc, "private") {
			cc += ", private"
		}
		h.Set("Cache-Control", cc)
	}
}

// writer wraps the handler's ResponseWriter so the session is committed
// before the first byte of the response. It never buffers the body.
type writer struct {
	http.ResponseWriter
	s       *Session
	r       *http.Request
	aborted bool
}

// before commits the session; it reports whether the handler's response
// may go on.
func (w *writer) before() bool {
	if w.s.committed {
		return !w.aborted
	}
	if err := w.s.commit(w.ResponseWriter.Header()); err != nil {
		w.aborted = true
		w.s.m.cfg.ErrorHandler(w.ResponseWriter, w.r, err)
		return false
	}
	return true
}

// finish commits a session the handler never wrote a response for.
func (w *writer) finish() { w.before() }

// WriteHeader commits the session, then sends the status code.
func (w *writer) WriteHeader(code int) {
	if w.before() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session, then writes the body. It returns
// ErrResponseAborted when the session could not be saved.
func (w *writer) Write(b []byte) (int, error) {
	if !w.before() {
		return 0, ErrResponseAborted
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy's fast paths (sendfile) working.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if !w.before() {
		return 0, ErrResponseAborted
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush commits the session and flushes the response.
func (w *writer) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush reporting errors (http.ResponseController uses it).
func (w *writer) FlushError() error {
	if !w.before() {
		return ErrResponseAborted
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session (its headers are lost with the hijacked
// connection) and hands over the connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.before() {
		return nil, nil, ErrResponseAborted
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ = errors.New
