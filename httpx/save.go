package httpx

import (
	"net/http"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

// The write half of a request: decide once what the response does with
// the session, then do it.

// outcome is what a response does with the session.
type outcome uint8

const (
	keep  outcome = iota // nothing to send
	issue                // seal and send the session
	drop                 // clear the client's session (logout, refused cookie)
	hold                 // the store is down: keep the client's cookie, fail the response
)

// decide is the one place that reads the session's state to say what the
// response does with it, and which event goes with a new seal (0: a plain
// change of values, not an event).
func (s *Session) decide() (outcome, EventKind) {
	if s.p != nil && (s.p.Dirty() || s.change != 0) {
		if s.presented && s.storeDown() {
			// The client's session could not be checked. Writing this
			// (anonymous) session would replace a cookie that may well be
			// valid once the store answers: fail instead.
			return hold, 0
		}
		kind := s.change
		if kind == 0 && !s.fromClient {
			// Not from the client (none, refused, or logged out): this is
			// its first seal, even if the handler already asked for its ID.
			kind = EventCreated
		}
		return issue, kind
	}
	if s.destroyed || (s.presented && s.rejected != nil && !s.storeDown()) {
		return drop, 0
	}
	return keep, 0
}

// save carries out the outcome into h, before any of the response is
// sent. On error h is unchanged, so the client's previous cookie stays
// valid, and an EventSaveFailed has been emitted.
func (m *Manager) save(s *Session, h http.Header) error {
	o, kind := s.decide()
	switch o {
	case hold:
		return m.saveFailed(s, s.rejected)
	case keep:
		m.clearLegacy(s, h)
		if s.UserID() != "" && len(h["Cache-Control"]) == 0 {
			// Served with a logged-in session: no shared cache may keep it.
			h["Cache-Control"] = s.headerValue(1, "private")
		}
		return nil
	case drop:
		s.t.clear(h, s.destroyed)
		m.clearLegacy(s, h)
		s.markPrivate(h)
		return nil
	}
	if err := s.ensureID(); err != nil {
		return m.saveFailed(s, err)
	}
	hd := s.p.Header()
	hd.LastSeen = s.now
	m.touch(s)
	l, err := s.planFor(s.p.EncodedLen())
	if err != nil {
		return m.saveFailed(s, err)
	}
	bp := m.getBuf()
	defer m.bufs.Put(bp)
	buf := s.p.AppendEncode((*bp)[:0])
	plainLen := len(buf)
	out, err := m.sealer.Seal(buf, buf[:plainLen], l.ad)
	if err != nil {
		return m.saveFailed(s, err)
	}
	*bp = out[:0]
	s.t.write(h, out[plainLen:], l, m.maxAge(s, hd))
	m.clearLegacy(s, h)
	s.markPrivate(h)
	if kind != 0 && m.cfg.Observer != nil {
		m.emit(s, Event{Kind: kind, SessionTag: hd.ID.Tag(), UserID: hd.UserID})
	}
	return nil
}

// saveFailed reports a save that could not reach the client.
func (m *Manager) saveFailed(s *Session, err error) error {
	if m.cfg.Observer != nil {
		e := Event{Kind: EventSaveFailed, Reason: err}
		if s.p != nil {
			e.SessionTag, e.UserID = s.p.Header().ID.Tag(), s.p.Header().UserID
		}
		m.emit(s, e)
	}
	return err
}

// extraLines is the response header bytes a save writes beside the
// session itself: the legacy cookie's clearing line.
func (m *Manager) extraLines(s *Session) int {
	if !s.clearLegacy {
		return 0
	}
	return setCookiePrefix + len(m.cfg.Legacy.ClearCookie()) + crlf
}

func (m *Manager) clearLegacy(s *Session, h http.Header) {
	if s.clearLegacy {
		h["Set-Cookie"] = append(h["Set-Cookie"], m.cfg.Legacy.ClearCookie())
	}
}

// rememberKey holds a session's own cookie lifetime choice
// (Session.Remember): -1 for a browser-session cookie, otherwise the Unix
// millisecond until which a persistent cookie lasts. Absent: the Config
// default.
var rememberKey = codec.NewReservedKey[int64]("_keep")

// maxAge returns the Max-Age, in whole seconds, of the cookie of a session
// whose header is h, or -1 for a browser-session cookie (no Max-Age). A
// persistent cookie lasts until the absolute deadline (the idle one with
// Cookie.MaxAgeIdle), or until the session's own Remember time if sooner.
func (m *Manager) maxAge(s *Session, h *codec.Header) int {
	persistent := !m.cfg.Cookie.BrowserSession
	var until time.Time
	if ms, ok := rememberKey.Get(s.p); ok {
		persistent = ms > 0
		until = time.UnixMilli(ms)
	}
	if !persistent {
		return -1
	}
	end := m.checker.AbsoluteDeadline(h)
	if m.cfg.Cookie.MaxAgeIdle {
		end = m.checker.IdleDeadline(h)
	}
	if !until.IsZero() && until.Before(end) {
		end = until
	}
	return max(1, int(end.Sub(s.now)/time.Second))
}

// markPrivate keeps shared caches from storing a response that sets or
// clears a session cookie.
func (s *Session) markPrivate(h http.Header) {
	cc := strings.Join(h["Cache-Control"], ", ")
	switch {
	case cc == "":
		h["Cache-Control"] = s.headerValue(1, `private, no-cache="Set-Cookie"`)
	case strings.Contains(cc, "no-store") || strings.Contains(cc, "private"):
	default:
		cc = strings.ReplaceAll(cc, "public", "private")
		if !strings.Contains(cc, "private") {
			cc += ", private"
		}
		h["Cache-Control"] = []string{cc}
	}
}

// addVary adds "Vary: Cookie" to h: every response of the middleware may
// depend on the session cookie. Never a slice shared between requests:
// handlers may write into header slices.
func (st *state) addVary(h http.Header) {
	if len(h["Vary"]) == 0 {
		st.hdr[0] = "Cookie"
		h["Vary"] = st.hdr[0:1:1]
		return
	}
	h["Vary"] = append(h["Vary"], "Cookie")
}

// headerValue returns a one-element header value backed by the request's
// state (slot 0 is Vary's, slot 1 Cache-Control's).
func (s *Session) headerValue(slot int, v string) []string {
	s.st.hdr[slot] = v
	return s.st.hdr[slot : slot+1 : slot+1]
}
