package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// config is everything newApp needs; main fills it from flags and the
// environment.
type config struct {
	DataDir     string        // created 0700 if missing; holds the key file and the default bolt store
	Store       string        // bolt:PATH, memory, redis://host:port/db; "" = bolt:<DataDir>/sessions.db
	Idle        time.Duration // idle timeout; 0 = httpx default (30m)
	Absolute    time.Duration // absolute timeout; 0 = httpx default (24h)
	SessionKeys string        // SESSION_KEYS text; "" = key file in DataDir
	Logger      *slog.Logger  // nil = discard
	BcryptCost  int           // 0 = bcrypt.DefaultCost
	Now         func() time.Time

	// MaxHeaderBytes is httpx.CookieConfig.MaxHeaderBytes: 0 = the
	// default, which fits a default nginx; raise it only together with
	// the proxy's limits (docs/proxies.md).
	MaxHeaderBytes int

	// InsecurePlainHTTP drops Secure and the __Host- prefix
	// (httpx.CookieConfig.InsecureAllowPlainHTTP). Not needed on loopback:
	// browsers treat http://localhost and http://127.0.0.1 as secure.
	InsecurePlainHTTP bool
}

// app is the demo web application.
type app struct {
	m     *httpx.Manager
	users *userDB
	log   *slog.Logger
}

