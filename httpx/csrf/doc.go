// Package csrf is a synchronizer-token defence against cross-site request
// forgery for applications that need more than sealedsession's baseline.
//
// # When to use it
//
// Session cookies are SameSite=Lax by default, and wrapping unsafe routes
// with net/http's http.CrossOriginProtection (which checks the browser's
// Sec-Fetch-Site or Origin header) stops cross-origin form posts in every
// current browser: that pair is enough for most applications, and needs no
// token in any form. Use this package as well when
//
//   - the session cookie is SameSite=None (the application is embedded in
//     another site's frame, or serves a cross-site widget), so the browser
//     attaches the cookie to cross-site requests;
//   - clients that send neither Sec-Fetch-Site nor Origin must be served
//     (older browsers, some embedded web views), where
//     CrossOriginProtection lets a request through because it cannot tell;
//   - a policy asks for a synchronizer token (OWASP's primary defence),
//     or same-site but cross-origin requests (a sibling subdomain you do
//     not fully trust) must be refused too.
//
// It composes with CrossOriginProtection: run both.
//
// # How it works
//
// Each session holds one secret of 32 random bytes, kept in the sealed
// payload (the reserved value "_csrf"), created the first time Token asks
// for it. Token returns that secret masked with fresh random bytes
// (base64url, 86 characters), so the text differs on every page (no
// compression side channel such as BREACH can recover it) while every
// token verifies until the secret changes. Put it in a hidden form field
// (Field) or send it in a request header (for fetch and XMLHttpRequest).
//
// Protect, inside the session middleware, checks every request whose
// method is not safe (anything but GET, HEAD, OPTIONS and TRACE: so POST,
// PUT, PATCH and DELETE) for a token in the X-CSRF-Token header or, failing
// that, in the csrf_token field of a urlencoded or multipart POST, PUT or
// PATCH body (never in the URL, where tokens leak into logs and Referer
// headers). The token
// is unmasked and compared with the session's secret in constant time
// (crypto/subtle). A request without a valid token goes to the error
// handler, 403 Forbidden by default, with nothing in the body that says
// why; the handler is not called.
//
//	m, _ := httpx.New(httpx.Config{Keys: keys, Cookie: httpx.CookieConfig{SameSite: http.SameSiteNoneMode}})
//	protect := csrf.Protect(m, csrf.Options{})
//	http.ListenAndServe(addr, m.Wrap(http.NewCrossOriginProtection().Handler(protect(mux))))
//
// and in the page's handler, before the response is written:
//
//	field, err := csrf.Field(httpx.FromContext(r.Context())) // <input type="hidden" name="csrf_token" value="...">
//
// # Rotation
//
// A token is bound to the session it was issued for: a token taken from
// one session does not verify with another session's cookie. The secret
// rotates by itself whenever the session's ID is regenerated (Login,
// Regenerate: the session's generation changes), so a token that an
// attacker obtained before login is useless after it; pages rendered
// before the login must fetch a new token. Logout starts a new session,
// with a new secret. Rotate replaces the secret explicitly (after a
// password change, say).
//
// Creating or rotating the secret changes the session, so, like every
// change, it must happen before the response is written: Token on a
// session without a secret, and Rotate, return an error matching
// httpx.ErrResponseStarted after that. Call Token before writing the page.
package csrf
