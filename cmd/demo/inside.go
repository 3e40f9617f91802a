package main

import (
	"encoding/binary"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
)

// insidePage is GET /inside, "Inside your session": the opened header of
// the request's session, each stored value with its size, and a picture
// of where the bytes of its Set-Cookie lines go. It uses only the public
// API (httpx.Session, codec.Payload, sealed.SealedLen and constants).
type insidePage struct {
	a *app
	// The demo's cookie configuration as given to httpx.New: Secure unless
	// -insecure-plain-http, the budget (-max-header-bytes), and httpx's
	// defaults for the rest (Path /, SameSite Lax, no Domain, 4 chunks).
	secure         bool
	maxHeaderBytes int
	maxChunks      int
}

func newInsidePage(a *app, cfg config) *insidePage {
	p := &insidePage{a: a, secure: !cfg.InsecurePlainHTTP, maxHeaderBytes: cfg.MaxHeaderBytes, maxChunks: httpx.DefaultMaxChunks}
	if p.maxHeaderBytes == 0 {
		p.maxHeaderBytes = httpx.DefaultMaxHeaderBytes
	}
	return p
}

// insideView is what the panel shows.
type insideView struct {
	Exists     bool
	Tag        string
	User       string
	IssuedAt   time.Time
	LastSeen   time.Time
	Generation uint32
	Epoch      uint64
	Idle       deadline
	Absolute   deadline
	IdleFor    string // the idle timeout, in words
	AbsFor     string // the absolute timeout, in words
	Now        time.Time

	Values      []valueSize
	CountBytes  int // the uvarint count before the entries
	HeaderBytes int // the payload header
	PayloadLen  int
	EnvelopeLen int
	SealedLen   int
	CookieBytes int // what the browser sends back in its Cookie header

	Bar   byteBar
	Lines []sentLine // the Set-Cookie lines this response carries
}

// deadline is a point in time with the countdown the page shows before
// any script runs.
type deadline struct {
	At   time.Time
	Left string // "in 29m 59s" when the page was served
}

// valueSize is one stored value and its size.
type valueSize struct {
	Name    string
	Library string // what a reserved (library-owned) value is; "" for the application's own
	Value   int    // bytes of its CBOR encoding
	Entry   int    // bytes of its whole entry: name length, name, value length, value
}

// reservedNames describes the values the library keeps under reserved
// ("_") names.
var reservedNames = map[string]string{
	"_flash": "flash messages, read once",
	"_bind":  "client binding: hashes of the network prefix and User-Agent at login",
	"_seen":  "session tracking: when the device list last heard of this session",
	"_keep":  "cookie lifetime chosen by Remember",
}

// sentLine is one Set-Cookie line of this response, without its value.
type sentLine struct {
	Name   string
	Bytes  int  // "Set-Cookie: " + line + CRLF
	Clears bool // Max-Age=0: deletes the cookie
	MaxAge string
}

func (p *insidePage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := p.a
	s := httpx.FromContext(r.Context())
	d := a.page(w, r, s, "Inside your session")
	// Start the response first: the middleware saves the session now, so
	// the panel shows it as this response leaves it (flashes taken, a
	// renewal done) and can list the Set-Cookie lines really sent.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	d.Inside = p.view(r, s, w.Header().Values("Set-Cookie"))
	if err := insideTemplate.Execute(w, d); err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", "inside", "err", err)
	}
}

