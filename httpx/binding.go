package httpx

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/sealedsession/sealedsession/codec"
)

// ClientChangeAction says what happens when a logged-in session is
// presented by a client whose network prefix or User-Agent differs from
// the one that logged in.
type ClientChangeAction uint8

const (
	// ClientChangeReport raises an EventAnomaly and serves the session as
	// usual, re-binding it to the new client so that the event is raised
	// once per change. It is the default: networks change (mobile, VPN)
	// far more often than cookies are stolen. An unknown client address
	// is not a change under Report.
	ClientChangeReport ClientChangeAction = iota
	// ClientChangeReauthenticate raises the event, revokes the session
	// (the user logs in again) and gives the request a fresh anonymous
	// session: none of the old session's values go to the new client. An
	// unknown client address counts as a change.
	ClientChangeReauthenticate
	// ClientChangeRefuse raises the event and refuses the session like a
	// bad cookie, without revoking it: the handler gets a fresh anonymous
	// session and the cookies are cleared. An unknown client address
	// counts as a change.
	ClientChangeRefuse
	// ClientChangeIgnore binds nothing and checks nothing.
	ClientChangeIgnore
)

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

// clientAddr returns the request's client address (IPv4-mapped IPv6
// unmapped), false when it is unknown.
func (m *Manager) clientAddr(r *http.Request) (netip.Addr, bool) {
	var addr netip.Addr
	if m.cfg.Binding.ClientIP != nil {
		addr = m.cfg.Binding.ClientIP(r)
	} else if a, ok := ipv4Host(r.RemoteAddr); ok {
		return netip.AddrFrom4(a), true // the usual case, without netip's general parser
	} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		addr = ap.Addr()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		addr, _ = netip.ParseAddr(host)
	}
	addr = addr.Unmap()
	return addr, addr.IsValid()
}

// A client's coarse network prefix: the first 3 bytes of an IPv4 address
// (a /24), the first 6 of an IPv6 one (a /48).
const (
	coarse4Bytes = 3
	coarse6Bytes = 6
)

