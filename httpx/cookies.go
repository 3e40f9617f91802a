package httpx

import (
	"net/http"
	"strconv"
	"unsafe"

	"github.com/sealedsession/sealedsession/internal/wire"
)

// transport is how a sealed session travels between client and server:
// chunked cookies (cookieTransport) or an Authorization header
// (bearerTransport). A request's transport is chosen once, when the
// request is read, and the response answers in the same one.
type transport interface {
	// read returns the sealed text the request carries and the context it
	// was sealed for. present is false when the request carries none; err
	// is why what it carries is refused unopened.
	read(r *http.Request) (text, ad []byte, present bool, err error)
	// plan sizes a sealed text of textLen bytes: the pieces, the sealing
	// context and the response header bytes, or a *SizeError. extra is the
	// bytes of other response lines the same save writes (a legacy
	// cookie's clearing line), counted against the same budget.
	plan(textLen, extra int) (layout, error)
	// write adds the planned lines to h.
	write(h http.Header, text []byte, l layout, maxAge int)
	// clear tells the client to drop its session: with all, every name
	// the session could use (logout); otherwise what the request carried.
	clear(h http.Header, all bool)
}

// layout is a transport's plan for one sealed text.
type layout struct {
	pieces      int    // cookies (1 for a token)
	ad          []byte // the context the text is sealed for
	headerBytes int    // response header bytes of the save
	cookieBytes int    // bytes the client sends back (Cookie pairs, or the token)
}

// over is the *SizeError of a layout that went over limit: size against max.
func (l layout) over(limit SizeLimit, size, max int) *SizeError {
	return &SizeError{Limit: limit, Size: size, Max: max,
		HeaderBytes: l.headerBytes, CookieBytes: l.cookieBytes, Chunks: l.pieces}
}

const (
	setCookiePrefix = len("Set-Cookie: ")
	crlf            = 2
)

// cookieTransport carries a session in chunk cookies; one lives in each
// request's state, holding what the request carried.
type cookieTransport struct {
	m       *Manager
	buf     *[]byte   // pooled buffer holding a joined chunk set, until release
	legacy  string    // the legacy cookie's value, when asked for and present
	present uint16    // the chunk names the request carried (wire.Chunks.Present)
	one     [1]string // backs the Set-Cookie value of a one-cookie save
}

func (t *cookieTransport) read(r *http.Request) (text, ad []byte, present bool, err error) {
	// The scan lives on the stack: the request's state keeps only which
	// names were present (for the clears of the response) and the legacy
	// value.
	var chunks wire.Chunks
	cs := &chunks
	t.m.reader.Scan(r.Header["Cookie"], cs)
	t.present, t.legacy = cs.Present, cs.Legacy
	if cs.Present == 0 && !cs.Dup && !cs.Over {
		return nil, nil, false, nil
	}
	var scratch []byte
	if cs.Present&^1 != 0 {
		// Several chunks are joined into a pooled buffer; a single
		// cookie is read in place.
		t.buf = t.m.getBuf()
		scratch = *t.buf
	}
	text, n, err := cs.Join(scratch)
	if err != nil {
		return nil, nil, true, err
	}
	return text, t.m.contexts[n], true, nil
}

// release returns the joining buffer to the pool once the text is opened.
func (t *cookieTransport) release() {
	if t.buf != nil {
		t.m.bufs.Put(t.buf)
		t.buf = nil
	}
}

func (t *cookieTransport) plan(textLen, extra int) (layout, error) {
	m := t.m
	n := max(1, (textLen+m.chunkMax-1)/m.chunkMax)
	l := layout{pieces: n,
		headerBytes: extra + m.setLinesBytes(textLen, n) + t.clearBytes(n),
		cookieBytes: m.cookieBytes(textLen, n)}
	switch {
	case n > m.cfg.Cookie.MaxChunks:
		return l, l.over(LimitChunks, n, m.cfg.Cookie.MaxChunks)
	case l.headerBytes > m.cfg.Cookie.MaxHeaderBytes:
		return l, l.over(LimitHeaderBytes, l.headerBytes, m.cfg.Cookie.MaxHeaderBytes)
	}
	l.ad = m.contexts[n]
	return l, nil
}

