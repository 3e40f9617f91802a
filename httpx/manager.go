package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sealedsession/sealedsession/codec"
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

	names    [HardMaxChunks]string // chunk cookie names; [0] is the base name
	contexts [HardMaxChunks + 1][]byte
	bearer   []byte
	attrLen  int // longest attribute string
	chunkMax int // longest value one cookie may carry

	bufs sync.Pool // *[]byte scratch buffers

	overhead OverheadObserver          // nil unless the Observer implements it
	tracker  versioning.SessionTracker // nil unless Config.TrackSessions
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
	m := &Manager{cfg: c, store: c.Store}
	if m.store == nil {
		m.store = memstore.New()
	}
	policy := versioning.Policy{
		IdleTimeout:     c.IdleTimeout,
		AbsoluteTimeout: c.AbsoluteTimeout,
		RenewThreshold:  c.RenewThreshold,
		ClockSkew:       c.ClockSkew,
		Now:             c.Now,
	}.WithDefaults()
	if err := policy.Validate(); err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	if policy.IdleTimeout > policy.AbsoluteTimeout {
		return nil, fmt.Errorf("%w: IdleTimeout (%v) is longer than AbsoluteTimeout (%v): the idle timeout would never apply", ErrConfig, policy.IdleTimeout, policy.AbsoluteTimeout)
	}
	m.checker, err = versioning.NewChecker(policy, versioning.CheckerOptions{Store: m.store, OnStoreError: c.OnStoreError})
	if err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	for i := range m.names {
		m.names[i] = ChunkName(c.CookieName, i)
	}
	for n := 1; n <= HardMaxChunks; n++ {
		m.contexts[n] = CookieContext(c.CookieName, n)
	}
	m.bearer = []byte(BearerContext)
	m.attrLen = m.maxAttrLen()
	m.chunkMax = MaxSetCookieLine - len(m.names[HardMaxChunks-1]) - 1 - m.attrLen
	m.sealer, err = sealed.NewSealer(c.Keys, SealPurpose, &sealed.SealerOptions{MaxSize: max(c.MaxTotalCookieBytes, 64<<10)})
	if err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	m.overhead, _ = c.Observer.(OverheadObserver)
	if c.TrackSessions {
		t, ok := m.store.(versioning.SessionTracker)
		if !ok {
			return nil, fmt.Errorf("%w: TrackSessions needs a store that implements versioning.SessionTracker; %T does not", ErrConfig, m.store)
		}
		m.tracker = t
	}
	if m.cfg.ErrorHandler == nil {
		m.cfg.ErrorHandler = defaultErrorHandler
	}
	// The smallest session must fit: an empty anonymous payload.
	if _, _, err := m.plan(sealed.SealedLen(codec.NewPayload(codec.Header{}).EncodedLen() + codec.MaxUserIDLen)); err != nil {
		return nil, errors.Join(ErrConfig, err)
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
func (m *Manager) CookieName() string { return m.cfg.CookieName }

// Store returns the store the Manager uses for epochs and revocations.
func (m *Manager) Store() versioning.Store { return m.store }

// Policy returns the timeouts in force, defaults filled in.
func (m *Manager) Policy() versioning.Policy { return m.checker.Policy() }

// ForceLogout logs userID out everywhere: it bumps the user's epoch, so
// every session issued to that user before now is refused on every
// instance sharing the store.
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
// Anonymous sessions are not affected. Tracked sessions (TrackSessions)
// are not enumerated here; they stop counting against the concurrent
// session limit as they idle out.
func (m *Manager) LogoutAll(ctx context.Context) error {
	return m.store.BumpGlobalEpoch(ctx)
}

type ctxKey struct{}

// FromContext returns the session of the request whose context ctx is.
// It panics if the handler was not wrapped by Manager.Wrap.
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

// state is everything one request needs, allocated once.
type state struct {
	s       Session
	w       writer
	ctx     sessionContext
	payload codec.Payload // the decoded session
	pt      [512]byte     // its plaintext, when it fits (typical sessions do)
}

// sessionContext carries the session in the request's context without a
// separate allocation (it lives in the per-request state).
type sessionContext struct {
	context.Context
	s *Session
}

// Value returns the session for the package's key and defers to the parent
// context otherwise.
func (c *sessionContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// Wrap returns next wrapped by the session middleware: the request's
// session is in its context (FromContext), and any change is written back
// before the first byte of the response.
func (m *Manager) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if m.overhead != nil {
			start = time.Now()
		}
		st := &state{}
		s := &st.s
		m.load(r, s, st)
		if m.overhead != nil {
			s.overhead = time.Since(start)
		}
		st.w = writer{ResponseWriter: w, s: s, r: r}
		h := w.Header()
		// A fresh slice each time: handlers may write into header slices.
		h["Vary"] = append(h["Vary"], "Cookie")
		st.ctx = sessionContext{Context: r.Context(), s: s}
		r = r.WithContext(&st.ctx)
		st.w.r = r
		next.ServeHTTP(&st.w, r)
		st.w.finish()
		if m.overhead != nil {
			m.overhead.ObserveOverhead(s.overhead)
		}
	})
}

