package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

// Session is the session of one request, as a handler sees it. Get it with
// FromContext. It implements codec.Values, so typed keys read and write it:
//
//	var cartKey = codec.NewKey[Cart]("cart")
//	cart, ok := cartKey.Get(s)
//
// A Session belongs to its request: it is not safe for concurrent use by
// several goroutines and must not be kept after the handler returns.
type Session struct {
	m   *Manager
	ctx context.Context
	req *http.Request
	now time.Time
	p   *codec.Payload // nil until a session exists or is asked for
	cs  cookieSet      // the session cookies the request carried

	origID      codec.SessionID // the session ID the client presented
	chunks      int             // how many cookies the request's session used
	fromClient  bool            // p came from a valid cookie or token
	bearer      bool            // the session came (or would come) in an Authorization header
	renew       bool            // due for sliding renewal
	reseal      bool            // opened with a non-primary key, or migrated format
	regenerated bool            // new ID this request
	destroyed   bool            // Logout was called
	migrated    bool            // came from a legacy cookie
	clearLegacy bool            // delete the legacy cookie
	clearBad    bool            // the request's session cookies were refused: delete them
	rejected    error           // why the client's session was refused, if it was

	committed bool
	commitErr error
	overhead  time.Duration // middleware time, when an OverheadObserver wants it
}

// payload returns the session's payload, creating an empty anonymous one
// if there is none yet. Its ID is assigned when it is first needed.
func (s *Session) payload() *codec.Payload {
	if s.p == nil {
		s.p = codec.NewPayload(codec.Header{Version: codec.Version})
	}
	return s.p
}

func (s *Session) header() *codec.Header { return s.payload().Header() }

// ensureID gives a new session its ID and issue time.
func (s *Session) ensureID() error {
	h := s.header()
	if !h.ID.IsZero() {
		return nil
	}
	id, err := codec.NewSessionID()
	if err != nil {
		return err
	}
	h.ID = id
	h.IssuedAt = s.now
	h.LastSeen = s.now
	return nil
}

// Payload returns the session's values and header; it makes *Session a
// codec.Values. Changing the header directly bypasses Login and friends:
// prefer them.
func (s *Session) Payload() *codec.Payload { return s.payload() }

// ID returns the session ID. A new session gets its ID on first use.
func (s *Session) ID() codec.SessionID {
	if err := s.ensureID(); err != nil {
		return codec.SessionID{}
	}
	return s.header().ID
}

// Tag returns the short, non-reversible tag of the session ID, for logs.
func (s *Session) Tag() string { return s.ID().Tag() }

// UserID returns the logged-in user, or "" for an anonymous session.
func (s *Session) UserID() string {
	if s.p == nil {
		return ""
	}
	return s.p.Header().UserID
}

// Authenticated reports whether a user is logged in to this session.
func (s *Session) Authenticated() bool { return s.UserID() != "" }

// IsNew reports whether the client did not present a valid session (none,
// or one that was refused): this session starts now.
func (s *Session) IsNew() bool { return !s.fromClient }

// Rejected returns why the session the client presented was refused, or
// nil. The client is never told; this is for the application's own logic
// (for example, asking to log in again after "idle_expired").
func (s *Session) Rejected() error { return s.rejected }

// IssuedAt returns when this session ID was issued (at login, for a
// logged-in session).
func (s *Session) IssuedAt() time.Time {
	if s.p == nil || s.p.Header().IssuedAt.IsZero() {
		return s.now
	}
	return s.p.Header().IssuedAt
}

// LastSeen returns when the session was last renewed.
func (s *Session) LastSeen() time.Time {
	if s.p == nil || s.p.Header().LastSeen.IsZero() {
		return s.now
	}
	return s.p.Header().LastSeen
}

// IdleDeadline returns when the session ends if no request renews it
// (never later than the absolute deadline).
func (s *Session) IdleDeadline() time.Time {
	h := s.times()
	return s.m.checker.IdleDeadline(&h)
}

// AbsoluteDeadline returns when the session ends however active it is.
func (s *Session) AbsoluteDeadline() time.Time {
	h := s.times()
	return s.m.checker.AbsoluteDeadline(&h)
}

// times is the header's issued-at and last-seen as the deadlines see them
// (now, for a session that has not been issued yet).
func (s *Session) times() codec.Header {
	return codec.Header{IssuedAt: s.IssuedAt(), LastSeen: s.LastSeen()}
}

// Generation returns the session's generation counter: it rises on login
// and every ID regeneration.
func (s *Session) Generation() uint32 {
	if s.p == nil {
		return 0
	}
	return s.p.Header().Generation
}

// AddFlash queues a message shown once (see Flashes).
func (s *Session) AddFlash(msg string) { s.payload().AddFlash(msg) }

// Flashes returns the queued flash messages and removes them.
func (s *Session) Flashes() []string {
	if s.p == nil {
		return nil
	}
	return s.p.Flashes()
}

