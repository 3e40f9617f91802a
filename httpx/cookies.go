package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"unsafe"
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

const (
	setCookiePrefix = len("Set-Cookie: ")
	crlf            = 2
)

// cookieSet is what a request carried of the session's cookie names.
type cookieSet struct {
	values  [HardMaxChunks]string // by chunk index; "" = absent
	present uint16                // bit i: chunk i's name was present
	total   int                   // bytes of the values
	legacy  string                // the legacy cookie's value, if configured and present
	dup     bool                  // a name appeared twice
	over    bool                  // more bytes than any session this Manager writes: stopped reading
}

// cookieTransport carries a session in chunk cookies; one lives in each
// request's state, holding what the request carried.
type cookieTransport struct {
	m   *Manager
	cs  cookieSet
	buf *[]byte // pooled buffer holding a joined chunk set, until release
}

func (t *cookieTransport) read(r *http.Request) (text, ad []byte, present bool, err error) {
	cs := &t.cs
	t.m.readCookies(r.Header, cs)
	if cs.present == 0 && !cs.dup && !cs.over {
		return nil, nil, false, nil
	}
	var scratch []byte
	if cs.present&^1 != 0 {
		// Several chunks are joined into a pooled buffer; a single
		// cookie is read in place.
		t.buf = t.m.getBuf()
		scratch = *t.buf
	}
	text, n, err := cs.join(scratch)
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
	l := layout{pieces: n}
	if n > m.cfg.Cookie.MaxChunks {
		l.headerBytes = extra + m.setLinesBytes(textLen, n) + t.clearBytes(n)
		l.cookieBytes = m.cookieBytes(textLen, n)
		return l, &SizeError{Limit: LimitChunks, Size: n, Max: m.cfg.Cookie.MaxChunks,
			HeaderBytes: l.headerBytes, CookieBytes: l.cookieBytes, Chunks: n}
	}
	l.ad = m.contexts[n]
	l.headerBytes = extra + m.setLinesBytes(textLen, n) + t.clearBytes(n)
	l.cookieBytes = m.cookieBytes(textLen, n)
	if l.headerBytes > m.cfg.Cookie.MaxHeaderBytes {
		return l, &SizeError{Limit: LimitHeaderBytes, Size: l.headerBytes, Max: m.cfg.Cookie.MaxHeaderBytes,
			HeaderBytes: l.headerBytes, CookieBytes: l.cookieBytes, Chunks: n}
	}
	return l, nil
}

func (t *cookieTransport) write(h http.Header, text []byte, l layout, maxAge int) {
	m := t.m
	lines := h["Set-Cookie"]
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
	return t.cs.present&(1<<i) != 0 || t.cs.present>>n != 0
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

// chunkIndex returns which chunk name is name (0 = the base name), or -1.
func (m *Manager) chunkIndex(name string) int {
	base := m.cfg.Cookie.Name
	if !strings.HasPrefix(name, base) {
		return -1
	}
	rest := name[len(base):]
	if rest == "" {
		return 0
	}
	if len(rest) == 2 && rest[0] == '-' && rest[1] >= '1' && int(rest[1]-'0') < m.cfg.Cookie.MaxChunks {
		return int(rest[1] - '0')
	}
	return -1
}

// readCookies scans the Cookie header lines once, without parsing cookies
// that are not ours, and without allocating.
func (m *Manager) readCookies(h http.Header, cs *cookieSet) {
	legacyName := ""
	if m.cfg.Legacy != nil {
		legacyName = m.cfg.Legacy.CookieName()
	}
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = strings.TrimSpace(part)
			eq := strings.IndexByte(part, '=')
			if eq <= 0 {
				continue
			}
			name, value := part[:eq], part[eq+1:]
			if legacyName != "" && name == legacyName {
				cs.legacy = value
				continue
			}
			idx := m.chunkIndex(name)
			if idx < 0 {
				continue
			}
			if cs.present&(1<<idx) != 0 {
				cs.dup = true
				continue
			}
			cs.present |= 1 << idx
			cs.values[idx] = value
			cs.total += len(value)
			if cs.total > m.readMax {
				cs.over = true
				return
			}
		}
	}
}

// join checks the chunk set and returns the sealed text and the chunk count.
// buf is used when there is more than one chunk.
func (cs *cookieSet) join(buf []byte) (text []byte, n int, err error) {
	if cs.dup {
		return nil, 0, ErrChunks
	}
	if cs.over {
		return nil, 0, ErrOversizedCookie
	}
	if cs.present&1 == 0 {
		// Chunks without their first cookie: a partial set.
		return nil, 0, ErrChunks
	}
	n = 1
	for n < HardMaxChunks && cs.present&(1<<n) != 0 {
		n++
	}
	if cs.present>>n != 0 {
		return nil, 0, ErrChunks // a gap in the chunk numbers
	}
	if n == 1 {
		return stringBytes(cs.values[0]), 1, nil
	}
	buf = buf[:0]
	for i := 0; i < n; i++ {
		buf = append(buf, cs.values[i]...)
	}
	return buf, n, nil
}

// appendAttrs appends the attributes after "name=value" on every session
// cookie.
func (m *Manager) appendAttrs(b []byte, maxAge int) []byte {
	b = append(b, "; Path=/; Max-Age="...)
	b = strconv.AppendInt(b, int64(maxAge), 10)
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

// clearLegacyLine deletes the legacy cookie (set by gorilla/sessions with
// Path=/ by default).
func clearLegacyLine(name string) string {
	return name + "=; Path=/; Max-Age=0"
}

// stringBytes returns the bytes of s without copying. The result must
// never be written to; it is only handed to decoders that read it.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
