package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/legacy"
)

// The read half of a request: choose the transport, open what it carries,
// check it, and leave in the Session either an accepted session or the
// reason it was refused.

// state is everything one request needs, allocated once.
type state struct {
	s       Session
	w       responseWriter
	ctx     sessionContext
	req     http.Request // the request the handler gets: the client's, with ctx
	cookies cookieTransport
	payload codec.Payload // the decoded session
	// hdr backs the Vary and Cache-Control values the middleware adds,
	// so they cost no allocation of their own; each is its own
	// full-capacity slice, so a handler appending to one copies it.
	hdr [2]string
	// pt holds the session's plaintext when it fits (typical sessions do;
	// see TestStateSize). It comes last: the garbage collector scans an
	// object only up to its last pointer, so these bytes are never
	// scanned.
	pt [408]byte
}

// newState returns the per-request state with the session's transport
// chosen: a Bearer token when allowed and present, cookies otherwise.
func (m *Manager) newState(r *http.Request) *state {
	st := &state{}
	s := &st.s
	// Sealed times have millisecond precision: so does the request's
	// clock, so that deadlines computed now and after a round trip agree.
	s.m, s.req, s.now, s.st = m, r, truncateMs(m.now()), st
	st.ctx = sessionContext{Context: r.Context(), s: s}
	st.cookies.m = m
	s.t = &st.cookies
	if m.cfg.AllowBearer {
		if _, ok := bearerToken(r); ok {
			s.t = &m.bearerT
		}
	}
	return st
}

// truncateMs is t.Truncate(time.Millisecond), without the monotonic
// reading, at a fraction of the cost: a millisecond divides a second, so
// the remainder is the part of t's nanoseconds below a millisecond, and
// Round(0) only strips the monotonic reading (Truncate's general division
// showed in the read's profile).
func truncateMs(t time.Time) time.Time {
	return t.Add(-time.Duration(t.Nanosecond() % int(time.Millisecond))).Round(0)
}

// load reads and checks the session the request carries.
func (m *Manager) load(r *http.Request, st *state) {
	s := &st.s
	defer st.cookies.release()
	text, ad, present, err := s.t.read(r)
	s.presented = present
	if !present {
		if v := st.cookies.legacy; v != "" && m.cfg.Legacy != nil {
			m.loadLegacy(s, v)
		}
		return
	}
	if err != nil {
		m.reject(s, err, nil)
		return
	}
	var pt []byte
	if n := sealed.OpenedLen(len(text)); n <= len(st.pt) {
		pt = st.pt[:0]
	} else {
		pt = make([]byte, 0, n)
	}
	pt, info, err := m.sealer.Open(pt, text, ad)
	if err != nil {
		m.reject(s, err, nil)
		return
	}
	migrated := false
	if m.cfg.Migrations != nil && len(pt) > 0 && pt[0] != codec.Version {
		if pt, err = m.cfg.Migrations.Upgrade(pt); err != nil {
			m.reject(s, err, nil)
			return
		}
		migrated = true
	}
	p := &st.payload
	if err := codec.DecodeOwnedInto(p, pt, nil); err != nil {
		m.reject(s, err, nil)
		return
	}
	verdict, err := m.checker.CheckAt(s.ctx(), p.Header(), s.now)
	if verdict == versioning.Rejected {
		m.reject(s, err, p.Header())
		return
	}
	s.adopt(p)
	s.fromClient = true
	s.origID = p.Header().ID
	if verdict == versioning.Renew {
		s.mark(EventRenewed)
	}
	if migrated || !info.Primary {
		s.mark(EventResealed)
	}
	m.checkClient(s)
}

// loadLegacy serves a request that carries a legacy cookie and no current
// session. An anonymous legacy session is simply adopted (it carries no
// privilege, so nothing is stored); a logged-in one is imported once,
// through Login.
func (m *Manager) loadLegacy(s *Session, value string) {
	lc, err := m.cfg.Legacy.Read(value, s.now)
	s.clearLegacy = true
	if err != nil {
		m.emit(s, Event{Kind: EventRejected, Reason: fmt.Errorf("%w: %w", ErrLegacyRejected, err)})
		return
	}
	p := lc.Payload
	user := p.Header().UserID
	if user != "" {
		if err := m.claimLegacy(s, user, lc); err != nil {
			if errors.Is(err, versioning.ErrStoreUnavailable) {
				s.clearLegacy = false // it may well be fine once the store answers
				m.reject(s, err, nil)
				return
			}
			m.emit(s, Event{Kind: EventRejected, Reason: err, UserID: user})
			return
		}
		p.Header().UserID = "" // the values come in anonymous; Login makes them the user's
	}
	s.adopt(p)
	s.mark(EventMigrated)
	p.MarkDirty()
	if user != "" {
		if err := s.Login(user); err != nil {
			// Refused (a session limit, a store failure): the values stay,
			// anonymous; the legacy cookie is spent.
			m.emit(s, Event{Kind: EventRejected, Reason: fmt.Errorf("%w: %w", ErrLegacyRejected, err), UserID: user})
		}
	}
}

// claimLegacy checks that a logged-in legacy cookie may be imported and
// records that it was: never after the user's epoch was bumped, and only
// once (its fingerprint is stored like a revoked ID until the cookie would
// expire anyway).
func (m *Manager) claimLegacy(s *Session, user string, lc legacy.Cookie) error {
	// One per-user read: the user's epoch and whether this cookie's
	// fingerprint was already recorded for that user.
	st, err := m.store.Lookup(s.ctx(), user, lc.Fingerprint)
	if err != nil {
		return err
	}
	if st.Epoch != 0 {
		return fmt.Errorf("%w: the user was logged out everywhere since the switch (epoch %d)", ErrLegacyRejected, st.Epoch)
	}
	if st.Revoked {
		return fmt.Errorf("%w: this legacy cookie was already imported", ErrLegacyRejected)
	}
	return m.store.Revoke(s.ctx(), user, lc.Fingerprint, lc.Expires)
}

// reject records that the session the client sent is not accepted. The
// handler gets a fresh anonymous session; what the response does with
// the client's cookies is decided when it is saved (see decide).
func (m *Manager) reject(s *Session, reason error, h *codec.Header) {
	s.rejected = reason
	if m.cfg.Observer == nil {
		return
	}
	e := Event{Kind: EventRejected, Reason: reason}
	if h != nil {
		e.SessionTag = h.ID.Tag()
		e.UserID = h.UserID
	}
	m.emit(s, e)
}

// storeDown reports whether the client's session was refused only because
// the store could not be asked: it may well be valid once the store
// answers, so its cookie must be kept.
func (s *Session) storeDown() bool {
	return s.rejected != nil && errors.Is(s.rejected, versioning.ErrStoreUnavailable)
}