// newApp builds the demo's handler (session middleware and cross-origin
// protection included) and returns a cleanup function that closes the
// store.
func newApp(cfg config) (http.Handler, func() error, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, nil, errors.New("no data folder given")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data folder: %w", err)
	}
	keys, keySource, err := loadKeys(cfg.SessionKeys, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	log.Info("session keys loaded", "from", keySource, "keys", keys.String())
	store, closeStore, storeDesc, err := openStore(cfg.Store, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	log.Info("epoch and revocation store opened", "store", storeDesc)
	users, err := newUserDB(cfg.BcryptCost)
	if err != nil {
		_ = closeStore()
		return nil, nil, err
	}
	m, err := httpx.New(httpx.Config{
		Keys:     keys,
		Policy:   versioning.Policy{IdleTimeout: cfg.Idle, AbsoluteTimeout: cfg.Absolute, Now: cfg.Now},
		Store:    store,
		Observer: httpx.NewSlogObserver(log),
		Cookie:   httpx.CookieConfig{InsecureAllowPlainHTTP: cfg.InsecurePlainHTTP, MaxHeaderBytes: cfg.MaxHeaderBytes},
		// Every store of the demo (memory, bolt, Redis) keeps each user's
		// live sessions: "Your devices" and the admin's session lists.
		Tracking: &httpx.Tracking{},
	})
	if err != nil {
		_ = closeStore()
		return nil, nil, err
	}
	a := &app{m: m, users: users, log: log}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginForm)
	mux.HandleFunc("POST /login", a.throttled(newLoginThrottle(cfg.Now), a.login)) // throttle.go
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /logout-everywhere", a.logoutEverywhere)
	mux.HandleFunc("GET /cart", a.cart)
	mux.HandleFunc("POST /cart/add", a.cartAdd)
	mux.HandleFunc("POST /cart/clear", a.cartClear)
	mux.HandleFunc("GET /admin", a.admin)
	mux.HandleFunc("POST /admin/force-logout", a.forceLogout)
	mux.HandleFunc("POST /admin/revoke-session", a.adminRevokeSession)
	mux.HandleFunc("POST /devices/logout", a.deviceLogout)
	mux.HandleFunc("GET /api/session", a.apiSession)
	mux.Handle("GET /inside", newInsidePage(a, cfg))

	// Cross-origin POSTs are refused before the session is even opened.
	cop := http.NewCrossOriginProtection()
	h := securityHeaders(cop.Handler(m.Wrap(mux)))
	return h, closeStore, nil
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			// HSTS only over https (browsers ignore it on plain http).
			// No includeSubDomains: the demo does not own its siblings.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// facts describes the session s for the pages.
func (a *app) facts(r *http.Request, s *httpx.Session) sessionFacts {
	f := sessionFacts{CookieName: a.m.CookieName()}
	for _, c := range r.Cookies() {
		if a.isSessionCookie(c.Name) {
			f.CookiesSent = append(f.CookiesSent, c.Name)
			f.BytesSent += len(c.Name) + 1 + len(c.Value)
		}
	}
	if len(f.CookiesSent) > 1 {
		f.BytesSent += 2 * (len(f.CookiesSent) - 1)
	}
	sort.Strings(f.CookiesSent)
	if s.IsNew() && !s.Payload().Dirty() && !s.Authenticated() {
		return f
	}
	f.Exists = true
	f.Tag = s.Tag()
	f.Generation = s.Generation()
	f.IssuedAt = s.IssuedAt()
	f.IdleDeadline = s.IdleDeadline()
	f.AbsoluteDeadline = s.AbsoluteDeadline()
	f.CookieBytes = s.CookieBytes()
	f.HeaderBytes = s.HeaderBytes()
	f.Remaining = s.Remaining()
	f.Budget = a.m.MaxHeaderBytes()
	return f
}

// isSessionCookie reports whether name is the session cookie or one of
// its chunks ("-1" to "-9").
func (a *app) isSessionCookie(name string) bool {
	base := a.m.CookieName()
	if name == base {
		return true
	}
	rest, ok := strings.CutPrefix(name, base+"-")
	return ok && len(rest) == 1 && rest[0] >= '1' && rest[0] <= '9'
}

// page starts the data of a page: user, flashes and session facts.
func (a *app) page(_ http.ResponseWriter, r *http.Request, s *httpx.Session, title string) *pageData {
	d := &pageData{Title: title, User: s.UserID(), IsAdmin: a.users.isAdmin(s.UserID())}
	d.Flashes = s.Flashes()
	d.Warning = rejectionWarning(s.Rejected(), a.m.Policy())
	d.Facts = a.facts(r, s)
	return d
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	d := a.page(w, r, s, "Home")
	switch r.URL.Query().Get("msg") {
	case "bye":
		d.Notice = "You are logged out: the session cookies were cleared and this session ID was revoked."
	case "bye-all":
		d.Notice = "You are logged out everywhere: every session of your user issued before now is refused."
	}
	if s.Authenticated() {
		devs, err := a.devices(r, s.UserID(), s)
		if err != nil {
			a.log.ErrorContext(r.Context(), "list sessions", "user", s.UserID(), "err", err)
			d.Error = "Your devices cannot be listed: the session store is unavailable."
		}
		d.Devices = devs
	}
	a.render(w, r, http.StatusOK, "home", d)
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	d := a.page(w, r, s, "Log in")
	d.DemoUsers = demoUsers
	a.render(w, r, http.StatusOK, "login", d)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	user, password := r.PostFormValue("user"), r.PostFormValue("password")
	if !a.users.check(user, password) {
		a.log.InfoContext(r.Context(), "login failed", "user", logString(user))
		d := a.page(w, r, s, "Log in")
		d.DemoUsers = demoUsers
		d.LoginUser = user
		d.Error = "Wrong user name or password."
		a.render(w, r, http.StatusUnauthorized, "login", d)
		return
	}
	if err := s.Login(user); err != nil {
		a.log.ErrorContext(r.Context(), "login", "user", user, "err", err)
		http.Error(w, "login failed: the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	s.AddFlash("Welcome, " + user + ". You have a new session ID (generation " + fmt.Sprint(s.Generation()) + ").")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if err := s.Logout(); err != nil {
		// The cookies are cleared anyway; the revocation failed.
		a.log.ErrorContext(r.Context(), "logout", "err", err)
	}
	http.Redirect(w, r, "/?msg=bye", http.StatusSeeOther)
}

func (a *app) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	user := s.UserID()
	if user == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if err := a.m.ForceLogout(r.Context(), user); err != nil {
		a.log.ErrorContext(r.Context(), "log out everywhere", "user", user, "err", err)
		http.Error(w, "could not log out everywhere: the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	if err := s.Logout(); err != nil {
		a.log.ErrorContext(r.Context(), "logout", "err", err)
	}
	http.Redirect(w, r, "/?msg=bye-all", http.StatusSeeOther)
}

// requireAdmin answers 403 (or redirects to the login page) unless the
// session's user is an admin.
func (a *app) requireAdmin(w http.ResponseWriter, r *http.Request, s *httpx.Session) bool {
	if !s.Authenticated() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return false
	}
	if !a.users.isAdmin(s.UserID()) {
		d := a.page(w, r, s, "Forbidden: admins only")
		a.render(w, r, http.StatusForbidden, "error", d)
		return false
	}
	return true
}

func (a *app) admin(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !a.requireAdmin(w, r, s) {
		return
	}
	d := a.page(w, r, s, "Admin")
	for _, u := range demoUsers {
		if u.Name != s.UserID() {
			d.Users = append(d.Users, u.Name)
		}
		devs, err := a.devices(r, u.Name, s)
		if err != nil {
			a.log.ErrorContext(r.Context(), "list sessions", "user", u.Name, "err", err)
			d.Error = "Sessions cannot be listed: the session store is unavailable."
		}
		d.UserSessions = append(d.UserSessions, userSessions{User: u.Name, Sessions: devs})
	}
	a.render(w, r, http.StatusOK, "admin", d)
}

func (a *app) forceLogout(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !a.requireAdmin(w, r, s) {
		return
	}
	target := r.PostFormValue("user")
	if _, known := a.users.hashes[target]; !known {
		http.Error(w, "unknown user", http.StatusBadRequest)
		return
	}
	if target == s.UserID() {
		http.Error(w, "use \"Log out everywhere\" to end your own sessions", http.StatusBadRequest)
		return
	}
	if err := a.m.ForceLogout(r.Context(), target); err != nil {
		a.log.ErrorContext(r.Context(), "force logout", "user", target, "err", err)
		http.Error(w, "could not force the logout: the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	a.log.InfoContext(r.Context(), "forced logout", "user", target, "by", s.UserID())
	s.AddFlash("Every session of " + target + " issued before now has ended.")
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// sessionJSON is the body of GET /api/session.
type sessionJSON struct {
	Authenticated    bool       `json:"authenticated"`
	User             string     `json:"user"`
	Session          string     `json:"session"`
	Generation       uint32     `json:"generation"`
	IssuedAt         *time.Time `json:"issued_at"`
	IdleDeadline     *time.Time `json:"idle_deadline"`
	AbsoluteDeadline *time.Time `json:"absolute_deadline"`
	CookieBytes      int        `json:"cookie_bytes"`
}

func (a *app) apiSession(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	f := a.facts(r, s)
	out := sessionJSON{Authenticated: s.Authenticated(), User: s.UserID()}
	if f.Exists {
		out.Session = f.Tag
		out.Generation = f.Generation
		out.IssuedAt = utc(f.IssuedAt)
		out.IdleDeadline = utc(f.IdleDeadline)
		out.AbsoluteDeadline = utc(f.AbsoluteDeadline)
		out.CookieBytes = f.CookieBytes
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		a.log.ErrorContext(r.Context(), "write /api/session", "err", err)
	}
}

func utc(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}