func (t *cookieTransport) write(h http.Header, text []byte, l layout, maxAge int) {
	m := t.m
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		// The usual save, one cookie, costs no slice of its own; the
		// slice is full, so a later append copies it.
		lines = t.one[:0:1]
	}
	size := (len(text) + l.pieces - 1) / l.pieces
	for i := 0; i < l.pieces; i++ {
		end := min((i+1)*size, len(text))
		lines = append(lines, m.setCookieLine(m.names[i], text[i*size:end], maxAge))
	}
	h["Set-Cookie"] = t.appendClears(lines, l.pieces)
}

func (t *cookieTransport) clear(h http.Header, all bool) {
	if !all {
		h["Set-Cookie"] = t.appendClears(h["Set-Cookie"], 0)
		return
	}
	lines := h["Set-Cookie"]
	for i := 0; i < t.m.cfg.Cookie.MaxChunks; i++ {
		lines = append(lines, t.m.clearLine(t.m.names[i]))
	}
	h["Set-Cookie"] = lines
}

// clears reports whether chunk i must be cleared by a response that
// writes n chunks: a name the request carried past n, and, when the
// session shrinks from more chunks than n, the whole fixed range past n,
// so that no stale chunk can survive a shrink.
func (t *cookieTransport) clears(i, n int) bool {
	if i < n {
		return false
	}
	return t.present&(1<<i) != 0 || t.present>>n != 0
}

func (t *cookieTransport) appendClears(lines []string, n int) []string {
	for i := n; i < t.m.cfg.Cookie.MaxChunks; i++ {
		if t.clears(i, n) {
			lines = append(lines, t.m.clearLine(t.m.names[i]))
		}
	}
	return lines
}

// clearBytes is the response header bytes of the clearing lines a save of
// n chunks writes.
func (t *cookieTransport) clearBytes(n int) int {
	b := 0
	for i := n; i < t.m.cfg.Cookie.MaxChunks; i++ {
		if t.clears(i, n) {
			b += setCookiePrefix + len(t.m.names[i]) + 1 + t.m.clearAttrLen + crlf
		}
	}
	return b
}

// setLinesBytes is the response header bytes of n Set-Cookie lines
// carrying textLen bytes of sealed text, with the longest Max-Age.
func (m *Manager) setLinesBytes(textLen, n int) int {
	b := textLen
	for i := 0; i < n && i < HardMaxChunks; i++ {
		b += setCookiePrefix + len(m.names[i]) + 1 + m.attrLen + crlf
	}
	return b
}

// cookieBytes is what n chunk cookies of textLen bytes take in the Cookie
// request header ("name=value" pairs joined by "; ").
func (m *Manager) cookieBytes(textLen, n int) int {
	b := textLen + 2*(n-1)
	for i := 0; i < n && i < HardMaxChunks; i++ {
		b += len(m.names[i]) + 1
	}
	return b
}

// appendAttrs appends the attributes after "name=value" on every session
// cookie. A negative maxAge writes none: a browser-session cookie.
func (m *Manager) appendAttrs(b []byte, maxAge int) []byte {
	ck := &m.cfg.Cookie
	b = append(b, "; Path="...)
	b = append(b, ck.Path...)
	if ck.Domain != "" {
		b = append(b, "; Domain="...)
		b = append(b, ck.Domain...)
	}
	if maxAge >= 0 {
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, int64(maxAge), 10)
	}
	b = append(b, "; HttpOnly"...)
	if !m.cfg.Cookie.InsecureAllowPlainHTTP {
		b = append(b, "; Secure"...)
	}
	switch m.cfg.Cookie.SameSite {
	case http.SameSiteStrictMode:
		b = append(b, "; SameSite=Strict"...)
	case http.SameSiteNoneMode:
		b = append(b, "; SameSite=None"...)
	default:
		b = append(b, "; SameSite=Lax"...)
	}
	return b
}

// setCookieLine formats one Set-Cookie header value.
func (m *Manager) setCookieLine(name string, value []byte, maxAge int) string {
	b := make([]byte, 0, len(name)+1+len(value)+m.attrLen)
	b = append(b, name...)
	b = append(b, '=')
	b = append(b, value...)
	b = m.appendAttrs(b, maxAge)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never touched again
}

// clearLine returns the Set-Cookie value that deletes cookie name.
func (m *Manager) clearLine(name string) string {
	b := make([]byte, 0, len(name)+1+m.attrLen)
	b = append(b, name...)
	b = append(b, '=')
	b = m.appendAttrs(b, 0)
	return string(b)
}
