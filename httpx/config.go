package httpx

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/internal/wire"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/legacy"
)

// Defaults for Config fields left zero, and the fixed bounds.
const (
	// DefaultCookieName is the session cookie's name: the __Host- prefix
	// makes browsers insist on Secure, Path=/ and no Domain.
	DefaultCookieName = "__Host-session"
	// DefaultInsecureCookieName is the name used with
	// CookieConfig.InsecureAllowPlainHTTP, where the __Host- prefix cannot
	// be used.
	DefaultInsecureCookieName = "session"
	// DefaultSecureCookieName is the name used with CookieConfig.Domain or
	// CookieConfig.Path, which the __Host- prefix does not allow.
	DefaultSecureCookieName = "__Secure-session"
	// DefaultMaxHeaderBytes is the default budget for the response header
	// lines one save writes (every Set-Cookie line, or the Session-Token
	// line). A default nginx reads the whole response header into one 4
	// KiB buffer (proxy_buffer_size) and answers 502 when it does not fit;
	// 2816 bytes leave room for the status line, Go's own headers, the
	// middleware's Vary and Cache-Control and about 1 KiB of the
	// application's own headers (a Content-Security-Policy, say). See
	// docs/proxies.md for raising it together with the proxy's limits.
	DefaultMaxHeaderBytes = 2816
	// MaxMaxHeaderBytes is the largest CookieConfig.MaxHeaderBytes accepted.
	MaxMaxHeaderBytes = 64 << 10
	// DefaultMaxChunks is the default number of cookies a session may be
	// split into (only a raised MaxHeaderBytes makes more than one needed).
	DefaultMaxChunks = 4
	// HardMaxChunks is the most chunk cookies any configuration may use.
	HardMaxChunks = wire.MaxChunks
	// MaxSetCookieLine is the bound on one Set-Cookie header value (name,
	// value and every attribute), below the 4096 bytes browsers accept for
	// one cookie.
	MaxSetCookieLine = 4093
	// TokenHeader is the response header that carries a renewed sealed
	// token to a Bearer client (Config.AllowBearer). An empty value tells the
	// client to discard its token (the session was logged out).
	TokenHeader = "Session-Token"
)

// Config configures a Manager. It is read once by New; changing it
// afterwards has no effect. Fields left zero take the default stated.
// Groups of options that only make sense together live in their own
// struct, and setting the group switches the feature on.
type Config struct {
	// Keys seals and opens sessions; required. Rotate keys on the ring
	// itself (sealed.Keyring.Rotate); the Manager sees the change at once.
	Keys *sealed.Keyring

	// Policy holds the timeouts (IdleTimeout 30 min, AbsoluteTimeout 24 h,
	// RenewThreshold the smaller of 1 min and IdleTimeout/4, ClockSkew
	// 30 s) and the clock (Now). Zero fields take these defaults.
	Policy versioning.Policy

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

	// Cookie configures the session cookies: name, SameSite, size budget.
	Cookie CookieConfig

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
	// Service Unavailable for a store outage, with a generic body. The
	// failure is also reported to the Observer (EventSaveFailed).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Legacy, if set, reads old gorilla/sessions cookies: a request that
	// has one and no current session is served with its values, re-issued
	// in the current format, and the old cookie is cleared. A logged-in
	// legacy cookie is imported through Login (client binding, tracking,
	// limits, events), at most once (its fingerprint is remembered until
	// it would expire anyway), and never once the user's epoch was bumped
	// (ForceLogout, LogoutAll, sealctl bump: they come after every legacy
	// cookie, which the old system issued before the switch).
	Legacy LegacyReader
	// Migrations upgrades payloads sealed by an older payload format
	// version; they are re-sealed in the current format on the way out.
	// nil: an older version is refused (codec.ErrUnsupportedVersion).
	Migrations Migrator

	// Binding ties a logged-in session to the coarse client that logged in.
	Binding ClientBinding
	// Tracking, when set, keeps each user's live sessions in the store
	// (which must implement versioning.SessionTracker), for
	// Manager.Sessions, Manager.RevokeSession, a concurrent-session limit
	// and simultaneous-use anomalies. nil: off.
	Tracking *Tracking
}

