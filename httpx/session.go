package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/sealed"
)

// Session is the session of one request, as a handler sees it. Get it with
// FromContext (or Manager.FromContext, or Manager.Load). It implements
// codec.Values, so typed keys read and write it:
//
//	var cartKey = codec.NewKey[Cart]("cart")
//	cart, ok := cartKey.Get(s)
//
// Every change either reaches the client or fails loudly: a value that
// would not fit the size budget is refused when it is set (a *SizeError),
// and once the response has started every change (Key.Set, Key.Delete,
// AddFlash, Login, Logout, Regenerate) returns an error matching
// ErrResponseStarted and changes nothing.
//
// A Session belongs to its request: it is not safe for concurrent use by
// several goroutines and must not be kept after the handler returns.
type Session struct {
	m   *Manager
	req *http.Request
	now time.Time
	p   *codec.Payload // nil until a session exists or is asked for
	t   transport      // how the session travels, chosen once when read
	st  *state         // the request's state this session lives in

	origID      codec.SessionID // the ID of the session the client presented, if accepted
	presented   bool            // the request carried a session (valid or not)
	fromClient  bool            // p came from a valid cookie or token
	rejected    error           // why the client's session was refused, if it was
	change      EventKind       // a pending change that needs a new seal even if no value changed
	destroyed   bool            // Logout was called
	clearLegacy bool            // delete the legacy cookie

	started  bool  // the response has started: nothing can change any more
	saveErr  error // the outcome of the save
	overhead time.Duration
}

// guard is the Session as the codec.Guard of its payload: it refuses a
// change that would not fit the size budget, or that comes after the
// response started. (A named type keeps CheckChange out of Session's
// method set.)
type guard Session

// CheckChange implements codec.Guard.
func (g *guard) CheckChange(p *codec.Payload) error {
	s := (*Session)(g)
	if s.started {
		return s.late()
	}
	_, err := s.planFor(p.EncodedLen())
	return err
}

// ctx is the request's own context (without the session), for store
// calls and events.
func (s *Session) ctx() context.Context { return s.st.ctx.Context }

// late reports, as an event and an error, a change asked for after the
// response started.
func (s *Session) late() error {
	return s.m.saveFailed(s, ErrResponseStarted)
}

// mark records a pending change; the strongest wins (migrated, then
// regenerated, resealed, renewed).
func (s *Session) mark(k EventKind) {
	if changeRank(k) > changeRank(s.change) {
		s.change = k
	}
}

func changeRank(k EventKind) int {
	switch k {
	case EventRenewed:
		return 1
	case EventResealed:
		return 2
	case EventRegenerated:
		return 3
	case EventMigrated:
		return 4
	}
	return 0
}

// payload returns the session's payload, creating an empty anonymous one
// if there is none yet. Its ID is assigned when it is first needed.
func (s *Session) payload() *codec.Payload {
	if s.p == nil {
		s.adopt(codec.NewPayload(codec.Header{Version: codec.Version}))
	}
	return s.p
}

