// Package httpx is sealedsession's HTTP layer: a drop-in http.Handler
// middleware that keeps the whole session in sealed, size-bounded cookies,
// and the Session a handler sees.
//
//	keys, err := sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
//	m, err := httpx.New(httpx.Config{Keys: keys, Store: store})
//	http.ListenAndServe(addr, m.Wrap(mux))
//
// In a handler:
//
//	var cartKey = codec.NewKey[Cart]("cart")
//	s := httpx.FromContext(r.Context())
//	cart, ok := cartKey.Get(s)
//	cartKey.Set(s, cart)
//	s.Login(userID)     // new session ID, generation+1: fixation defence
//	s.Logout()          // clear every chunk; revoke this session ID
//	m.ForceLogout(ctx, userID) // every device of that user is logged out
//
// # Request flow
//
// The middleware reads only its own cookies from the Cookie header, joins
// chunk cookies (name, name-1, name-2, ...), opens the sealed envelope
// (sealed.Sealer; the associated data binds the cookie name and the number
// of chunks), decodes the payload header (values stay raw until a typed key
// asks for them), and checks it against the timeouts, the user's epoch and
// the revocation list (versioning.Checker). A session that fails any step
// is not an error: the handler gets a fresh anonymous session, the
// client's cookies are cleared, the reason goes to the Observer, and the
// client is told nothing. Sessions are never read from the URL.
//
// The session is written back before the first WriteHeader, Write or
// Flush (or when the handler returns without writing), and only when it
// changed, is due for sliding renewal, or was opened with a key that is no
// longer the primary. An anonymous session nobody wrote to sets no cookie.
// The body is never buffered; Flush, Hijack and http.ResponseController
// keep working.
//
// # Size
//
// A session larger than one cookie is split into chunk cookies, each
// Set-Cookie line (attributes included) under 4096 bytes, within
// Config.MaxTotalCookieBytes in all (default 7680, fitting nginx's 8 KiB
// header limit with room for other cookies). A session over the budget is
// not written: a *SizeError goes to Config.ErrorHandler before any header is
// sent, and the client's previous cookie stays valid. Session.CheckSize and
// Session.Remaining let a handler refuse a change gracefully first.
//
// # Revocation
//
// Logout revokes the session ID until the moment it would have expired
// anyway, so a copied cookie is refused. ForceLogout bumps the user's
// epoch: every session that user was issued before is refused, on every
// instance that shares the store. Removing a key from the ring ends every
// session sealed with it. A missing epoch counts as 0, so adopting epochs
// later logs nobody out.
//
// # Security defaults
//
// Cookies are __Host- prefixed, Secure, HttpOnly, SameSite=Lax, Path=/,
// with Max-Age the nearer of the idle and absolute deadlines. Plain-http
// development needs Config.InsecureAllowPlainHTTP. Responses that set a
// session cookie are marked private for caches, and every response varies
// on Cookie. SameSite=Lax is the CSRF baseline; wrap unsafe routes with
// net/http's CrossOriginProtection as well.
package httpx