// clientNet returns the coarse network prefix of the request's client.
func (m *Manager) clientNet(r *http.Request) (netip.Prefix, bool) {
	addr, ok := m.clientAddr(r)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := coarse6Bytes * 8
	if addr.Is4() {
		bits = coarse4Bytes * 8
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}

// addrHash hashes the bytes of a's coarse prefix: those the prefix keeps,
// so a needs no masking first.
func addrHash(a netip.Addr) uint32 {
	b := a.As16()
	if a.Is4() {
		return fnv32(b[12 : 12+coarse4Bytes]) // the IPv4 bytes of the mapped form
	}
	return fnv32(b[:coarse6Bytes])
}

// uaHash is the binding hash of the request's User-Agent values.
func (m *Manager) uaHash(r *http.Request) uint32 {
	vs := r.Header["User-Agent"]
	if len(vs) == 1 {
		return m.uas.hash(vs[0])
	}
	h := uint32(fnvOffset32)
	for _, v := range vs {
		h = fnv32s(h, v)
	}
	return h
}

// uaCache remembers the binding hashes of the User-Agent strings seen
// last. A browser sends the same string, about a hundred bytes, on every
// request, and FNV-1a (fixed by SPEC.md) takes it a byte at a time, about
// 1 ns a byte; a hit costs a seeded hash and a string comparison instead.
// The cache is a fixed array of immutable entries swapped atomically:
// bounded (uaCacheSlots copies of at most uaCacheMaxLen bytes), safe
// for concurrent use without a lock, and never wrong, since an entry is
// used only for the exact string it was computed from. Strings more varied
// than the cache holds make lookups miss; a miss costs the hash it saves
// plus a seeded hash, and now and then a copy.
type uaCache struct {
	seed  maphash.Seed
	slots [uaCacheSlots]atomic.Pointer[uaEntry]
}

type uaEntry struct {
	ua string
	h  uint32
}

const (
	uaCacheSlots  = 1024 // at most about 0.5 MB of strings
	uaCacheMaxLen = 512  // longer strings are hashed each time, never kept
	uaCacheMinLen = 32   // shorter ones hash faster than a lookup
	uaCacheAdmit  = 8    // one miss in this many fills the slot
)

func newUACache() *uaCache { return &uaCache{seed: maphash.MakeSeed()} }

// hash returns fnv32s(fnvOffset32, ua), from the cache when it can (a
// nil cache always computes it).
func (c *uaCache) hash(ua string) uint32 {
	if c == nil || len(ua) < uaCacheMinLen || len(ua) > uaCacheMaxLen {
		return fnv32s(fnvOffset32, ua)
	}
	slot := &c.slots[maphash.String(c.seed, ua)%uaCacheSlots]
	if e := slot.Load(); e != nil && e.ua == ua {
		return e.h
	}
	h := fnv32s(fnvOffset32, ua)
	// Only one miss in uaCacheAdmit fills the slot: a string a client
	// sends on every request gets in after a few requests, while a stream
	// of strings too varied for the cache (which would make every lookup
	// a miss) costs a copy only now and then, not on every request.
	if rand.Uint32()%uaCacheAdmit == 0 {
		// A copy: the value may be a slice of a larger buffer (a server
		// other than net/http's), which the cache must not keep alive.
		slot.Store(&uaEntry{ua: strings.Clone(ua), h: h})
	}
	return h
}

// netHash is the hash of the client's network prefix, 0 when unknown.
func (m *Manager) netHash(r *http.Request) uint32 {
	if a, ok := m.clientAddr(r); ok {
		return addrHash(a)
	}
	return 0
}

// bind records the client that logs in.
func (m *Manager) bind(s *Session) {
	if m.cfg.Binding.OnChange == ClientChangeIgnore {
		return
	}
	_ = bindKey.Set(s.payload(), uint64(m.netHash(s.req))<<32|uint64(m.uaHash(s.req)))
}

// checkClient compares a logged-in session's binding with the request and
// applies the configured action.
func (m *Manager) checkClient(s *Session) {
	action := m.cfg.Binding.OnChange
	if action == ClientChangeIgnore || s.p == nil || s.p.Header().UserID == "" {
		return
	}
	b, ok := bindKey.Get(s.p)
	if !ok {
		return // sessions issued before binding existed
	}
	what := ""
	if m.uaHash(s.req) != uint32(b) {
		what = "user agent"
	}
	nh := m.netHash(s.req)
	netChanged := nh != uint32(b>>32)
	if nh == 0 {
		// An unknown address (a missing or garbled proxy header) proves
		// nothing: only the strict actions count it as a change.
		netChanged = action != ClientChangeReport
	}
	if netChanged {
		if what != "" {
			what += " and "
		}
		what += "network prefix"
		if nh == 0 {
			what += " (unknown now)"
		}
	}
	if what == "" {
		return
	}
	h := s.p.Header()
	reason := fmt.Errorf("%w: %s changed since login", ErrClientChanged, what)
	m.emit(s, Event{Kind: EventAnomaly, Reason: reason, SessionTag: h.ID.Tag(), UserID: h.UserID})
	switch action {
	case ClientChangeReport:
		// Bind to the client now presenting the session, so the event is
		// raised once per change rather than on every request.
		m.bind(s)
	case ClientChangeRefuse:
		m.refuse(s, reason, h)
	case ClientChangeReauthenticate:
		if err := m.revoke(s.ctx(), h, s.now); err != nil {
			m.refuse(s, err, h)
			return
		}
		m.untrack(s.ctx(), h.UserID, h.ID)
		m.refuse(s, reason, h)
	}
}

// refuse turns an accepted session into a refused one: the handler gets
// a fresh anonymous session and the client's cookies are cleared.
func (m *Manager) refuse(s *Session, reason error, h *codec.Header) {
	s.p = nil
	s.fromClient = false
	s.change = 0
	m.reject(s, reason, h)
}

// ipv4Host parses the canonical "a.b.c.d:port" form net/http gives
// RemoteAddr for IPv4 clients, without netip's general parser; anything
// else (IPv6, leading zeros, a missing port) reports false and takes the
// general path, which gives the same answer for what this accepts.
func ipv4Host(s string) (a [4]byte, ok bool) {
	i := 0
	for k := 0; k < 4; k++ {
		start, v := i, 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 3 {
			v = v*10 + int(s[i]-'0')
			i++
		}
		n := i - start
		if n == 0 || v > 255 || (n > 1 && s[start] == '0') {
			return a, false
		}
		a[k] = byte(v)
		sep := byte('.')
		if k == 3 {
			sep = ':'
		}
		if i >= len(s) || s[i] != sep {
			return a, false
		}
		i++
	}
	if i == len(s) || len(s)-i > 5 {
		return a, false // no port, or too long for one
	}
	port := 0
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return a, false
		}
		port = port*10 + int(s[i]-'0')
	}
	return a, port <= 65535
}