// adopt makes p the session's payload, guarded by the session.
func (s *Session) adopt(p *codec.Payload) {
	s.p = p
	p.SetGuard((*guard)(s))
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

// AddFlash queues a message shown once (see Flashes). It fails, queueing
// nothing, when the message would not fit the size budget (a *SizeError)
// or the response has started (ErrResponseStarted).
func (s *Session) AddFlash(msg string) error {
	if s.started {
		return s.late()
	}
	return s.payload().AddFlash(msg)
}

// Flashes returns the queued flash messages and removes them. Once the
// response has started they are returned but stay queued (the removal
// could not reach the client).
func (s *Session) Flashes() []string {
	if s.p == nil {
		return nil
	}
	return s.p.Flashes()
}

// Login makes userID the session's user. It issues a new session ID (so
// a session ID planted before login is useless after it), raises the
// generation, starts a new absolute timeout, and captures the user's
// current epoch so that ForceLogout can end it. Values are kept. If the
// session was already logged in, its old ID is revoked; an anonymous
// pre-login ID is not (it carries no privilege, and revoking it would
// let strangers grow the store).
//
// On error nothing has changed: not the session, not the store's record
// of the user's sessions.
func (s *Session) Login(userID string) error {
	if s.started {
		return s.late()
	}
	if userID == "" {
		return errors.New("httpx: Login: empty user ID")
	}
	if len(userID) > codec.MaxUserIDLen {
		return fmt.Errorf("httpx: Login: user ID is %d bytes, at most %d", len(userID), codec.MaxUserIDLen)
	}
	if err := s.fitsLogin(userID); err != nil {
		return fmt.Errorf("httpx: login: %w", err)
	}
	epoch, err := s.m.store.Epoch(s.ctx(), userID)
	if err != nil {
		return fmt.Errorf("httpx: login: read epoch: %w", err)
	}
	newID, err := codec.NewSessionID()
	if err != nil {
		return err
	}
	if err := s.m.track(s, userID, newID, epoch); err != nil {
		return err
	}
	if err := s.rotateID(newID); err != nil {
		s.m.untrack(s.ctx(), userID, newID)
		return err
	}
	h := s.header()
	h.UserID = userID
	h.UserEpoch = epoch
	h.IssuedAt = s.now
	h.LastSeen = s.now
	s.m.bind(s)
	s.m.markSeen(s)
	return nil
}

// loginReserve is the room Login keeps for the values it adds beside the
// user ID (the client binding and the tracker's last-seen), with margin.
const loginReserve = 48

// fitsLogin reports, before Login changes anything, whether the session
// logged in as userID would still fit the size budget.
func (s *Session) fitsLogin(userID string) error {
	h := s.header()
	old := h.UserID
	h.UserID = userID
	n := s.p.EncodedLen()
	h.UserID = old
	_, err := s.planFor(n + loginReserve)
	return err
}

// Regenerate gives the session a new ID and raises its generation, keeping
// user and values: call it when privileges change. A logged-in session's
// old ID is revoked.
func (s *Session) Regenerate() error {
	if s.started {
		return s.late()
	}
	id, err := codec.NewSessionID()
	if err != nil {
		return err
	}
	user := s.UserID()
	if user != "" && s.m.tracker != nil {
		info, _, _ := s.m.sessionInfo(s, id, s.IssuedAt())
		info.Epoch = s.p.Header().UserEpoch
		if _, err := s.m.tracker.AddSession(s.ctx(), user, info, 0, false); err != nil {
			return fmt.Errorf("httpx: regenerate: %w", err)
		}
	}
	if err := s.rotateID(id); err != nil {
		s.m.untrack(s.ctx(), user, id)
		return err
	}
	return nil
}

// rotateID is the one way a session changes its ID (Login, Regenerate,
// reauthentication): the old ID, if the client presented it and it was
// logged in, is revoked and forgotten by the tracker; then the new ID
// and generation are set. On error nothing has changed.
func (s *Session) rotateID(id codec.SessionID) error {
	p := s.payload()
	h := p.Header()
	if s.fromClient && !h.ID.IsZero() && h.UserID != "" {
		if err := s.m.revoke(s.ctx(), h, s.now); err != nil {
			return fmt.Errorf("httpx: revoke old session ID: %w", err)
		}
		s.m.untrack(s.ctx(), h.UserID, h.ID)
	}
	h.ID = id
	h.Generation++
	if h.IssuedAt.IsZero() {
		h.IssuedAt = s.now
	}
	h.LastSeen = s.now
	p.MarkDirty()
	s.mark(EventRegenerated)
	return nil
}

// Logout ends the session: a logged-in session's ID is revoked until any
// copy of its cookie would have expired anyway, every chunk cookie is
// cleared, and the handler continues with a fresh anonymous session.
//
// If the revocation fails (the store is down: the error matches
// versioning.ErrStoreUnavailable), Logout returns the error and changes
// nothing, so a copy of the cookie cannot come back to life when the
// store returns; answer the user that logging out failed.
func (s *Session) Logout() error {
	if s.started {
		return s.late()
	}
	if s.p != nil && s.fromClient && !s.p.Header().ID.IsZero() {
		h := s.p.Header()
		if h.UserID != "" {
			if err := s.m.revoke(s.ctx(), h, s.now); err != nil {
				return fmt.Errorf("httpx: logout: revoke session ID: %w", err)
			}
			s.m.untrack(s.ctx(), h.UserID, h.ID)
		}
		s.m.emit(s, Event{Kind: EventDestroyed, SessionTag: h.ID.Tag(), UserID: h.UserID})
	}
	s.p = nil
	s.destroyed = true
	s.fromClient = false
	s.change = 0
	return nil
}

// Remember chooses this session's cookie lifetime, as a "remember me"
// box at login would: d > 0 makes the cookie persistent for d from now
// (never past the session's absolute deadline); d == 0 makes it a
// browser-session cookie, dropped when the browser closes; d < 0 returns
// to the Config default (Cookie.BrowserSession). The choice is sealed in
// the session, so it holds across renewals; call it after Login (which
// starts a new absolute timeout). The server's idle and absolute timeouts
// apply whatever the cookie's lifetime.
func (s *Session) Remember(d time.Duration) error {
	if s.started {
		return s.late()
	}
	switch {
	case d < 0:
		return rememberKey.Delete(s)
	case d == 0:
		return rememberKey.Set(s, -1)
	}
	return rememberKey.Set(s, s.now.Add(d).UnixMilli())
}

// UseToken makes this response carry the session to an API client as a
// token in the Session-Token header instead of a cookie (Config.AllowBearer
// must be set): an API or mobile client starts a session with a plain
// request (no Authorization header, nothing logged as a rejection), the
// handler calls UseToken (typically with Login), and the client sends the
// token back as "Authorization: Bearer <token>", which keeps the session
// on the token from then on. A cookie the request carried is left as it
// is (a session it carried goes on in the token too, same ID: logging
// out of either ends both). UseToken on a request that already came with
// a token does nothing.
func (s *Session) UseToken() error {
	if s.started {
		return s.late()
	}
	if !s.m.cfg.AllowBearer {
		return fmt.Errorf("httpx: UseToken: %w: set Config.AllowBearer", ErrConfig)
	}
	if s.t == &s.m.bearerT {
		return nil
	}
	if _, err := s.m.bearerT.plan(sealed.SealedLen(s.payload().EncodedLen()), 0); err != nil {
		return err
	}
	s.t = &s.m.bearerT
	s.presented = false // the token transport carried nothing
	s.payload().MarkDirty()
	return nil
}

// UsesToken reports whether the session travels as a Bearer token (the
// request came with one, or UseToken was called) rather than in cookies.
// A browser never sends a token by itself, so such a request cannot be a
// cross-site request forgery.
func (s *Session) UsesToken() bool { return s.t == &s.m.bearerT }

// CookieBytes returns how many bytes the session's cookies take (or would
// take if written now) in the Cookie request header; for a Bearer client,
// the token's length.
func (s *Session) CookieBytes() int {
	l, _ := s.planFor(s.payload().EncodedLen())
	return l.cookieBytes
}

// HeaderBytes returns how many bytes of response header lines saving the
// session now would write, counting each Max-Age at its longest (10
// digits) as the budget check does: an upper bound, a few bytes above the
// lines as sent. Cookie.MaxHeaderBytes bounds it.
func (s *Session) HeaderBytes() int {
	l, _ := s.planFor(s.payload().EncodedLen())
	return l.headerBytes
}

// Remaining returns about how many more bytes of encoded values fit in
// the size budget (each value byte costs about 4/3 of a byte of the
// response header, as base64); negative when the session is already over
// it.
func (s *Session) Remaining() int {
	l, err := s.planFor(s.payload().EncodedLen())
	var se *SizeError
	if errors.As(err, &se) && se.Limit == LimitChunks {
		return (s.m.cfg.Cookie.MaxChunks*s.m.chunkMax - sealed.SealedLen(s.payload().EncodedLen())) * 3 / 4
	}
	return (s.m.cfg.Cookie.MaxHeaderBytes - l.headerBytes) * 3 / 4
}

// CheckSize returns a *SizeError (Is ErrTooLarge) if the session as it
// stands would not fit the size budget, or nil. Values set through a Key
// are checked as they are set; CheckSize is for changes made to the
// header directly.
func (s *Session) CheckSize() error {
	_, err := s.planFor(s.payload().EncodedLen())
	return err
}

// planFor is the transport's plan for a payload of encodedLen bytes,
// with the other lines the same save writes: the one size rule that Set,
// Login, CheckSize, Remaining and the save itself all apply.
func (s *Session) planFor(encodedLen int) (layout, error) {
	return s.t.plan(sealed.SealedLen(encodedLen), s.m.extraLines(s))
}
