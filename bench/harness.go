package bench

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Mode is the request work a contender's handler does.
type Mode int

const (
	// ReadOnly reads the session cookie, opens it and reads the cart and
	// the user ID; nothing is written back.
	ReadOnly Mode = iota
	// ReadModifyWrite does what ReadOnly does, then adds one to the first
	// cart item's quantity and writes the session cookie back.
	ReadModifyWrite
)

// String returns "read" or "rmw", the names the benchmarks use.
func (m Mode) String() string {
	if m == ReadModifyWrite {
		return "rmw"
	}
	return "read"
}

// Seen is called by a contender's handlers, when set, with what they read
// from the session. Tests set it to check round trips; benchmarks leave it
// nil.
type Seen func(userID string, cart []CartItem)

// Contender is one session implementation set up with one payload.
type Contender struct {
	// Name identifies the contender in benchmark names and the report.
	Name string
	// Cookie is the Cookie request header that carries the session.
	Cookie string
	// Read and RMW are the handlers for ReadOnly and ReadModifyWrite.
	Read, RMW http.Handler
	// Close releases what the contender holds (nil if nothing).
	Close func()
}

// Handler returns the contender's handler for mode.
func (c *Contender) Handler(m Mode) http.Handler {
	if m == ReadModifyWrite {
		return c.RMW
	}
	return c.Read
}

// CookieBytes is the size of the session as the browser sends it back:
// the length of the Cookie header value.
func (c *Contender) CookieBytes() int { return len(c.Cookie) }

// Target is the URL every request goes to. It is https so that contenders
// that insist on Secure cookies see a TLS request.
const Target = "https://app.example/cart"

// UserAgent is the User-Agent header every benchmark request carries, as
// a browser sends one on every request: a current desktop Chrome's, 101
// bytes. Contenders that bind a session to its client (sealedsession)
// hash it on every request, so a benchmark without it would hide that
// cost.
const UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// NewRequest returns a GET request for Target carrying cookie and
// UserAgent.
func NewRequest(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, Target, nil)
	r.Header.Set("User-Agent", UserAgent)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

// Writer is a minimal reusable http.ResponseWriter for benchmarks: it
// keeps the header map and the status, and discards the body.
type Writer struct {
	h       http.Header
	Code    int
	Written int
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer { return &Writer{h: make(http.Header, 8)} }

// Header returns the response header map.
func (w *Writer) Header() http.Header { return w.h }

// WriteHeader records the status code (the first one wins).
func (w *Writer) WriteHeader(code int) {
	if w.Code == 0 {
		w.Code = code
	}
}

// Write counts and discards b.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	w.Written += len(b)
	return len(b), nil
}

// Reset empties the writer for the next request, keeping its map.
func (w *Writer) Reset() {
	clear(w.h)
	w.Code = 0
	w.Written = 0
}

// Serve runs h on a shallow copy of tmpl (so that contenders that attach
// state to the request see a fresh one each time) with w reset first.
func Serve(h http.Handler, tmpl *http.Request, w *Writer) {
	w.Reset()
	r := new(http.Request)
	*r = *tmpl
	h.ServeHTTP(w, r)
}

// CookieHeader turns the Set-Cookie lines of a response header into the
// Cookie request header a browser would send next, keeping cookies it
// already had (old, "name=value; name2=value2") unless they were replaced
// or deleted.
func CookieHeader(old string, h http.Header) string {
	type kv struct{ name, value string }
	var jar []kv
	for part := range strings.SplitSeq(old, ";") {
		part = strings.TrimSpace(part)
		if name, value, ok := strings.Cut(part, "="); ok && name != "" {
			jar = append(jar, kv{name, value})
		}
	}
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		i := 0
		for _, e := range jar {
			if e.name != c.Name {
				jar[i] = e
				i++
			}
		}
		jar = jar[:i]
		if c.MaxAge >= 0 && c.Value != "" {
			jar = append(jar, kv{c.Name, c.Value})
		}
	}
	parts := make([]string, len(jar))
	for i, e := range jar {
		parts[i] = e.name + "=" + e.value
	}
	return strings.Join(parts, "; ")
}

// setupRequest runs h once on a fresh request carrying cookie and returns
// the Cookie header the browser would send next. A status other than 2xx
// is an error.
func setupRequest(h http.Handler, cookie string) (string, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, NewRequest(cookie))
	res := rec.Result()
	if res.StatusCode/100 != 2 {
		return "", fmt.Errorf("bench: set-up request: status %d: %s", res.StatusCode, strings.TrimSpace(rec.Body.String()))
	}
	return CookieHeader(cookie, res.Header), nil
}

// errNoSession is what handlers report when the session they were given
// does not carry the expected values.
var errNoSession = errors.New("bench: session missing or incomplete")

func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
