package httpx

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// ClientChangeAction says what happens when a logged-in session is
// presented by a client whose network prefix or User-Agent differs from
// the one that logged in.
type ClientChangeAction uint8

const (
	// ClientChangeReport raises an EventAnomaly and serves the session as
	// usual, re-binding it to the new client so that the event is raised
	// once per change. It is the default: networks change (mobile, VPN)
	// far more often than cookies are stolen.
	ClientChangeReport ClientChangeAction = iota
	// ClientChangeReauthenticate raises the event and logs the user out of
	// this session (new session ID, old one revoked); the session's other
	// values are kept, so the user logs in again and carries on.
	ClientChangeReauthenticate
	// ClientChangeRefuse raises the event and refuses the session like a
	// bad cookie: the handler gets a fresh anonymous session and the
	// cookies are cleared.
	ClientChangeRefuse
	// ClientChangeIgnore binds nothing and checks nothing.
	ClientChangeIgnore
)

// SessionLimitAction says what Login does when a user already has
// Config.MaxSessionsPerUser live sessions.
type SessionLimitAction uint8

const (
	// EvictOldest revokes the user's oldest sessions to make room. Default.
	EvictOldest SessionLimitAction = iota
	// RefuseNewLogin makes Login fail with an error matching
	// versioning.ErrTooManySessions.
	RefuseNewLogin
)

// Location is a place on Earth, as an application's own IP-to-location
// lookup (Config.Locate) returns it.
type Location struct {
	Latitude, Longitude float64
}

// distanceKm is the great-circle distance between two locations.
func distanceKm(a, b Location) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (b.Latitude - a.Latitude) * rad
	dlon := (b.Longitude - a.Longitude) * rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(a.Latitude*rad)*math.Cos(b.Latitude*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// The coarse client binding kept in a logged-in session is one uint64:
// the high 32 bits are a hash of the network prefix (3 bytes of an IPv4
// /24, 6 of an IPv6 /48; 0 when unknown), the low 32 bits a hash of the
// User-Agent. Both are FNV-1a: the payload is sealed, so the hashes need
// not be cryptographic, only stable across instances and cheap.
var bindKey = codec.NewReservedKey[uint64]("_bind")

const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

func fnv32(b []byte) uint32 {
	h := uint32(fnvOffset32)
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime32
	}
	return h
}

func fnv32s(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime32
	}
	return h
}

// clientNet returns the coarse network prefix of the request's client.
func (m *Manager) clientNet(r *http.Request) (netip.Prefix, bool) {
	var addr netip.Addr
	if m.cfg.ClientIP != nil {
		addr = m.cfg.ClientIP(r)
	} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		addr = ap.Addr()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		addr, _ = netip.ParseAddr(host)
	}
	if !addr.IsValid() {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}

func prefixBytes(p netip.Prefix) []byte {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		return b[:3]
	}
	b := a.As16()
	return b[:6]
}

func uaHash(r *http.Request) uint32 {
	h := uint32(fnvOffset32)
	for _, v := range r.Header["User-Agent"] {
		h = fnv32s(h, v)
	}
	return h
}

func (m *Manager) netHash(r *http.Request) uint32 {
	if p, ok := m.clientNet(r); ok {
		return fnv32(prefixBytes(p))
	}
	return 0
}

// bind records the client that logs in.
func (m *Manager) bind(s *Session) {
	if m.cfg.OnClientChange == ClientChangeIgnore {
		return
	}
	_ = bindKey.Set(s.payload(), uint64(m.netHash(s.req))<<32|uint64(uaHash(s.req)))
}

// checkClient compares a logged-in session's binding with the request. It
// reports whether the session may be served as it is.
func (m *Manager) checkClient(s *Session) bool {
	if m.cfg.OnClientChange == ClientChangeIgnore || s.p == nil || s.p.Header().UserID == "" {
		return true
	}
	b, ok := bindKey.Get(s.p)
	if !ok {
		return true // sessions issued before binding existed, or legacy ones
	}
	what := ""
	if uaHash(s.req) != uint32(b) {
		what = "user agent"
	}
	if nh := m.netHash(s.req); nh != 0 && nh != uint32(b>>32) {
		if what != "" {
			what += " and "
		}
		what += "network prefix"
	}
	if what == "" {
		return true
	}
	h := s.p.Header()
	reason := fmt.Errorf("%w: %s changed since login", ErrClientChanged, what)
	m.emit(s, Event{Kind: EventAnomaly, Reason: reason, SessionTag: h.ID.Tag(), UserID: h.UserID})
	switch m.cfg.OnClientChange {
	case ClientChangeReport:
		// Bind to the client now presenting the session, so the event is
		// raised once per change rather than on every request.
		m.bind(s)
	case ClientChangeRefuse:
		s.p = nil
		s.fromClient = false
		s.renew, s.reseal = false, false
		m.reject(s, reason, h)
		return false
	case ClientChangeReauthenticate:
		user := h.UserID
		if err := s.regenerate(); err != nil {
			// The old ID could not be revoked: refuse rather than keep it.
			s.p = nil
			s.fromClient = false
			m.reject(s, err, h)
			return false
		}
		m.untrack(s.ctx, user, s.origID)
		h.UserID = ""
		h.UserEpoch = 0
		bindKey.Delete(s.p)
		s.p.MarkDirty()
	}
	return true
}

