package main

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"time"
)

// stylesheet is inlined into every page; the Content-Security-Policy
// allows exactly this text (by its hash) and nothing else.
const stylesheet = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232a;background:#f4f6f8}
header{background:#1d3557;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a,header button.link{color:#fff;text-decoration:none;font-weight:600;background:none;border:0;font:inherit;cursor:pointer;padding:0}
header .who{margin-left:auto;opacity:.85}
header form{display:inline;margin:0}
main{max-width:54rem;margin:1.5rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:1rem 1.2rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef1f4;vertical-align:top}
th{width:14rem;color:#57606a;font-weight:500}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:.05rem .3rem;border-radius:4px}
.flash{background:#e6f4ea;border:1px solid #a6d9b5;padding:.6rem 1rem;border-radius:6px;margin-bottom:1rem}
.error{background:#fdecea;border:1px solid #f5b5ae;padding:.6rem 1rem;border-radius:6px;margin-bottom:1rem}
meter{width:100%;height:.9rem}
form.inline{display:inline}
button{font:inherit;padding:.35rem .9rem;border-radius:6px;border:1px solid #1d3557;background:#1d3557;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1d3557}
input,select{font:inherit;padding:.3rem .5rem;border:1px solid #c5ccd3;border-radius:6px}
label{display:block;margin:.4rem 0}
.muted{color:#57606a}
`

// contentSecurityPolicy allows the inline stylesheet above and the
// countdown script of the "Inside your session" page, each by its hash,
// and nothing else: no other script, no external resources, forms only
// to this origin.
var contentSecurityPolicy = func() string {
	sum := sha256.Sum256([]byte(stylesheet + insideStylesheet))
	js := sha256.Sum256([]byte(countdownScript))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(js[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// sessionFacts is what the pages show about the current session.
type sessionFacts struct {
	Exists           bool
	Tag              string
	Generation       uint32
	IssuedAt         time.Time
	IdleDeadline     time.Time
	AbsoluteDeadline time.Time
	CookieName       string
	CookiesSent      []string // session cookie names the browser sent with this request
	BytesSent        int      // bytes of those cookies in the Cookie header
	CookieBytes      int      // bytes the session's cookies take in the Cookie header as it stands now
	HeaderBytes      int      // bytes of response header lines a save writes (what the budget counts)
	Budget           int      // Cookie.MaxHeaderBytes
	Remaining        int      // about how many more bytes of values fit
}

type pageData struct {
	Title   string
	User    string
	IsAdmin bool
	Flashes []string
	Notice  string
	Error   string
	Warning string // why the browser's session cookie was refused, in plain words
	Facts   sessionFacts
	Inside  *insideView // the "Inside your session" page

	// login
	DemoUsers []demoUser
	LoginUser string

	// cart
	Cart      []CartItem
	CartTotal string
	Catalogue []product

	// admin
	Users        []string
	UserSessions []userSessions

	// home: the user's own sessions
	Devices []device
}

var funcs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"until": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return "in " + time.Until(t).Round(time.Second).String()
	},
	"css":   func() template.CSS { return template.CSS(stylesheet + insideStylesheet) },
	"money": func(cents int) string { return formatMoney(cents) },
}

const layout = `{{define "top"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} · sealedsession demo</title><style>{{css}}</style></head>
<body><header>
<a href="/">Home</a><a href="/cart">Cart</a>{{if .IsAdmin}}<a href="/admin">Admin</a>{{end}}<a href="/inside" id="inside-link">Inside your session</a><a href="/api/session">/api/session</a>
<span class="who">{{if .User}}signed in as <strong id="who">{{.User}}</strong>{{else}}<span id="who">not signed in</span>{{end}}</span>
{{if .User}}<form method="post" action="/logout"><button class="link" id="logout">Log out</button></form>{{else}}<a href="/login" id="login-link">Log in</a>{{end}}
</header><main>
{{range .Flashes}}<div class="flash">{{.}}</div>{{end}}
{{if .Notice}}<div class="flash" id="notice">{{.Notice}}</div>{{end}}
{{if .Error}}<div class="error" id="error">{{.Error}}</div>{{end}}
{{if .Warning}}<div class="warning" id="warning" role="alert"><span aria-hidden="true">⚠</span> {{.Warning}}</div>{{end}}
{{end}}
{{define "bottom"}}</main></body></html>{{end}}
{{define "facts"}}<section><h2>This session</h2>
{{if .Exists}}<table>
<tr><th>Session tag</th><td><code id="tag">{{.Tag}}</code> <span class="muted">(short non-reversible tag of the session ID)</span></td></tr>
<tr><th>Generation</th><td id="generation">{{.Generation}}</td></tr>
<tr><th>Issued at</th><td>{{ts .IssuedAt}}</td></tr>
<tr><th>Idle deadline</th><td>{{ts .IdleDeadline}} <span class="muted">{{until .IdleDeadline}}</span></td></tr>
<tr><th>Absolute deadline</th><td>{{ts .AbsoluteDeadline}} <span class="muted">{{until .AbsoluteDeadline}}</span></td></tr>
<tr><th>Cookies the browser sent</th><td><span id="chunks">{{len .CookiesSent}}</span> cookie(s), <span id="bytes-sent">{{.BytesSent}}</span> bytes: {{range .CookiesSent}}<code>{{.}}</code> {{end}}</td></tr>
<tr><th>Session size now</th><td><span id="header-bytes">{{.HeaderBytes}}</span> of {{.Budget}} bytes of Set-Cookie lines (the budget); the browser sends back <span id="cookie-bytes">{{.CookieBytes}}</span>; about <span id="remaining">{{.Remaining}}</span> more bytes of values fit
<br><meter min="0" max="{{.Budget}}" value="{{.HeaderBytes}}"></meter></td></tr>
</table>{{else}}<p class="muted" id="no-session">No session yet: nothing has been stored, so no cookie was set.</p>{{end}}
</section>{{end}}`

const homePage = `{{template "top" .}}<h1>Sealed sessions demo</h1>
<section><p>The whole session lives in the browser, sealed with XChaCha20-Poly1305 into <code>{{.Facts.CookieName}}</code> cookies.
The server keeps only a per-user epoch (for "log out everywhere") and a short list of logged-out session IDs.</p>
{{if .User}}<p>You are signed in as <strong>{{.User}}</strong>.</p>
<form method="post" action="/logout-everywhere" class="inline"><button id="logout-everywhere">Log out everywhere</button></form>
<form method="post" action="/logout" class="inline"><button class="secondary">Log out</button></form>
{{else}}<p>You are not signed in. <a href="/login">Log in</a> as one of the demo users.</p>{{end}}</section>
{{if .User}}<section id="devices"><h2>Your devices</h2>
<p class="muted">Every live session of your user, oldest first (kept by the store with <code>Config.TrackSessions</code>).</p>
<table><tr><th>Session</th><th>Created</th><th>Last seen</th><th>Client</th><th>Network</th><th></th></tr>
{{range .Devices}}<tr class="device"><td><code>{{.Tag}}</code>{{if .Current}} <strong>(this device)</strong>{{end}}</td><td>{{ts .Created}}</td><td>{{ts .LastSeen}}</td><td>{{.Client}}</td><td>{{.Network}}</td>
<td><form method="post" action="/devices/logout" class="inline"><input type="hidden" name="tag" value="{{.Tag}}"><button class="secondary">Log out that device</button></form></td></tr>
{{end}}</table></section>{{end}}
{{template "facts" .Facts}}{{template "bottom"}}`

const loginPage = `{{template "top" .}}<h1>Log in</h1>
<section><form method="post" action="/login">
<label>User <input name="user" id="user" value="{{.LoginUser}}" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button id="submit">Log in</button></form></section>
<section><h2>Demo users</h2><table>{{range .DemoUsers}}<tr><th><code>{{.Name}}</code>{{if .Admin}} (admin){{end}}</th><td>password <code>{{.Password}}</code></td></tr>{{end}}</table>
<p class="muted">Passwords are stored as bcrypt hashes computed at start-up; they are shown here only because this is a demo.</p></section>
{{template "bottom"}}`

const cartPage = `{{template "top" .}}<h1>Cart</h1>
<section><p>The cart is a typed value (<code>codec.NewKey[[]CartItem]("cart")</code>) inside the sealed session. Each add puts a new line in it,
so the session grows: past about 4 KB it is split into chunk cookies, and at the size budget the server refuses the change and keeps the previous cart.</p>
<form method="post" action="/cart/add" class="inline"><select name="sku">{{range .Catalogue}}<option value="{{.SKU}}">{{.Name}} ({{money .PriceCents}})</option>{{end}}</select>
<button id="add">Add to cart</button></form>
<form method="post" action="/cart/add" class="inline"><input type="hidden" name="count" value="10"><button id="add10" class="secondary">Add 10 items</button></form>
<form method="post" action="/cart/clear" class="inline"><button id="clear" class="secondary">Empty the cart</button></form></section>
<section><h2><span id="cart-count">{{len .Cart}}</span> line(s), total {{.CartTotal}}</h2>
{{if .Cart}}<table>{{range .Cart}}<tr><td><code>{{.SKU}}</code></td><td>{{.Name}}</td><td>{{.Qty}} × {{money .PriceCents}}</td></tr>{{end}}</table>{{else}}<p class="muted">Empty.</p>{{end}}</section>
{{template "facts" .Facts}}{{template "bottom"}}`

const adminPage = `{{template "top" .}}<h1>Admin</h1>
<section><h2>Force a user to log out everywhere</h2>
<p>This bumps the user's epoch in the store: every session issued to that user before now is refused, on every instance sharing the store.</p>
<form method="post" action="/admin/force-logout"><label>User <select name="user" id="target">{{range .Users}}<option>{{.}}</option>{{end}}</select></label>
<button id="force-logout">Force logout</button></form></section>
<section id="sessions"><h2>Active sessions</h2>
<p class="muted">Each demo user's live sessions. "Revoke" logs out that one device: its session ID is revoked until it would have expired.</p>
{{range .UserSessions}}<h3><code>{{.User}}</code>: {{len .Sessions}} session(s)</h3>
{{if .Sessions}}<table><tr><th>Session</th><th>Created</th><th>Last seen</th><th>Client</th><th>Network</th><th></th></tr>
{{$user := .User}}{{range .Sessions}}<tr class="session" data-user="{{$user}}"><td><code>{{.Tag}}</code>{{if .Current}} <strong>(you, now)</strong>{{end}}</td><td>{{ts .Created}}</td><td>{{ts .LastSeen}}</td><td>{{.Client}}</td><td>{{.Network}}</td>
<td>{{if not .Current}}<form method="post" action="/admin/revoke-session" class="inline"><input type="hidden" name="user" value="{{$user}}"><input type="hidden" name="id" value="{{.ID}}"><button class="secondary">Revoke</button></form>{{end}}</td></tr>
{{end}}</table>{{end}}{{end}}</section>
{{template "facts" .Facts}}{{template "bottom"}}`

const errorPage = `{{template "top" .}}<h1>{{.Title}}</h1>{{template "bottom"}}`

var pages = func() map[string]*template.Template {
	m := make(map[string]*template.Template)
	for name, body := range map[string]string{
		"home": homePage, "login": loginPage, "cart": cartPage, "admin": adminPage, "error": errorPage,
	} {
		m[name] = template.Must(template.New(name).Funcs(funcs).Parse(layout + body))
	}
	return m
}()

// render writes page name with data and status code.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages[name].Execute(w, d); err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
	}
}