// view opens up s for the panel. setCookie is the response's Set-Cookie
// lines (only their names, lengths and Max-Age are shown).
func (p *insidePage) view(r *http.Request, s *httpx.Session, setCookie []string) *insideView {
	v := &insideView{Now: p.now()}
	if s.IsNew() && !s.Payload().Dirty() && !s.Authenticated() {
		return v
	}
	pl := s.Payload()
	h := pl.Header()
	pol := p.a.m.Policy()
	v.Exists = true
	v.Tag = s.Tag()
	v.User = s.UserID()
	v.IssuedAt, v.LastSeen = s.IssuedAt(), s.LastSeen()
	v.Generation, v.Epoch = s.Generation(), h.UserEpoch
	v.Idle = deadline{At: s.IdleDeadline(), Left: countdown(s.IdleDeadline().Sub(v.Now))}
	v.Absolute = deadline{At: s.AbsoluteDeadline(), Left: countdown(s.AbsoluteDeadline().Sub(v.Now))}
	v.IdleFor, v.AbsFor = inWords(pol.IdleTimeout), inWords(pol.AbsoluteTimeout)

	v.HeaderBytes = h.EncodedLen()
	v.PayloadLen = pl.EncodedLen()
	v.CountBytes = uvarintLen(len(pl.Names()))
	for _, name := range pl.Names() {
		raw, _ := pl.Raw(name)
		vs := valueSize{Name: name, Value: len(raw), Entry: 1 + len(name) + uvarintLen(len(raw)) + len(raw)}
		if strings.HasPrefix(name, "_") {
			vs.Library = reservedNames[name]
			if vs.Library == "" {
				vs.Library = "reserved for the library"
			}
		}
		v.Values = append(v.Values, vs)
	}
	v.EnvelopeLen = sealed.HeaderSize + v.PayloadLen + sealed.Overhead
	v.SealedLen = sealed.SealedLen(v.PayloadLen)
	v.CookieBytes = s.CookieBytes()

	names := chunkNames(p.a.m.CookieName())
	n := chunkCount(v.SealedLen, v.CookieBytes, names)
	v.Bar = layoutBar(splitBytes(sizes{
		header:     v.HeaderBytes,
		payload:    v.PayloadLen,
		names:      names[:n],
		attrs:      len(p.attrs(1e9)),
		clearLines: p.clearBytes(r, names, n),
	}), names[:n], p.maxHeaderBytes, s.HeaderBytes())
	for _, l := range setCookie {
		v.Lines = append(v.Lines, describeLine(l))
	}
	return v
}

func (p *insidePage) now() time.Time {
	if now := p.a.m.Policy().Now; now != nil {
		return now()
	}
	return time.Now()
}

// attrs is the attribute text after "name=value" on the demo's session
// cookies with the given Max-Age, formatted by net/http in the order
// httpx writes them (Path, Max-Age, HttpOnly, Secure, SameSite). As in
// net/http, maxAge < 0 writes "Max-Age=0" (a clearing line).
func (p *insidePage) attrs(maxAge int) string {
	c := &http.Cookie{Name: "n", Value: "v", Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode}
	return strings.TrimPrefix(c.String(), "n=v")
}

// clearBytes is the bytes of the lines that delete stale chunk cookies
// when a session of n chunks is written (SPEC "Attributes"): every name
// from n up to the chunk limit, when the request carried any of them.
func (p *insidePage) clearBytes(r *http.Request, names []string, n int) int {
	stale := false
	for _, c := range r.Cookies() {
		for i := n; i < len(names); i++ {
			if c.Name == names[i] {
				stale = true
			}
		}
	}
	if !stale {
		return 0
	}
	b := 0
	for i := n; i < p.maxChunks; i++ {
		b += len("Set-Cookie: ") + len(names[i]) + 1 + len(p.attrs(-1)) + len("\r\n")
	}
	return b
}

// chunkNames returns the session cookie's name and its chunk names:
// NAME, NAME-1, ..., NAME-8.
func chunkNames(base string) []string {
	names := []string{base}
	for i := 1; i < httpx.HardMaxChunks; i++ {
		names = append(names, base+"-"+strconv.Itoa(i))
	}
	return names
}

// chunkCount finds how many cookies a sealed text of textLen characters
// is split into, from the bytes they take in the Cookie request header
// (Session.CookieBytes: "name=value" pairs joined by "; ").
func chunkCount(textLen, cookieBytes int, names []string) int {
	b := textLen - 2
	for n := 1; n <= len(names); n++ {
		b += 2 + len(names[n-1]) + 1
		if b == cookieBytes {
			return n
		}
	}
	return 1
}

func uvarintLen(x int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(x))
}

// describeLine names a Set-Cookie line without showing its value.
func describeLine(line string) sentLine {
	l := sentLine{Bytes: len("Set-Cookie: ") + len(line) + len("\r\n")}
	l.Name, _, _ = strings.Cut(line, "=")
	for _, attr := range strings.Split(line, "; ")[1:] {
		if age, ok := strings.CutPrefix(attr, "Max-Age="); ok {
			l.MaxAge = age
			l.Clears = age == "0"
		}
	}
	return l
}