// CookieConfig configures the session cookies.
type CookieConfig struct {
	// Name is the session cookie's name. Default "__Host-session". It must
	// start with "__Host-" unless InsecureAllowPlainHTTP is set, in which
	// case it must not (default "session" then). Chunks add "-1", "-2", ...
	Name string
	// SameSite is the cookies' SameSite attribute. Default Lax.
	// SameSite=None needs Secure and so cannot go with
	// InsecureAllowPlainHTTP.
	SameSite http.SameSite
	// MaxHeaderBytes bounds the response header lines one save writes: each
	// Set-Cookie line (clearing lines included) counted as it travels,
	// "Set-Cookie: " + value + CRLF, or the Session-Token line for a Bearer
	// client. Default DefaultMaxHeaderBytes (2816), which fits a default
	// nginx; at most 65536. Raise it only together with your proxy's
	// limits (docs/proxies.md): past 4093 bytes a session is split into
	// chunk cookies.
	MaxHeaderBytes int
	// MaxChunks bounds how many cookies one session may be split into.
	// Default 4, at most 9.
	MaxChunks int
	// Domain and Path, for applications that cannot use the __Host-
	// prefix (one session over several subdomains, an application mounted
	// under a path). Either one needs a name with the __Secure- prefix
	// (default "__Secure-session"): the browser still insists on Secure,
	// but the cookie is no longer locked to one host and the root path, so
	// a sibling subdomain (with Domain) or another application on the host
	// (with Path) can set or overwrite it. Sessions stay authenticated
	// (a planted cookie must still be sealed with your key), but prefer
	// the default when you can. Default: no Domain, Path "/".
	Domain, Path string
	// BrowserSession makes session cookies browser-session cookies (no
	// Max-Age: the browser drops them when it closes), as OWASP advises for
	// sensitive applications. Default: persistent cookies. Either way
	// Session.Remember chooses per session (a "remember me" at login), and
	// the server enforces the idle and absolute timeouts regardless.
	BrowserSession bool
	// MaxAgeIdle gives persistent cookies a Max-Age that ends at the idle
	// deadline. By default it ends at the absolute deadline, so that the
	// browser still sends a session that idled out and the application can
	// tell "your session expired" (Session.Rejected matching
	// versioning.ErrIdleExpired) from "no session"; the cookie is cleared
	// on that response.
	MaxAgeIdle bool
	// InsecureAllowPlainHTTP drops the Secure attribute and the __Host-
	// prefix so that cookies work over plain http on a host other than
	// localhost. Only for local development: a cookie sent in clear can be
	// stolen on the wire.
	InsecureAllowPlainHTTP bool
}

// ClientBinding configures the coarse client binding of logged-in
// sessions: a hash of the client's network prefix (/24 IPv4, /48 IPv6)
// and User-Agent sealed in the session at login.
type ClientBinding struct {
	// ClientIP returns the client's address. Default: the host of
	// r.RemoteAddr. Behind a reverse proxy, supply one that trusts only
	// your proxy's header and returns the zero netip.Addr when that header
	// is missing or garbled: an unknown address counts as a change under
	// ClientChangeRefuse and ClientChangeReauthenticate.
	ClientIP func(r *http.Request) netip.Addr
	// OnChange is what happens when a logged-in session comes from a
	// network prefix or User-Agent other than the one that logged in.
	// Default ClientChangeReport (an EventAnomaly only).
	OnChange ClientChangeAction
}

// Tracking configures the per-user list of live sessions.
type Tracking struct {
	// MaxPerUser caps a user's concurrent sessions; 0 means no limit.
	MaxPerUser int
	// OnLimit: EvictOldest (default) or RefuseNewLogin.
	OnLimit SessionLimitAction
	// SimultaneousWindow: a login from another network while a session of
	// the same user was seen within this window raises an
	// ErrSimultaneousUse anomaly. Default 10 minutes.
	SimultaneousWindow time.Duration
	// Locate is the application's own IP-to-location lookup; with it,
	// simultaneous use is an anomaly only when the networks are at least
	// DistantKm apart. Nothing is ever fetched from the network by this
	// package.
	Locate func(netip.Prefix) (Location, bool)
	// DistantKm is the distance that counts as distant. Default 500.
	DistantKm float64
}

