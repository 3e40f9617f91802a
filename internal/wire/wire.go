// Package wire holds the rules of sessions in HTTP (SPEC.md, "HTTP
// transport") once, for the middleware (httpx) and the tools that open a
// session themselves (cmd/sealctl inspect, the reliability tests): the
// sealing purpose, the associated-data contexts, the chunk cookie names,
// how chunk cookies are read from Cookie header lines and joined, and how
// a Bearer token is read from an Authorization header.
package wire

import (
	"errors"
	"strconv"
	"strings"
	"unsafe"
)

const (
	// SealPurpose is the sealed.Sealer purpose (the HKDF per-purpose
	// subkey) under which sessions are sealed.
	SealPurpose = "sealedsession/session"
	// BearerContext is the associated-data context of a session carried in
	// an "Authorization: Bearer" header. No cookie context equals it.
	BearerContext = "Authorization: Bearer"
	// MaxChunks is the most chunk cookies any configuration may use.
	MaxChunks = 9
)

// Errors of Join. The middleware exports them as httpx.ErrChunks and
// httpx.ErrOversizedCookie.
var (
	// ErrChunks means a chunk set that cannot be joined: a duplicated
	// chunk name, a chunk without the first cookie, or a gap.
	ErrChunks = errors.New("httpx: bad session cookie chunks")
	// ErrOversized means more bytes of chunk values than the reader's bound.
	ErrOversized = errors.New("httpx: session cookie over the size budget")
)

// ChunkName returns the name of chunk i of a session cookie named base:
// base itself for i = 0, then base-1, base-2, ... up to MaxChunks-1.
func ChunkName(base string, i int) string {
	if i == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(i)
}

// CookieContext returns the associated-data context of a session carried
// in n chunk cookies named after base: base, a zero byte, and n as one
// byte. The cookie name and the chunk count are thereby authenticated.
func CookieContext(base string, n int) []byte {
	return append([]byte(base+"\x00"), byte(n))
}

// ParseBearer returns the token of an Authorization header value: the
// scheme "Bearer " (case-insensitive), then the token, trimmed of white
// space. An empty token is no token.
func ParseBearer(v string) (string, bool) {
	const prefix = "Bearer "
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(v[len(prefix):])
	return tok, tok != ""
}

// Chunks is what a request carried of a session's chunk cookie names.
type Chunks struct {
	Values  [MaxChunks]string // by chunk index; "" = absent
	Present uint16            // bit i: chunk i's name was present (an empty value counts)
	Total   int               // bytes of the values
	Legacy  string            // the value of the legacy cookie, if asked for and present
	Dup     bool              // a name appeared twice
	Over    bool              // more than the bound: reading stopped
}

// Reader reads the chunk cookies of one cookie name.
type Reader struct {
	Base   string // the cookie name
	Limit  int    // chunk names in use: Base and Base-1 .. Base-(Limit-1)
	Legacy string // a legacy cookie name to pick up as well, or ""
	Max    int    // the most bytes of values to read; past it, Over
}

// Index returns which chunk name name is (0 = the base name), or -1 for a
// name that is not one of the session's: any other name (Base-Limit,
// Base-10, Base-01) is ignored, not refused.
func (r *Reader) Index(name string) int {
	if !strings.HasPrefix(name, r.Base) {
		return -1
	}
	rest := name[len(r.Base):]
	if rest == "" {
		return 0
	}
	if len(rest) == 2 && rest[0] == '-' && rest[1] >= '1' && int(rest[1]-'0') < r.Limit {
		return int(rest[1] - '0')
	}
	return -1
}

// Scan reads the session's chunks from Cookie header lines into cs: pairs
// are split on ';' and trimmed of white space, values taken verbatim (no
// unquoting). It does not allocate.
func (r *Reader) Scan(lines []string, cs *Chunks) {
	for _, line := range lines {
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
			if r.Legacy != "" && name == r.Legacy {
				cs.Legacy = value
				continue
			}
			idx := r.Index(name)
			if idx < 0 {
				continue
			}
			if cs.Present&(1<<idx) != 0 {
				cs.Dup = true
				continue
			}
			cs.Present |= 1 << idx
			cs.Values[idx] = value
			cs.Total += len(value)
			if cs.Total > r.Max {
				cs.Over = true
				return
			}
		}
	}
}

// Join checks the chunk set and returns the sealed text and the chunk
// count N: the base name plus the contiguous run of chunks after it. A
// duplicate, a missing first cookie or a gap is ErrChunks; a set over the
// bound is ErrOversized. One chunk is returned in place (the bytes must
// not be written to); several are appended to buf.
func (cs *Chunks) Join(buf []byte) (text []byte, n int, err error) {
	if cs.Dup {
		return nil, 0, ErrChunks
	}
	if cs.Over {
		return nil, 0, ErrOversized
	}
	if cs.Present&1 == 0 {
		return nil, 0, ErrChunks
	}
	n = 1
	for n < MaxChunks && cs.Present&(1<<n) != 0 {
		n++
	}
	if cs.Present>>n != 0 {
		return nil, 0, ErrChunks
	}
	if n == 1 {
		return StringBytes(cs.Values[0]), 1, nil
	}
	buf = buf[:0]
	for i := 0; i < n; i++ {
		buf = append(buf, cs.Values[i]...)
	}
	return buf, n, nil
}

// StringBytes returns the bytes of s without copying. The result must
// never be written to; it is only handed to decoders that read it.
func StringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