// sizes are the inputs of the byte breakdown.
type sizes struct {
	header     int      // payload header bytes
	payload    int      // whole payload bytes (header, count, entries)
	names      []string // the cookie names the sealed text is written under
	attrs      int      // attribute bytes of one line, as the budget counts them
	clearLines int      // lines deleting stale chunks
}

// part is one piece of the byte breakdown.
type part struct {
	Key, Label, Color string
	Bytes             int
	Note              string
	// SVG geometry, filled in by layoutBar: on the upper bar (X, W) and
	// on the budget's scale (BX, BW).
	X, W, BX, BW string
	Inner        bool // room for the number inside the bar
	Light        bool // dark text on a light fill
}

// splitBytes cuts the session's Set-Cookie lines into the parts the bar
// shows. They add up to what httpx counts against Cookie.MaxHeaderBytes
// (Session.HeaderBytes): the sealed text, and for each chunk
// "Set-Cookie: " + name + "=" + attributes + CRLF, with the attributes
// counted at the longest Max-Age (10 digits) so that a renewal can never
// go over the budget, plus any lines clearing stale chunks.
func splitBytes(z sizes) []part {
	n := len(z.names)
	sealedLen := sealed.SealedLen(z.payload)
	aead := sealed.HeaderSize + sealed.Overhead
	nameBytes := 0
	for _, name := range z.names {
		nameBytes += len(name) + 1
	}
	ps := []part{
		{Key: "header", Label: "payload header", Color: "#1d3557", Bytes: z.header,
			Note: "format version, flags, session ID, issued-at, last-seen, generation, epoch, user"},
		{Key: "values", Label: "values", Color: "#2a9d8f", Bytes: z.payload - z.header,
			Note: "the count and each value with its name and length"},
		{Key: "aead", Label: "AEAD overhead", Color: "#e9c46a", Bytes: aead, Light: true,
			Note: fmt.Sprintf("version 1 + key ID 4 + nonce %d + tag %d", sealed.NonceSize, sealed.Overhead)},
		{Key: "base64", Label: "base64 expansion", Color: "#f4a261", Bytes: sealedLen - (z.payload + aead), Light: true,
			Note: "4 characters for every 3 bytes, so the value is cookie-safe text"},
		{Key: "name", Label: "cookie name", Color: "#6c757d", Bytes: nameBytes,
			Note: fmt.Sprintf("%s=, once per cookie", strings.Join(z.names, "=, "))},
		{Key: "attrs", Label: "attributes", Color: "#adb5bd", Bytes: n * z.attrs, Light: true,
			Note: "Path, Max-Age, HttpOnly, Secure, SameSite on every cookie; Max-Age counted at its longest (10 digits)"},
		{Key: "line", Label: "header line", Color: "#dee2e6", Bytes: n * (len("Set-Cookie: ") + len("\r\n")), Light: true,
			Note: `"Set-Cookie: " and the line end, once per cookie`},
	}
	if z.clearLines > 0 {
		ps = append(ps, part{Key: "clear", Label: "clearing stale chunks", Color: "#e76f51", Bytes: z.clearLines,
			Note: "lines deleting chunk cookies this session no longer uses"})
	}
	return ps
}

// byteBar is the SVG picture of the breakdown: the parts stacked twice,
// once across the whole width (every part visible) and once to the scale
// of the budget, which is marked.
type byteBar struct {
	Parts       []part
	Total       int // sum of the parts
	HeaderBytes int // Session.HeaderBytes: what httpx counts
	Budget      int // Cookie.MaxHeaderBytes
	Left        int // Budget - Total
	Chunks      int
	ChunkSize   int    // characters of sealed text per chunk (all but the last)
	Cuts        []cut  // chunk boundaries inside the sealed text (upper bar)
	SealedEnd   string // where the sealed text ends on the upper bar
	BudgetX     string // where the budget line is (lower bar)
	Width       int
}

type cut struct {
	X    string
	Name string // the chunk cookie that starts here
}

const (
	barWidth = 760 // drawing width of the bars, SVG user units
	barLeft  = 10
)