// track records a login with the store's SessionTracker, enforcing the
// concurrent-session limit, and reports simultaneous use from distant
// networks. It runs before the session is changed, so a refused login
// leaves it as it was.
func (m *Manager) track(s *Session, userID string, id codec.SessionID) error {
	if m.tracker == nil {
		return nil
	}
	info, netp, haveNet := m.sessionInfo(s, id, s.now)
	others, err := m.tracker.Sessions(s.ctx, userID)
	if err != nil {
		return fmt.Errorf("httpx: login: list sessions: %w", err)
	}
	idle := m.checker.Policy().IdleTimeout
	reported := false
	for _, o := range others {
		// A session that idled out is dead even though its entry lives
		// until its absolute deadline: it must not hold a slot.
		if !o.LastSeen.Add(idle).After(s.now) {
			if err := m.tracker.RemoveSession(s.ctx, userID, o.ID); err != nil {
				return fmt.Errorf("httpx: login: forget idle session: %w", err)
			}
			continue
		}
		if reported || !haveNet || o.Network == "" || o.Network == info.Network || s.now.Sub(o.LastSeen) > m.cfg.SimultaneousWindow {
			continue
		}
		if m.distant(o.Network, netp) {
			m.emit(s, Event{Kind: EventAnomaly, Reason: fmt.Errorf("%w: %s and %s", ErrSimultaneousUse, o.Network, info.Network), SessionTag: o.ID.Tag(), UserID: userID})
			reported = true
		}
	}
	evicted, err := m.tracker.AddSession(s.ctx, userID, info, m.cfg.MaxSessionsPerUser, m.cfg.OnSessionLimit == EvictOldest)
	// Sessions the store evicted are revoked even if the add itself then
	// failed (a store may evict and still report an error, e.g. a write
	// not replicated in time): an evicted session must not stay usable.
	for _, e := range evicted {
		if rerr := m.store.Revoke(s.ctx, userID, e.ID, e.Expires); rerr != nil {
			return fmt.Errorf("httpx: login: revoke evicted session: %w", rerr)
		}
		m.emit(s, Event{Kind: EventDestroyed, SessionTag: e.ID.Tag(), UserID: userID})
	}
	if err != nil {
		return fmt.Errorf("httpx: login: %w", err)
	}
	return nil
}

// sessionInfo describes session id of the request's client for the
// tracker: created at created, seen now, ending at its absolute deadline.
// It also returns the client's network prefix, if known.
func (m *Manager) sessionInfo(s *Session, id codec.SessionID, created time.Time) (versioning.SessionInfo, netip.Prefix, bool) {
	info := versioning.SessionInfo{
		ID:       id,
		Created:  created,
		LastSeen: s.now,
		Expires:  created.Add(m.checker.Policy().AbsoluteTimeout),
		Client:   describeClient(s.req),
	}
	netp, ok := m.clientNet(s.req)
	if ok {
		info.Network = netp.String()
	}
	return info, netp, ok
}

// distant reports whether two networks are far apart: by the
// application's Locate hook when it has one, otherwise simply different.
func (m *Manager) distant(a string, b netip.Prefix) bool {
	if m.cfg.Locate == nil {
		return true
	}
	pa, err := netip.ParsePrefix(a)
	if err != nil {
		return true
	}
	la, ok1 := m.cfg.Locate(pa)
	lb, ok2 := m.cfg.Locate(b)
	if !ok1 || !ok2 {
		return true
	}
	return distanceKm(la, lb) >= m.cfg.DistantKm
}

func (m *Manager) untrack(ctx context.Context, userID string, id codec.SessionID) {
	if m.tracker == nil || userID == "" || id.IsZero() {
		return
	}
	_ = m.tracker.RemoveSession(ctx, userID, id)
}

// describeClient is a coarse, display-only description of the client.
func describeClient(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 120 {
		ua = ua[:120]
	}
	return ua
}

// Sessions lists userID's live sessions, oldest first. It needs a store
// that tracks sessions (Config.TrackSessions).
func (m *Manager) Sessions(ctx context.Context, userID string) ([]versioning.SessionInfo, error) {
	if m.tracker == nil {
		return nil, fmt.Errorf("httpx: Sessions: %w (set Config.TrackSessions with a store that tracks sessions)", ErrNoTracking)
	}
	return m.tracker.Sessions(ctx, userID)
}

// RevokeSession logs out one session of userID ("log out that device"):
// the ID is revoked until it would have expired and forgotten by the
// tracker.
func (m *Manager) RevokeSession(ctx context.Context, userID string, id codec.SessionID) error {
	if m.tracker == nil {
		return fmt.Errorf("httpx: RevokeSession: %w", ErrNoTracking)
	}
	sessions, err := m.tracker.Sessions(ctx, userID)
	if err != nil {
		return err
	}
	until := m.cfg.Now().Add(m.checker.Policy().AbsoluteTimeout)
	for _, si := range sessions {
		if si.ID == id {
			until = si.Expires
		}
	}
	if err := m.store.Revoke(ctx, userID, id, until); err != nil {
		return err
	}
	return m.tracker.RemoveSession(ctx, userID, id)
}