// Login makes userID the session's user. It issues a new session ID
// (so a session ID planted before login is useless after it), raises the
// generation, starts a new absolute timeout, and captures the user's
// current epoch so that ForceLogout can end it. Values are kept. The
// pre-login session ID, if the client had one, is revoked.
func (s *Session) Login(userID string) error {
	if userID == "" {
		return errors.New("httpx: Login: empty user ID")
	}
	if len(userID) > codec.MaxUserIDLen {
		return fmt.Errorf("httpx: Login: user ID is %d bytes, at most %d", len(userID), codec.MaxUserIDLen)
	}
	epoch, err := s.m.store.Epoch(s.ctx, userID)
	if err != nil {
		return fmt.Errorf("httpx: login: read epoch: %w", err)
	}
	newID, err := codec.NewSessionID()
	if err != nil {
		return err
	}
	if err := s.m.track(s, userID, newID); err != nil {
		return err
	}
	prevUser := s.UserID()
	if err := s.regenerateTo(newID); err != nil {
		s.m.untrack(s.ctx, userID, newID)
		return err
	}
	s.m.untrack(s.ctx, prevUser, s.origID)
	h := s.header()
	h.UserID = userID
	h.UserEpoch = epoch
	h.IssuedAt = s.now
	h.LastSeen = s.now
	s.m.bind(s)
	return nil
}

// Regenerate gives the session a new ID and raises its generation, keeping
// user and values: call it when privileges change. The old ID is revoked.
func (s *Session) Regenerate() error {
	user := s.UserID()
	if user == "" || s.m.tracker == nil {
		return s.regenerate()
	}
	id, err := codec.NewSessionID()
	if err != nil {
		return err
	}
	old := s.header().ID
	info, _, _ := s.m.sessionInfo(s, id, s.IssuedAt())
	if _, err := s.m.tracker.AddSession(s.ctx, user, info, 0, false); err != nil {
		return fmt.Errorf("httpx: regenerate: %w", err)
	}
	if err := s.regenerateTo(id); err != nil {
		s.m.untrack(s.ctx, user, id)
		return err
	}
	s.m.untrack(s.ctx, user, old)
	return nil
}

func (s *Session) regenerate() error {
	id, err := codec.NewSessionID()
	if err != nil {
		return err
	}
	return s.regenerateTo(id)
}

func (s *Session) regenerateTo(id codec.SessionID) error {
	p := s.payload()
	h := p.Header()
	if s.fromClient && !h.ID.IsZero() {
		if err := s.m.store.Revoke(s.ctx, h.UserID, h.ID, s.m.checker.RevocationDeadline(h, s.now)); err != nil {
			return fmt.Errorf("httpx: revoke old session ID: %w", err)
		}
	}
	h.ID = id
	h.Generation++
	if h.IssuedAt.IsZero() {
		h.IssuedAt = s.now
	}
	h.LastSeen = s.now
	p.MarkDirty()
	s.regenerated = true
	return nil
}

// Logout ends the session: its cookies (every chunk) are cleared, and its
// ID is revoked until it would have expired anyway, so a copy of the
// cookie is refused. The handler continues with a fresh anonymous session.
// The cookies are cleared even when revocation fails; the error says so.
func (s *Session) Logout() error {
	var err error
	if s.p != nil && s.fromClient && !s.p.Header().ID.IsZero() {
		h := s.p.Header()
		if rerr := s.m.store.Revoke(s.ctx, h.UserID, h.ID, s.m.checker.RevocationDeadline(h, s.now)); rerr != nil {
			err = fmt.Errorf("httpx: logout: revoke session ID: %w", rerr)
		}
		s.m.untrack(s.ctx, h.UserID, h.ID)
		s.m.emit(s, Event{Kind: EventDestroyed, SessionTag: h.ID.Tag(), UserID: h.UserID})
	}
	s.p = nil
	s.destroyed = true
	s.fromClient = false
	s.renew, s.reseal, s.regenerated, s.migrated = false, false, false, false
	return err
}

// CookieBytes returns how many bytes the session's cookies take (or would
// take if written now) in the Cookie request header.
func (s *Session) CookieBytes() int {
	_, size, _ := s.m.plan(s.sealedLen())
	return size
}

// Remaining returns how many more bytes of encoded values fit in the
// cookie budget; negative when the session is already over it.
func (s *Session) Remaining() int {
	_, size, err := s.m.plan(s.sealedLen())
	if err != nil {
		var se *SizeError
		if errors.As(err, &se) && se.Chunks > se.MaxChunks {
			return s.m.cfg.MaxChunks*s.m.chunkMax - s.sealedLen()
		}
	}
	return s.m.cfg.MaxTotalCookieBytes - size
}

// CheckSize returns a *SizeError (Is ErrTooLarge) if the session as it
// stands would not fit the cookie budget, or nil. Use it after adding to a
// session to refuse the change gracefully instead of failing the response.
func (s *Session) CheckSize() error {
	_, _, err := s.m.plan(s.sealedLen())
	return err
}

func (s *Session) sealedLen() int {
	return sealedLen(s.payload().EncodedLen())
}
