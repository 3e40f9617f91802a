package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/wire"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// Manager is the session middleware. Create one with New; it is safe for
// concurrent use by any number of requests.
type Manager struct {
	cfg     Config
	store   versioning.Store
	checker *versioning.Checker
	sealer  *sealed.Sealer
	now     func() time.Time

	names        [HardMaxChunks]string // chunk cookie names; [0] is the base name
	contexts     [HardMaxChunks + 1][]byte
	bearer       []byte
	bearerT      bearerTransport
	attrLen      int // longest attribute string
	clearAttrLen int // attributes of a clearing line
	chunkMax     int // longest value one cookie may carry
	readMax      int // longest session a request may carry: longer is refused unread
	reader       wire.Reader

	bufs sync.Pool // *[]byte scratch buffers
	uas  *uaCache  // User-Agent binding hashes

	overhead OverheadObserver          // nil unless the Observer implements it
	tracker  versioning.SessionTracker // nil unless Config.Tracking
}

// New validates cfg and returns a Manager. It fails with an error that Is
// ErrConfig when the configuration is unusable: no key ring, a negative
// duration, an idle timeout longer than the absolute one, a cookie name
// that breaks the __Host- rules, a budget too small for one session.
func New(cfg Config) (*Manager, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: c, store: c.Store, now: c.Policy.Now, uas: newUACache()}
	if m.store == nil {
		// The default store expires revocations by the Manager's clock.
		m.store = memstore.New(&memstore.Options{Now: c.Policy.Now})
	}
	m.checker, err = versioning.NewChecker(c.Policy, versioning.CheckerOptions{Store: m.store, OnStoreError: c.OnStoreError})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for i := range m.names {
		m.names[i] = wire.ChunkName(c.Cookie.Name, i)
	}
	for n := 1; n <= HardMaxChunks; n++ {
		m.contexts[n] = wire.CookieContext(c.Cookie.Name, n)
	}
	m.bearer = []byte(wire.BearerContext)
	m.bearerT = bearerTransport{m: m}
	m.attrLen = len(m.appendAttrs(nil, 1e9)) // the longest Max-Age (a browser-session cookie has none)
	m.clearAttrLen = len(m.appendAttrs(nil, 0))
	m.chunkMax = MaxSetCookieLine - len(m.names[HardMaxChunks-1]) - 1 - m.attrLen
	m.readMax = max(c.Cookie.MaxHeaderBytes, HardMaxChunks*MaxSetCookieLine)
	m.reader = wire.Reader{Base: c.Cookie.Name, Limit: c.Cookie.MaxChunks, Max: m.readMax}
	if c.Legacy != nil {
		m.reader.Legacy = c.Legacy.CookieName()
	}
	m.sealer, err = sealed.NewSealer(c.Keys, wire.SealPurpose, &sealed.SealerOptions{MaxSize: m.readMax})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	m.overhead, _ = c.Observer.(OverheadObserver)
	if c.Tracking != nil {
		t, ok := m.store.(versioning.SessionTracker)
		if !ok {
			return nil, fmt.Errorf("%w: Tracking needs a store that implements versioning.SessionTracker; %T does not", ErrConfig, m.store)
		}
		m.tracker = t
	}
	// The largest header a session can have must fit, in either transport.
	smallest := sealed.SealedLen(codec.NewPayload(codec.Header{}).EncodedLen() + codec.MaxUserIDLen + 64)
	for _, t := range []transport{&cookieTransport{m: m}, &m.bearerT} {
		if _, err := t.plan(smallest, 0); err != nil {
			return nil, fmt.Errorf("%w: the budget cannot hold even an empty logged-in session: %w", ErrConfig, err)
		}
	}
	return m, nil
}

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, versioning.ErrStoreUnavailable) {
		code = http.StatusServiceUnavailable
	}
	http.Error(w, http.StatusText(code), code)
}

// CookieName returns the name of the session cookie (chunks add "-1", "-2", ...).
func (m *Manager) CookieName() string { return m.cfg.Cookie.Name }

// MaxHeaderBytes returns the size budget in force (Cookie.MaxHeaderBytes,
// default filled in).
func (m *Manager) MaxHeaderBytes() int { return m.cfg.Cookie.MaxHeaderBytes }

// Store returns the store the Manager uses for epochs and revocations.
func (m *Manager) Store() versioning.Store { return m.store }

// Policy returns the timeouts in force, defaults filled in.
func (m *Manager) Policy() versioning.Policy { return m.checker.Policy() }