// layoutBar places the parts on the two bars: the upper one scaled to
// the total, with the sealed text and its chunk boundaries marked, the
// lower one scaled to the larger of the budget and the total, with the
// budget marked. names are the chunk cookies' names.
func layoutBar(ps []part, names []string, budget, headerBytes int) byteBar {
	b := byteBar{Parts: ps, Chunks: len(names), Budget: budget, HeaderBytes: headerBytes, Width: barWidth + 2*barLeft}
	sealedText := 0 // header, values, AEAD overhead and base64: the sealed text
	for _, p := range ps {
		b.Total += p.Bytes
		switch p.Key {
		case "header", "values", "aead", "base64":
			sealedText += p.Bytes
		}
	}
	b.Left = budget - b.Total
	zoom := float64(barWidth) / float64(max(b.Total, 1))
	scale := float64(barWidth) / float64(max(budget, b.Total, 1))
	x, bx := float64(barLeft), float64(barLeft)
	for i := range ps {
		w, bw := float64(ps[i].Bytes)*zoom, float64(ps[i].Bytes)*scale
		ps[i].X, ps[i].W, ps[i].BX, ps[i].BW = f1(x), f1(w), f1(bx), f1(bw)
		ps[i].Inner = w >= 8*float64(len(strconv.Itoa(ps[i].Bytes)))+8
		x, bx = x+w, bx+bw
	}
	b.BudgetX = f1(barLeft + float64(budget)*scale)
	b.SealedEnd = f1(barLeft + float64(sealedText)*zoom)
	// Chunk boundaries: the sealed text is cut every ceil(L/N) characters.
	if b.Chunks > 1 {
		b.ChunkSize = (sealedText + b.Chunks - 1) / b.Chunks
		for k := 1; k < b.Chunks; k++ {
			b.Cuts = append(b.Cuts, cut{X: f1(barLeft + float64(k*b.ChunkSize)*zoom), Name: names[k]})
		}
	}
	return b
}

func f1(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// countdown formats d as the page shows it before the script runs.
func countdown(d time.Duration) string {
	if d <= 0 {
		return "passed"
	}
	s := int(d / time.Second)
	h, m := s/3600, s%3600/60
	s %= 60
	if h > 0 {
		return fmt.Sprintf("in %dh %02dm %02ds", h, m, s)
	}
	return fmt.Sprintf("in %dm %02ds", m, s)
}

// inWords says a timeout the way a person would: "30 minutes",
// "1 hour 30 minutes", "24 hours".
func inWords(d time.Duration) string {
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + one + "s"
	}
	if d < time.Second {
		return d.String()
	}
	total := int(d / time.Second)
	var out []string
	if days := total / 86400; days > 0 && total%3600 == 0 && total%86400 == 0 {
		return unit(days, "day")
	}
	if h := total / 3600; h > 0 {
		out = append(out, unit(h, "hour"))
	}
	if m := total % 3600 / 60; m > 0 {
		out = append(out, unit(m, "minute"))
	}
	if s := total % 60; s > 0 {
		out = append(out, unit(s, "second"))
	}
	return strings.Join(out, " ")
}

// countdownScript turns the server-rendered countdowns ("in 29m 59s",
// right when the page was served) into live ones. It reads the deadlines
// from data-deadline attributes and the server's clock from data-now, so
// a client clock that is off does not matter. The Content-Security-Policy
// allows exactly this text, by its hash. No comments inside: html/template
// would strip them and the hash would no longer match.
const countdownScript = `(function(){
var root=document.getElementById("inside");if(!root)return;
var off=Date.parse(root.getAttribute("data-now"))-Date.now();
var els=root.querySelectorAll("[data-deadline]");
function pad(n){return n<10?"0"+n:""+n}
function fmt(ms){if(ms<=0)return "passed";var s=Math.floor(ms/1000),h=Math.floor(s/3600),m=Math.floor(s%3600/60);s=s%60;return "in "+(h>0?h+"h "+pad(m)+"m ":m+"m ")+pad(s)+"s"}
function tick(){var now=Date.now()+off;for(var i=0;i<els.length;i++){var e=els[i];e.textContent=fmt(Date.parse(e.getAttribute("data-deadline"))-now);e.setAttribute("data-live","1")}}
tick();setInterval(tick,1000)})();`