// LegacyReader reads a session cookie of an older system (see package
// versioning/legacy for gorilla/sessions, whose *legacy.Reader implements
// it).
type LegacyReader interface {
	// CookieName is the legacy cookie's name.
	CookieName() string
	// ClearCookie is the Set-Cookie value that deletes the legacy cookie,
	// with the Domain and Path it was issued with.
	ClearCookie() string
	// Read decodes and verifies the legacy cookie value. The cookie's
	// Payload has a fresh session ID; its Fingerprint is the same for
	// every copy of the cookie; an error means the value is not
	// acceptable.
	Read(value string, now time.Time) (legacy.Cookie, error)
}

// Migrator upgrades a payload of an older format version to the current
// one; versioning.Migrations implements it.
type Migrator interface {
	Upgrade(payload []byte) ([]byte, error)
}

// withDefaults returns the configuration with every zero field filled in,
// or an error matching ErrConfig. Each message is one line that says what
// to do.
func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Keys == nil {
		return out, fmt.Errorf("%w: Keys is required (use sealed.ParseKeyring; never a random key at start-up, which would log everyone out on restart)", ErrConfig)
	}
	var err error
	if out.Policy, err = policyWithDefaults(out.Policy); err != nil {
		return out, err
	}
	if err := out.Cookie.withDefaults(); err != nil {
		return out, err
	}
	if out.Tracking, err = out.Tracking.withDefaults(); err != nil {
		return out, err
	}
	if out.Binding.OnChange > ClientChangeIgnore {
		return out, fmt.Errorf("%w: unknown Binding.OnChange action %d", ErrConfig, out.Binding.OnChange)
	}
	if out.ErrorHandler == nil {
		out.ErrorHandler = defaultErrorHandler
	}
	return out, nil
}

// policyWithDefaults fills in p's defaults and validates it; a negative
// duration is refused rather than taken as "the default".
func policyWithDefaults(p versioning.Policy) (versioning.Policy, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"IdleTimeout", p.IdleTimeout}, {"AbsoluteTimeout", p.AbsoluteTimeout}, {"RenewThreshold", p.RenewThreshold}, {"ClockSkew", p.ClockSkew}} {
		if d.v < 0 {
			return p, fmt.Errorf("%w: Policy.%s is negative (%v); leave it zero for the default", ErrConfig, d.name, d.v)
		}
	}
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return p, nil
}