// load reads and checks the session a request carries into s.
func (m *Manager) load(r *http.Request, s *Session, st *state) {
	s.m = m
	s.ctx = r.Context()
	s.req = r
	s.now = m.cfg.Now()
	var (
		text []byte
		ad   []byte
		buf  *[]byte
	)
	if m.cfg.AllowBearer {
		if tok, ok := bearerToken(r); ok {
			s.bearer = true
			if len(tok) > m.cfg.MaxTotalCookieBytes {
				m.reject(s, ErrOversizedCookie, nil)
				return
			}
			text, ad = stringBytes(tok), m.bearer
		}
	}
	if !s.bearer {
		cs := &s.cs
		m.readCookies(r.Header, cs)
		if cs.present == 0 && !cs.dup && !cs.over {
			if cs.legacy != "" && m.cfg.Legacy != nil {
				m.loadLegacy(s, cs.legacy)
			}
			return
		}
		var n int
		var err error
		if cs.present&^1 != 0 {
			buf = m.getBuf()
			defer m.bufs.Put(buf)
		}
		var scratch []byte
		if buf != nil {
			scratch = *buf
		}
		text, n, err = cs.join(scratch)
		if err != nil {
			m.reject(s, err, nil)
			return
		}
		s.chunks = n
		ad = m.contexts[n]
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
	if m.cfg.Migrations != nil && len(pt) > 0 && pt[0] != codec.Version {
		if pt, err = m.cfg.Migrations.Upgrade(pt); err != nil {
			m.reject(s, err, nil)
			return
		}
		s.reseal = true
	}
	p := &st.payload
	if err := codec.DecodeOwnedInto(p, pt, nil); err != nil {
		m.reject(s, err, nil)
		return
	}
	verdict, err := m.checker.CheckAt(s.ctx, p.Header(), s.now)
	if verdict == versioning.Rejected {
		m.reject(s, err, p.Header())
		return
	}
	s.p = p
	s.fromClient = true
	s.origID = p.Header().ID
	s.renew = verdict == versioning.Renew
	s.reseal = s.reseal || !info.Primary
	m.checkClient(s)
}

func (m *Manager) loadLegacy(s *Session, value string) {
	p, err := m.cfg.Legacy.Read(value, s.now)
	if err != nil {
		s.clearLegacy = true
		m.emit(s, Event{Kind: EventRejected, Reason: fmt.Errorf("%w: %w", ErrLegacyRejected, err)})
		return
	}
	if h := p.Header(); h.UserID != "" {
		// A logged-in legacy session joins the user's current epoch, so
		// ForceLogout ends it like any other.
		epoch, err := m.store.Epoch(s.ctx, h.UserID)
		if err != nil {
			m.reject(s, err, h)
			return
		}
		h.UserEpoch = epoch
	}
	s.p = p
	s.migrated = true
	s.clearLegacy = true
	p.MarkDirty()
}

// reject records that the session the client sent is not accepted. The
// handler gets a fresh anonymous session. The cookies are cleared unless
// the store is merely unavailable, in which case they may well be fine
// once it answers again.
func (m *Manager) reject(s *Session, reason error, h *codec.Header) {
	s.rejected = reason
	s.clearBad = !errors.Is(reason, versioning.ErrStoreUnavailable)
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

func (m *Manager) emit(s *Session, e Event) {
	if m.cfg.Observer == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = s.now
	}
	m.cfg.Observer.Observe(s.ctx, e)
}

func bearerToken(r *http.Request) (string, bool) {
	v := r.Header["Authorization"]
	if len(v) != 1 {
		return "", false
	}
	const prefix = "Bearer "
	if len(v[0]) <= len(prefix) || !strings.EqualFold(v[0][:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(v[0][len(prefix):]), true
}

func (m *Manager) getBuf() *[]byte {
	if b, ok := m.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 8<<10)
	return &b
}

// plan returns how many cookies a sealed text of textLen bytes needs and
// how many bytes they take in the Cookie header, or a *SizeError.
func (m *Manager) plan(textLen int) (n, size int, err error) {
	n = (textLen + m.chunkMax - 1) / m.chunkMax
	if n < 1 {
		n = 1
	}
	size = textLen + 2*(n-1)
	for i := 0; i < n && i < HardMaxChunks; i++ {
		size += len(m.names[i]) + 1
	}
	if n > m.cfg.MaxChunks || size > m.cfg.MaxTotalCookieBytes {
		return n, size, &SizeError{Size: size, Budget: m.cfg.MaxTotalCookieBytes, Chunks: n, MaxChunks: m.cfg.MaxChunks}
	}
	return n, size, nil
}

// maxAge returns the cookie lifetime in whole seconds for a session whose
// header is h, at now: until the idle deadline, which the Checker already
// caps at the absolute one.
func (m *Manager) maxAge(h *codec.Header, now time.Time) int {
	d := m.checker.IdleDeadline(h).Sub(now)
	secs := int(d / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}
