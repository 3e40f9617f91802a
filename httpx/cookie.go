package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"unsafe"
)

// cookieSet is what a request carried of the session's cookie names.
type cookieSet struct {
	values  [HardMaxChunks]string // by chunk index; "" = absent
	present uint16                // bit i: chunk i's name was present
	total   int                   // bytes of the values
	legacy  string                // the legacy cookie's value, if configured and present
	dup     bool                  // a name appeared twice
	over    bool                  // more bytes than any budget allows: stopped reading
}

// chunkIndex returns which chunk name is name (0 = the base name), or -1.
func (m *Manager) chunkIndex(name string) int {
	base := m.cfg.CookieName
	if !strings.HasPrefix(name, base) {
		return -1
	}
	rest := name[len(base):]
	if rest == "" {
		return 0
	}
	if len(rest) == 2 && rest[0] == '-' && rest[1] >= '1' && int(rest[1]-'0') < m.cfg.MaxChunks {
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
			if cs.total > m.cfg.MaxTotalCookieBytes {
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

// attrs are the attributes after "name=value" on every session cookie.
func (m *Manager) appendAttrs(b []byte, maxAge int) []byte {
	b = append(b, "; Path=/; Max-Age="...)
	b = strconv.AppendInt(b, int64(maxAge), 10)
	b = append(b, "; HttpOnly"...)
	if !m.cfg.InsecureAllowPlainHTTP {
		b = append(b, "; Secure"...)
	}
	switch m.cfg.SameSite {
	case http.SameSiteStrictMode:
		b = append(b, "; SameSite=Strict"...)
	case http.SameSiteNoneMode:
		b = append(b, "; SameSite=None"...)
	default:
		b = append(b, "; SameSite=Lax"...)
	}
	return b
}

// maxAttrLen is the longest the attributes can be (10-digit Max-Age).
func (m *Manager) maxAttrLen() int {
	return len(m.appendAttrs(nil, 1e9))
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