// withDefaults fills in the cookie group's defaults (the name follows
// from the scope and InsecureAllowPlainHTTP) and validates it.
func (ck *CookieConfig) withDefaults() error {
	scoped := ck.Domain != "" || (ck.Path != "" && ck.Path != "/")
	if ck.Name == "" {
		switch {
		case ck.InsecureAllowPlainHTTP:
			ck.Name = DefaultInsecureCookieName
		case scoped:
			ck.Name = DefaultSecureCookieName
		default:
			ck.Name = DefaultCookieName
		}
	}
	if ck.Path == "" {
		ck.Path = "/"
	}
	if err := validCookieScope(ck.Domain, ck.Path); err != nil {
		return err
	}
	if err := validCookieName(ck.Name, ck.InsecureAllowPlainHTTP, scoped); err != nil {
		return err
	}
	if ck.MaxChunks == 0 {
		ck.MaxChunks = DefaultMaxChunks
	}
	if ck.MaxChunks < 1 || ck.MaxChunks > HardMaxChunks {
		return fmt.Errorf("%w: Cookie.MaxChunks is %d, must be between 1 and %d", ErrConfig, ck.MaxChunks, HardMaxChunks)
	}
	if ck.MaxHeaderBytes == 0 {
		ck.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if ck.MaxHeaderBytes < 512 || ck.MaxHeaderBytes > MaxMaxHeaderBytes {
		return fmt.Errorf("%w: Cookie.MaxHeaderBytes is %d, must be between 512 and %d", ErrConfig, ck.MaxHeaderBytes, MaxMaxHeaderBytes)
	}
	return ck.sameSiteWithDefault()
}

// sameSiteWithDefault makes the unset mode Lax and refuses None on plain
// HTTP (browsers drop a SameSite=None cookie that is not Secure).
func (ck *CookieConfig) sameSiteWithDefault() error {
	switch ck.SameSite {
	case 0, http.SameSiteDefaultMode:
		ck.SameSite = http.SameSiteLaxMode
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if ck.InsecureAllowPlainHTTP {
			return fmt.Errorf("%w: Cookie.SameSite=None requires Secure cookies and cannot be combined with InsecureAllowPlainHTTP", ErrConfig)
		}
	default:
		return fmt.Errorf("%w: unknown Cookie.SameSite mode %d", ErrConfig, ck.SameSite)
	}
	return nil
}

// withDefaults returns a copy of the tracking group with its defaults
// (never writing to the caller's struct), or nil when tracking is off.
func (t *Tracking) withDefaults() (*Tracking, error) {
	if t == nil {
		return nil, nil
	}
	tc := *t
	if tc.MaxPerUser < 0 {
		return nil, fmt.Errorf("%w: Tracking.MaxPerUser is negative; use 0 for no limit", ErrConfig)
	}
	if tc.SimultaneousWindow < 0 || tc.DistantKm < 0 {
		return nil, fmt.Errorf("%w: Tracking.SimultaneousWindow and DistantKm must not be negative", ErrConfig)
	}
	if tc.SimultaneousWindow == 0 {
		tc.SimultaneousWindow = 10 * time.Minute
	}
	if tc.DistantKm == 0 {
		tc.DistantKm = 500
	}
	return &tc, nil
}

// validCookieScope checks Domain and Path: plain host names and paths,
// nothing that could end the attribute or add another.
func validCookieScope(domain, path string) error {
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !(c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%w: Cookie.Domain %q has a character not allowed in a host name at byte %d", ErrConfig, domain, i)
		}
	}
	if len(domain) > 253 || strings.HasPrefix(domain, ".") && len(domain) == 1 {
		return fmt.Errorf("%w: Cookie.Domain %q is not a host name", ErrConfig, domain)
	}
	if !strings.HasPrefix(path, "/") || len(path) > 256 {
		return fmt.Errorf("%w: Cookie.Path %q must start with \"/\" (at most 256 bytes)", ErrConfig, path)
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x21 || c > 0x7e || c == ';' || c == ',' {
			return fmt.Errorf("%w: Cookie.Path %q has a character not allowed in a cookie path at byte %d", ErrConfig, path, i)
		}
	}
	return nil
}

func validCookieName(name string, insecure, scoped bool) error {
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
	if scoped {
		if !strings.HasPrefix(name, "__Secure-") {
			return fmt.Errorf("%w: cookie name %q must start with \"__Secure-\" when Cookie.Domain or Cookie.Path is set (the __Host- prefix forbids both)", ErrConfig, name)
		}
		if len(name) == len("__Secure-") {
			return fmt.Errorf("%w: cookie name %q has nothing after the __Secure- prefix", ErrConfig, name)
		}
		return nil
	}
	if !strings.HasPrefix(name, "__Host-") {
		return fmt.Errorf("%w: cookie name %q must start with \"__Host-\" (Secure, Path=/, no Domain); for plain-http development set Cookie.InsecureAllowPlainHTTP, for a Domain or Path use \"__Secure-\" with Cookie.Domain or Cookie.Path", ErrConfig, name)
	}
	if len(name) == len("__Host-") {
		return fmt.Errorf("%w: cookie name %q has nothing after the __Host- prefix", ErrConfig, name)
	}
	return nil
}
