package httpx

import (
	"fmt"
	"github.com/sealedsession/sealedsession/codec"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

// Defaults for Config fields left zero.
const (
	// DefaultCookieName is the session cookie's name: the __Host- prefix
	// makes browsers insist on Secure, Path=/ and no Domain.
	DefaultCookieName = "__Host-session"
	// DefaultInsecureCookieName is the name used with InsecureAllowPlainHTTP,
	// where the __Host- prefix cannot be used.
	DefaultInsecureCookieName = "session"
	// DefaultMaxTotalCookieBytes is the default budget for all of a
	// session's cookies together, as the browser sends them back in the
	// Cookie header. It leaves 512 bytes of nginx's default 8 KiB header
	// line for other cookies.
	DefaultMaxTotalCookieBytes = 7680
	// DefaultMaxChunks is the default number of cookies a session may be
	// split into.
	DefaultMaxChunks = 4
	// HardMaxChunks is the most chunk cookies any configuration may use.
	HardMaxChunks = 9
	// MaxSetCookieLine is the bound on one Set-Cookie line (name, value and
	// every attribute), below the 4096 bytes browsers and proxies accept.
	MaxSetCookieLine = 4093
	// TokenHeader is the response header that carries a renewed sealed
	// token to a Bearer client (Config.AllowBearer). An empty value tells the
	// client to discard its token (the session was logged out).
	TokenHeader = "Session-Token"
)

// Config configures a Manager. It is read once by New; changing it
// afterwards has no effect. Durations left zero take the default stated.
type Config struct {
	// Keys seals and opens sessions; required. Rotate keys on the ring
	// itself (sealed.Keyring.Rotate); the Manager sees the change at once.
	Keys *sealed.Keyring

	// CookieName is the session cookie's name. Default "__Host-session".
	// It must start with "__Host-" unless InsecureAllowPlainHTTP is set, in
	// which case it must not (default "session" then). Chunks add "-1",
	// "-2", ... to it.
	CookieName string

	// IdleTimeout ends a session this long after its last renewal.
	// Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it was issued (login
	// issues a new one), however active. Default 24 hours.
	AbsoluteTimeout time.Duration
	// RenewThreshold: a current session is re-issued (sliding renewal) only
	// when doing so would move its idle deadline by more than this. Default
	// 1 minute, or a quarter of IdleTimeout when that is 4 minutes or less.
	RenewThreshold time.Duration
	// ClockSkew is how far in the future an issued-at or last-seen time may
	// be before the session is refused. Default 30 seconds; at most 5 minutes.
	ClockSkew time.Duration

	// Store keeps user epochs and revoked session IDs. nil means an
	// in-memory store: correct for one process, but revocations and
	// epochs are lost on restart and not shared between instances.
	Store versioning.Store
	// OnStoreError says what a request gets when the store cannot be
	// reached: versioning.FailClosed (default: the session is not accepted,
	// the handler sees an anonymous session and the cookie is kept for
	// later) or versioning.ServeStale (answers from the store's cache, up
	// to the staleness the store allows).
	OnStoreError versioning.StoreFailurePolicy

	// MaxTotalCookieBytes bounds all of a session's cookies together as
	// sent back in the Cookie header ("name=value" pairs and separators).
	// Default 7680.
	MaxTotalCookieBytes int
	// MaxChunks bounds how many cookies one session may be split into.
	// Default 4, at most 9.
	MaxChunks int

	// InsecureAllowPlainHTTP drops the Secure attribute and the __Host-
	// prefix so that cookies work over plain http. Only for local
	// development: a cookie sent in clear can be stolen on the wire.
	InsecureAllowPlainHTTP bool
	// SameSite is the cookies' SameSite attribute. Default Lax.
	// SameSite=None needs Secure and so cannot go with InsecureAllowPlainHTTP.
	SameSite http.SameSite

	// AllowBearer lets API clients present the sealed session in an
	// "Authorization: Bearer" header instead of a cookie. Such a request
	// gets renewed tokens in the Session-Token response header, never a
	// cookie. Tokens and cookies are sealed for different contexts, so one
	// cannot be replayed as the other. Default off.
	AllowBearer bool

	// Observer receives session events; nil means none.
	Observer Observer
	// ErrorHandler answers a request whose session could not be saved (too
	// large, store failure). Default: 500 Internal Server Error, or 503
	// Service Unavailable for a store outage, with a generic body.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Legacy, if set, reads old gorilla/sessions cookies: a request that
	// has one and no current session is served with its values, re-issued
	// in the current format, and the old cookie is cleared.
	Legacy LegacyReader

	// ClientIP returns the client's address, for the coarse client binding
	// and session tracking. Default: the host of r.RemoteAddr. Behind a
	// reverse proxy, supply one that trusts only your proxy's header.
	ClientIP func(r *http.Request) netip.Addr
	// OnClientChange is what happens when a logged-in session comes from a
	// network prefix (/24 IPv4, /48 IPv6) or User-Agent other than the one
	// that logged in. Default ClientChangeReport (an EventAnomaly only).
	OnClientChange ClientChangeAction

	// TrackSessions keeps each user's live sessions in the store (which
	// must implement versioning.SessionTracker), for Manager.Sessions,
	// Manager.RevokeSession, MaxSessionsPerUser and simultaneous-use
	// anomalies. Default off.
	TrackSessions bool
	// MaxSessionsPerUser caps a user's concurrent sessions (needs
	// TrackSessions); 0 means no limit.
	MaxSessionsPerUser int
	// OnSessionLimit: EvictOldest (default) or RefuseNewLogin.
	OnSessionLimit SessionLimitAction
	// SimultaneousWindow: a login from another network while a session of
	// the same user was seen within this window raises an
	// ErrSimultaneousUse anomaly (with TrackSessions). Default 10 minutes.
	SimultaneousWindow time.Duration
	// Locate is the application's own IP-to-location lookup; with it,
	// simultaneous use is an anomaly only when the networks are at least
	// DistantKm apart. Nothing is ever fetched from the network by this
	// package.
	Locate func(netip.Prefix) (Location, bool)
	// DistantKm is the distance that counts as distant. Default 500.
	DistantKm float64

	// Migrations upgrades payloads sealed by an older payload format
	// version; they are re-sealed in the current format on the way out.
	// nil: an older version is refused (ErrUnsupportedVersion).
	Migrations Migrator

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// LegacyReader reads a session cookie of an older system (see package
// versioning/legacy for gorilla/sessions) into a current payload.
type LegacyReader interface {
	// CookieName is the legacy cookie's name.
	CookieName() string
	// Read decodes and verifies the legacy cookie value. The payload it
	// returns has a fresh session ID; an error means the value is not
	// acceptable.
	Read(value string, now time.Time) (*codec.Payload, error)
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Keys == nil {
		return out, fmt.Errorf("%w: Keys is required (use sealed.ParseKeyring; never a random key at start-up, which would log everyone out on restart)", ErrConfig)
	}
	if out.CookieName == "" {
		out.CookieName = DefaultCookieName
		if out.InsecureAllowPlainHTTP {
			out.CookieName = DefaultInsecureCookieName
		}
	}
	if err := validCookieName(out.CookieName, out.InsecureAllowPlainHTTP); err != nil {
		return out, err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"IdleTimeout", out.IdleTimeout}, {"AbsoluteTimeout", out.AbsoluteTimeout}, {"RenewThreshold", out.RenewThreshold}, {"ClockSkew", out.ClockSkew}} {
		if d.v < 0 {
			return out, fmt.Errorf("%w: %s is negative (%v); leave it zero for the default", ErrConfig, d.name, d.v)
		}
	}
	if out.RenewThreshold == 0 && out.IdleTimeout > 0 && out.IdleTimeout <= 4*time.Minute {
		// Short idle timeouts (tests, kiosks) renew at a quarter of the
		// idle timeout rather than the usual minute.
		out.RenewThreshold = out.IdleTimeout / 4
	}
	if out.MaxChunks == 0 {
		out.MaxChunks = DefaultMaxChunks
	}
	if out.MaxChunks < 1 || out.MaxChunks > HardMaxChunks {
		return out, fmt.Errorf("%w: MaxChunks is %d, must be between 1 and %d", ErrConfig, out.MaxChunks, HardMaxChunks)
	}
	if out.MaxTotalCookieBytes == 0 {
		out.MaxTotalCookieBytes = DefaultMaxTotalCookieBytes
	}
	if out.MaxTotalCookieBytes < 512 || out.MaxTotalCookieBytes > 64<<10 {
		return out, fmt.Errorf("%w: MaxTotalCookieBytes is %d, must be between 512 and 65536", ErrConfig, out.MaxTotalCookieBytes)
	}
	switch out.SameSite {
	case 0, http.SameSiteDefaultMode:
		out.SameSite = http.SameSiteLaxMode
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if out.InsecureAllowPlainHTTP {
			return out, fmt.Errorf("%w: SameSite=None requires Secure cookies and cannot be combined with InsecureAllowPlainHTTP", ErrConfig)
		}
	default:
		return out, fmt.Errorf("%w: unknown SameSite mode %d", ErrConfig, out.SameSite)
	}
	if out.MaxSessionsPerUser < 0 {
		return out, fmt.Errorf("%w: MaxSessionsPerUser is negative", ErrConfig)
	}
	if out.MaxSessionsPerUser > 0 && !out.TrackSessions {
		return out, fmt.Errorf("%w: MaxSessionsPerUser needs TrackSessions", ErrConfig)
	}
	if out.SimultaneousWindow == 0 {
		out.SimultaneousWindow = 10 * time.Minute
	}
	if out.DistantKm == 0 {
		out.DistantKm = 500
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return out, nil
}

func validCookieName(name string, insecure bool) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: cookie name %q must be 1 to 64 characters", ErrConfig, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return fmt.Errorf("%w: cookie name %q has a character not allowed in a cookie name at byte %d", ErrConfig, name, i)
		}
	}
	lower := strings.ToLower(name)
	hostPrefixed := strings.HasPrefix(lower, "__host-")
	securePrefixed := strings.HasPrefix(lower, "__secure-")
	if insecure {
		if hostPrefixed || securePrefixed {
			return fmt.Errorf("%w: cookie name %q uses a __Host-/__Secure- prefix, which browsers only accept on Secure cookies; InsecureAllowPlainHTTP drops Secure", ErrConfig, name)
		}
		return nil
	}
	if !strings.HasPrefix(name, "__Host-") {
		return fmt.Errorf("%w: cookie name %q must start with \"__Host-\" (Secure, Path=/, no Domain); for plain-http development set InsecureAllowPlainHTTP", ErrConfig, name)
	}
	if len(name) == len("__Host-") {
		return fmt.Errorf("%w: cookie name %q has nothing after the __Host- prefix", ErrConfig, name)
	}
	return nil
}

// Migrator upgrades a payload of an older format version to the current
// one; versioning.Migrations implements it.
type Migrator interface {
	Upgrade(payload []byte) ([]byte, error)
}