// insideStylesheet is appended to the demo's stylesheet (and so to its
// hash in the Content-Security-Policy).
const insideStylesheet = `
.warning{background:#fff4e5;border:1px solid #f0b45a;border-left:5px solid #d97706;padding:.6rem 1rem;border-radius:6px;margin-bottom:1rem}
svg.bar{width:100%;height:auto;display:block}
svg.bar text{font:12px system-ui,sans-serif}
.swatch{display:inline-block;vertical-align:middle}
table.sizes th{width:auto}
#bar-legend td:first-child{white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.lib{color:#7c3aed;font-size:.85em}
`

var insideFuncs = template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"js":      func() template.JS { return template.JS(countdownScript) },
}

const insideBody = `{{template "top" .}}<h1>Inside your session</h1>
{{with .Inside}}<div id="inside" data-now="{{rfc3339 .Now}}">
{{if not .Exists}}<section><p class="muted" id="no-session">No session yet: nothing has been stored, so no cookie was set and there is nothing to open.
Add something to the <a href="/cart">cart</a> or <a href="/login">log in</a>, then come back.</p></section>
{{else}}<section id="inside-header"><h2>The header</h2>
<p class="muted">The server opened your cookie (XChaCha20-Poly1305) and read this fixed header; values stay sealed bytes until a handler asks for one.</p>
<table>
<tr><th>Session tag</th><td><code id="inside-tag">{{.Tag}}</code> <span class="muted">the first 8 hex digits of the ID's SHA-256; the ID itself is never shown</span></td></tr>
<tr><th>User</th><td id="inside-user">{{if .User}}<code>{{.User}}</code>{{else}}<span class="muted">anonymous</span>{{end}}</td></tr>
<tr><th>Issued at</th><td id="inside-issued">{{ts .IssuedAt}}</td></tr>
<tr><th>Last seen</th><td id="inside-last-seen">{{ts .LastSeen}}</td></tr>
<tr><th>Generation</th><td id="inside-generation">{{.Generation}} <span class="muted">rises on login and every new session ID</span></td></tr>
<tr><th>User epoch</th><td id="inside-epoch">{{.Epoch}} <span class="muted">"log out everywhere" raises the user's epoch; a lower one here is refused</span></td></tr>
<tr><th>Idle deadline</th><td id="inside-idle">{{ts .Idle.At}} <strong class="countdown" data-deadline="{{rfc3339 .Idle.At}}">{{.Idle.Left}}</strong>
<br><span class="muted">after {{.IdleFor}} without a request; each request moves it</span></td></tr>
<tr><th>Absolute deadline</th><td id="inside-absolute">{{ts .Absolute.At}} <strong class="countdown" data-deadline="{{rfc3339 .Absolute.At}}">{{.Absolute.Left}}</strong>
<br><span class="muted">{{.AbsFor}} after issue, however active</span></td></tr>
</table>
<p class="muted"><noscript>The countdowns are as of when this page was served. </noscript>Times are UTC.</p></section>

<section id="inside-values"><h2>The values</h2>
{{if .Values}}<table class="sizes"><tr><th>Name</th><th class="num">Value (CBOR)</th><th class="num">Entry</th><th>Owner</th></tr>
{{range .Values}}<tr class="value" data-name="{{.Name}}"><td><code>{{.Name}}</code></td><td class="num">{{.Value}} B</td><td class="num">{{.Entry}} B</td>
<td>{{if .Library}}<span class="lib">the library's own</span> <span class="muted">{{.Library}}</span>{{else}}yours (the application's){{end}}</td></tr>
{{end}}</table>
<p class="muted">An entry is 1 byte of name length, the name, the value's length (1 byte below 128) and the value.
Plus {{.CountBytes}} byte(s) counting the entries.</p>
{{else}}<p class="muted">No values are stored: the cookie holds only the header.</p>{{end}}</section>

<section id="inside-bytes"><h2>Where the cookie's bytes go</h2>
<p>Payload <strong>{{.PayloadLen}}</strong> B (header {{.HeaderBytes}} + values) → envelope <strong>{{.EnvelopeLen}}</strong> B → sealed text <strong>{{.SealedLen}}</strong> characters
{{with .Bar}}→ <strong id="chunk-count">{{.Chunks}}</strong> cookie(s) → <strong id="bar-total">{{.Total}}</strong> bytes of Set-Cookie lines, of a budget of <strong id="bar-budget">{{.Budget}}</strong> ({{.Left}} left).{{end}}
Your browser sends back {{.CookieBytes}} bytes of <code>Cookie</code> header.</p>
{{with .Bar}}<svg id="cookie-bar" class="bar" data-total="{{.Total}}" data-header-bytes="{{.HeaderBytes}}" data-chunks="{{.Chunks}}" viewBox="0 0 {{.Width}} 150" role="img" aria-labelledby="bar-title">
<title id="bar-title">{{.Total}} bytes of Set-Cookie lines against a budget of {{.Budget}} bytes</title>
<text x="10" y="14" fill="#57606a">sealed text{{if gt .Chunks 1}}, cut into {{.Chunks}} chunks of {{.ChunkSize}} characters{{end}}</text>
<path d="M10 24 V19 H{{.SealedEnd}} V24" fill="none" stroke="#57606a"/>
{{range .Parts}}<rect class="part" data-part="{{.Key}}" data-bytes="{{.Bytes}}" x="{{.X}}" y="26" width="{{.W}}" height="40" fill="{{.Color}}"><title>{{.Label}}: {{.Bytes}} bytes</title></rect>
{{if .Inner}}<text x="{{.X}}" dx="4" y="51" fill="{{if .Light}}#1d232a{{else}}#ffffff{{end}}">{{.Bytes}}</text>{{end}}
{{end}}{{range .Cuts}}<line class="chunk-cut" x1="{{.X}}" y1="20" x2="{{.X}}" y2="72" stroke="#c1121f" stroke-width="2" stroke-dasharray="4 3"/><text x="{{.X}}" dx="3" y="82" fill="#c1121f">{{.Name}} starts</text>
{{end}}<text x="10" y="104" fill="#57606a">the same {{.Total}} bytes against the budget (Cookie.MaxHeaderBytes): {{.Left}} bytes left</text>
{{range .Parts}}<rect class="budget-part" x="{{.BX}}" y="110" width="{{.BW}}" height="16" fill="{{.Color}}"/>
{{end}}<rect x="10" y="110" width="760" height="16" fill="none" stroke="#d0d7de"/>
<line id="budget-line" x1="{{.BudgetX}}" y1="104" x2="{{.BudgetX}}" y2="132" stroke="#d00000" stroke-width="2"/>
<text x="{{.BudgetX}}" dx="-4" y="144" text-anchor="end" fill="#d00000">budget {{.Budget}} B</text>
</svg>
<table id="bar-legend" class="sizes"><tr><th>Part</th><th class="num">Bytes</th><th>What it is</th></tr>
{{range .Parts}}<tr data-part="{{.Key}}"><td><svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{{.Color}}"/></svg> {{.Label}}</td><td class="num">{{.Bytes}}</td><td class="muted">{{.Note}}</td></tr>
{{end}}<tr><td><strong>total</strong></td><td class="num"><strong>{{.Total}}</strong></td><td class="muted">what the library counts against <code>Cookie.MaxHeaderBytes</code> ({{.Budget}}); <code>Session.HeaderBytes()</code> = {{.HeaderBytes}}</td></tr>
</table>{{end}}
{{if .Lines}}<p>This response carries {{len .Lines}} Set-Cookie line(s): {{range .Lines}}<code>{{.Name}}</code> {{.Bytes}} B{{if .Clears}} (deletes it){{else if .MaxAge}} (Max-Age={{.MaxAge}}){{end}}; {{end}}
a line is shorter than budgeted by the digits its Max-Age lacks of 10.</p>
{{else}}<p class="muted">This response sets no cookie: nothing changed, and the session was not due for renewal.</p>{{end}}
</section>{{end}}</div>{{end}}
<script>{{js}}</script>
{{template "bottom"}}`

var insideTemplate = template.Must(template.New("inside").Funcs(funcs).Funcs(insideFuncs).Parse(layout + insideBody))