// ForceLogout logs userID out everywhere: it bumps the user's epoch, so
// every session issued to that user before now is refused on every
// instance sharing the store, and frees the user's tracked sessions.
func (m *Manager) ForceLogout(ctx context.Context, userID string) error {
	if userID == "" {
		return errors.New("httpx: ForceLogout: empty user ID")
	}
	if _, err := m.store.BumpEpoch(ctx, userID); err != nil {
		return err
	}
	if m.tracker != nil {
		// Every tracked session of the user is dead now: free their slots.
		sessions, err := m.tracker.Sessions(ctx, userID)
		if err != nil {
			return err
		}
		for _, si := range sessions {
			if err := m.tracker.RemoveSession(ctx, userID, si.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// LogoutAll logs every user out everywhere (the global epoch is bumped).
// Anonymous sessions are not affected. Tracked sessions are not
// enumerated here; they stop counting against the concurrent-session
// limit as they idle out.
func (m *Manager) LogoutAll(ctx context.Context) error {
	return m.store.BumpGlobalEpoch(ctx)
}

// revoke revokes the session whose header is h, as of now.
func (m *Manager) revoke(ctx context.Context, h *codec.Header, now time.Time) error {
	return m.revokeID(ctx, h.UserID, h.ID, m.checker.RevocationDeadline(h, now))
}

// revokeID is the one place a session ID is revoked. Anonymous sessions
// are never revoked: they carry no privilege, and revoking them would let
// strangers grow the store.
func (m *Manager) revokeID(ctx context.Context, userID string, id codec.SessionID, until time.Time) error {
	if userID == "" {
		return nil
	}
	return m.store.Revoke(ctx, userID, id, until)
}

// trackedRevocationDeadline is Checker.RevocationDeadline for a tracked
// session, whose absolute deadline runs from its Created time.
func (m *Manager) trackedRevocationDeadline(si versioning.SessionInfo, now time.Time) time.Time {
	return m.checker.RevocationDeadline(&codec.Header{IssuedAt: si.Created}, now)
}

// ctxKey finds a session in a request context: the zero key matches the
// innermost Manager's session, a key with m only m's.
type ctxKey struct{ m *Manager }

// FromContext returns the session of the request whose context ctx is,
// from the innermost Manager that wrapped the handler. With several
// Managers on one request (an admin session beside the user session), use
// Manager.FromContext. It panics if no Manager wrapped the handler.
func FromContext(ctx context.Context) *Session {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	if !ok {
		panic("httpx: no session in context; wrap the handler with Manager.Wrap")
	}
	return s
}

// Lookup is like FromContext but reports false instead of panicking.
func Lookup(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// FromContext returns m's session of the request whose context ctx is,
// even when other Managers wrap the same handler. It panics if m did not
// wrap the handler.
func (m *Manager) FromContext(ctx context.Context) *Session {
	s, ok := ctx.Value(ctxKey{m}).(*Session)
	if !ok {
		panic("httpx: no session of this Manager in context; wrap the handler with its Wrap")
	}
	return s
}

// Lookup is like FromContext but reports false instead of panicking.
func (m *Manager) Lookup(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{m}).(*Session)
	return s, ok
}

// NewContext returns a copy of ctx that carries s, so that FromContext,
// Lookup and s's Manager's FromContext find it: for code that loads the
// session with Manager.Load (framework adapters) and hands the request on.
func NewContext(ctx context.Context, s *Session) context.Context {
	return &sessionContext{Context: ctx, s: s}
}

// Error answers a request with the Manager's ErrorHandler (Config), as
// the middleware does for a session that could not be saved: for code
// that saves with Manager.Save.
func (m *Manager) Error(w http.ResponseWriter, r *http.Request, err error) {
	m.cfg.ErrorHandler(w, r, err)
}

// sessionContext carries the session in the request's context without a
// separate allocation (it lives in the per-request state).
type sessionContext struct {
	context.Context
	s *Session
}

// Value returns the session for this package's keys and defers to the
// parent context otherwise.
func (c *sessionContext) Value(key any) any {
	if k, ok := key.(ctxKey); ok && (k.m == nil || k.m == c.s.m) {
		return c.s
	}
	return c.Context.Value(key)
}

// Wrap returns next wrapped by the session middleware: the request's
// session is in its context (FromContext), and any change is written back
// before the first byte of the response.
func (m *Manager) Wrap(next http.Handler) http.Handler {
	return &wrapped{m: m, next: next}
}

// wrapped is the middleware's handler. It is a named type, not a closure,
// so that ServeHTTP is compiled here, where the request copy is proven not
// to escape, rather than inlined into the caller's package.
type wrapped struct {
	m    *Manager
	next http.Handler
}

func (h *wrapped) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	var start time.Time
	if m.overhead != nil {
		start = time.Now()
	}
	st := m.newState(r)
	s := &st.s
	m.load(r, st)
	if m.overhead != nil {
		s.overhead = time.Since(start)
	}
	st.addVary(w.Header())
	// The handler's request lives in the state too: WithContext's copy is
	// made on the stack and copied in, one allocation fewer.
	st.req = *r.WithContext(&st.ctx)
	r = &st.req
	s.req = r
	st.w = responseWriter{ResponseWriter: w, s: s}
	h.next.ServeHTTP(&st.w, r)
	st.w.before() // a handler that wrote nothing
	if m.overhead != nil {
		m.overhead.ObserveOverhead(s.overhead)
	}
}

// Load reads the session r carries, for code that cannot use Wrap (as
// scs's Load). A missing or refused session gives a fresh anonymous one
// (Session.Rejected says why it was refused); the error is non-nil only
// when the store could not be asked (it matches
// versioning.ErrStoreUnavailable): the session is then anonymous, and
// Save keeps the client's cookie for later. Call Save before writing the
// response.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	st := m.newState(r)
	m.load(r, st)
	s := &st.s
	if s.storeDown() {
		return s, s.rejected
	}
	return s, nil
}

// Save writes s's outcome (a new cookie or token, a cleared one, or
// nothing) into w's header. Call it once, before the response header is
// written. On error nothing was added to the header, the client's
// previous cookie stays valid, and an EventSaveFailed was emitted; the
// caller answers the request. After Save, s refuses every change with
// ErrResponseStarted.
func (m *Manager) Save(w http.ResponseWriter, r *http.Request, s *Session) error {
	if s == nil || s.m != m {
		return errors.New("httpx: Save: the session does not belong to this Manager")
	}
	if s.started {
		return s.late()
	}
	h := w.Header()
	s.st.addVary(h)
	return s.commit(h)
}

func (m *Manager) emit(s *Session, e Event) {
	if m.cfg.Observer == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = s.now
	}
	m.cfg.Observer.Observe(s.ctx(), e)
}

func (m *Manager) getBuf() *[]byte {
	if b, ok := m.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 8<<10)
	return &b
}
