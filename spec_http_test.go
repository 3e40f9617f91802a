package sealedsession_test

// These tests check the rules of SPEC.md's "HTTP transport" section
// against package httpx, computing what the text says independently
// (chunk counts, header bytes, Max-Age, the _bind hashes) rather than
// asking httpx.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/wire"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

var specT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type specEnv struct {
	t     *testing.T
	m     *httpx.Manager
	ring  *sealed.Keyring
	store *memstore.Store
	now   time.Time
}

func newSpecEnv(t *testing.T, mod func(*httpx.Config)) *specEnv {
	t.Helper()
	k, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sealed.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	e := &specEnv{t: t, ring: ring, now: specT0}
	clock := func() time.Time { return e.now }
	e.store = memstore.New(memstore.WithClock(clock))
	cfg := httpx.Config{Keys: ring, Store: e.store, Policy: versioning.Policy{Now: clock}}
	if mod != nil {
		mod(&cfg)
	}
	if e.m, err = httpx.New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// serve runs h on r through the middleware and returns the response.
func (e *specEnv) serve(r *http.Request, h func(*httpx.Session)) *http.Response {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(httpx.FromContext(r.Context()))
	})).ServeHTTP(w, r)
	return w.Result()
}

func newReq(cookies ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	if len(cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	return r
}

// cookiePairs turns Set-Cookie lines into "name=value" pairs of the ones
// not being cleared.
func cookiePairs(res *http.Response) []string {
	var out []string
	for _, l := range res.Header.Values("Set-Cookie") {
		if !strings.Contains(l, "; Max-Age=0;") {
			out = append(out, l[:strings.IndexByte(l, ';')])
		}
	}
	return out
}

// fill stores a value that makes the payload exactly n bytes long.
func fill(t *testing.T, s *httpx.Session, n int) error {
	t.Helper()
	k := codec.NewKey[[]byte]("fill")
	if err := k.Set(s, nil); err != nil {
		t.Fatal(err)
	}
	// The empty byte string is one byte (0x40) with a one-byte length.
	base := s.Payload().EncodedLen() - 2
	for l := max(0, n-base-8); l <= n-base; l++ {
		v := cborHeadLen(l) + l
		if base+uvarintLen(v)+v == n {
			return k.Set(s, make([]byte, l))
		}
	}
	t.Fatalf("no fill value gives a %d-byte payload", n)
	return nil
}

func cborHeadLen(n int) int {
	switch {
	case n < 24:
		return 1
	case n < 256:
		return 2
	case n < 65536:
		return 3
	}
	return 5
}

func uvarintLen(v int) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func TestSpecHTTPLinesAndBudget(t *testing.T) {
	e := newSpecEnv(t, nil)
	// The longest default session: a 2000-byte payload, 2727 characters,
	// in one cookie, 89 + 2727 = 2816 bytes of header lines.
	var sizeErr error
	res := e.serve(newReq(), func(s *httpx.Session) {
		sizeErr = fill(t, s, 2001)
		if err := fill(t, s, 2000); err != nil {
			t.Fatalf("a 2000-byte payload is refused: %v", err)
		}
		if got := s.HeaderBytes(); got != 2816 {
			t.Errorf("HeaderBytes = %d, want 2816", got)
		}
	})
	if se, ok := sizeErr.(*httpx.SizeError); !ok || se.Limit != httpx.LimitHeaderBytes || se.Size != 2817 {
		t.Errorf("a 2001-byte payload: err = %v, want a SizeError of LimitHeaderBytes, 2817", sizeErr)
	}
	lines := res.Header.Values("Set-Cookie")
	if len(lines) != 1 {
		t.Fatalf("%d Set-Cookie lines, want 1", len(lines))
	}
	name, rest, _ := strings.Cut(lines[0], "=")
	value, attrs, _ := strings.Cut(rest, ";")
	if name != "__Host-session" || len(value) != 2727 || attrs != " Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax" {
		t.Errorf("line %s=<%d characters>;%s", name, len(value), attrs)
	}

	// Logout clears NAME..NAME-3 with the clearing line of SPEC.md.
	res = e.serve(newReq(cookiePairs(res)...), func(s *httpx.Session) { _ = s.Logout() })
	want := []string{"__Host-session", "__Host-session-1", "__Host-session-2", "__Host-session-3"}
	got := res.Header.Values("Set-Cookie")
	if len(got) != len(want) {
		t.Fatalf("logout lines %q", got)
	}
	for i, n := range want {
		if got[i] != n+"=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax" {
			t.Errorf("logout line %d = %q", i, got[i])
		}
	}
}

func TestSpecHTTPChunkCount(t *testing.T) {
	const budget = 65536
	e := newSpecEnv(t, func(c *httpx.Config) { c.Cookie.MaxHeaderBytes = budget; c.Cookie.MaxChunks = 9 })
	const C = 4093 - len("__Host-session-8") - 1 - 60 // 4016
	for _, n := range []int{2000, 2967, 2968, 3000, 5979, 5980, 6023, 6024, 6025, 12000, 24000} {
		L := sealed.SealedLen(n)
		wantN := max(1, (L+C-1)/C)
		s := (L + wantN - 1) / wantN
		res := e.serve(newReq(), func(ss *httpx.Session) {
			if err := fill(t, ss, n); err != nil {
				t.Fatalf("payload %d: %v", n, err)
			}
		})
		pairs := cookiePairs(res)
		if len(pairs) != wantN {
			t.Errorf("payload %d (L = %d): %d chunks, want %d", n, L, len(pairs), wantN)
			continue
		}
		total := 0
		for i, p := range pairs {
			name, value, _ := strings.Cut(p, "=")
			if name != wire.ChunkName("__Host-session", i) || (i < wantN-1 && len(value) != s) {
				t.Errorf("payload %d: chunk %d is %s with %d characters, want %d", n, i, name, len(value), s)
			}
			total += len(value)
		}
		if total != L {
			t.Errorf("payload %d: chunks hold %d characters, want %d", n, total, L)
		}
	}
	// The example of SPEC.md: B = 16384, a payload of 11971 bytes is 16022
	// characters in 4 cookies, H = 16384.
	e = newSpecEnv(t, func(c *httpx.Config) { c.Cookie.MaxHeaderBytes = 16384 })
	res := e.serve(newReq(), func(s *httpx.Session) {
		if err := fill(t, s, 11971); err != nil {
			t.Fatal(err)
		}
		if got := s.HeaderBytes(); got != 16384 {
			t.Errorf("HeaderBytes = %d, want 16384", got)
		}
	})
	var lens []int
	for _, p := range cookiePairs(res) {
		lens = append(lens, len(p)-strings.IndexByte(p, '=')-1)
	}
	if len(lens) != 4 || lens[0] != 4006 || lens[3] != 4004 {
		t.Errorf("chunk lengths %v, want [4006 4006 4006 4004]", lens)
	}
}

func TestSpecHTTPReadingAndClearing(t *testing.T) {
	e := newSpecEnv(t, func(c *httpx.Config) { c.Cookie.MaxHeaderBytes = 16384 })
	res := e.serve(newReq(), func(s *httpx.Session) {
		if err := fill(t, s, 7000); err != nil {
			t.Fatal(err)
		}
	})
	three := cookiePairs(res)
	if len(three) != 3 {
		t.Fatalf("%d chunks, want 3", len(three))
	}
	opened := func(res *http.Response, rejected error) bool { return rejected == nil }
	check := func(name string, cookies []string, wantOK bool) *http.Response {
		t.Helper()
		var rej error
		var isNew bool
		res := e.serve(newReq(cookies...), func(s *httpx.Session) { rej, isNew = s.Rejected(), s.IsNew() })
		if ok := opened(res, rej) && !isNew; ok != wantOK {
			t.Errorf("%s: accepted = %v (rejected: %v), want %v", name, ok, rej, wantOK)
		}
		return res
	}
	check("three chunks", three, true)
	check("other names ignored", append([]string{"__Host-session-4=x", "__Host-session-01=x", "__Host-session-0=x", "__Host-session-10=x"}, three...), true)
	check("white space around pairs", []string{" \t" + three[0] + "\t", three[1] + " ", "  " + three[2]}, true)
	check("a name twice", append(three, three[2]), false)
	check("no NAME", three[1:], false)
	check("a gap", []string{three[0], three[2]}, false)
	check("an empty chunk counts", append(three, "__Host-session-3="), false)

	// A refused set is cleared from NAME to NAME-(K-1).
	res = check("a gap", []string{three[0], three[2]}, false)
	if n := len(res.Header.Values("Set-Cookie")); n != 4 {
		t.Errorf("refused set: %d clearing lines, want 4", n)
	}
	// Rewriting the same number of chunks clears nothing.
	res = e.serve(newReq(three...), func(s *httpx.Session) { _ = s.AddFlash("hi") })
	if lines := res.Header.Values("Set-Cookie"); len(lines) != 3 || len(cookiePairs(res)) != 3 {
		t.Errorf("rewrite of 3 chunks: %d lines", len(lines))
	}
	// Shrinking to one chunk clears every name from NAME-1 to NAME-3,
	// NAME-3 included although the request never carried it.
	res = e.serve(newReq(three...), func(s *httpx.Session) { _ = codec.NewKey[[]byte]("fill").Delete(s) })
	lines := res.Header.Values("Set-Cookie")
	if len(lines) != 4 || len(cookiePairs(res)) != 1 {
		t.Fatalf("shrink: lines %d", len(lines))
	}
	for i, l := range lines[1:] {
		if !strings.HasPrefix(l, wire.ChunkName("__Host-session", i+1)+"=; Path=/; Max-Age=0;") {
			t.Errorf("shrink: line %d = %.60q", i+1, l)
		}
	}
}

func TestSpecHTTPMaxAge(t *testing.T) {
	maxAge := func(mod func(*httpx.Config), h func(*httpx.Session)) string {
		t.Helper()
		e := newSpecEnv(t, mod)
		res := e.serve(newReq(), func(s *httpx.Session) {
			_ = codec.NewKey[int]("n").Set(s, 1)
			if h != nil {
				h(s)
			}
		})
		l := res.Header.Get("Set-Cookie")
		if i := strings.Index(l, "; Max-Age="); i >= 0 {
			return l[i+len("; Max-Age=") : i+strings.IndexByte(l[i+2:], ';')+2]
		}
		return "none"
	}
	for _, c := range []struct {
		name string
		mod  func(*httpx.Config)
		h    func(*httpx.Session)
		want string
	}{
		{"absolute deadline", nil, nil, "86400"},
		{"idle deadline", func(c *httpx.Config) { c.Cookie.MaxAgeIdle = true }, nil, "1800"},
		{"remembered, sooner", nil, func(s *httpx.Session) { _ = s.Remember(90 * time.Minute) }, "5400"},
		{"remembered, later than the deadline", nil, func(s *httpx.Session) { _ = s.Remember(48 * time.Hour) }, "86400"},
		{"whole seconds, truncated", nil, func(s *httpx.Session) { _ = s.Remember(2999 * time.Millisecond) }, "2"},
		{"at least 1", nil, func(s *httpx.Session) { _ = s.Remember(time.Millisecond) }, "1"},
		{"browser session", nil, func(s *httpx.Session) { _ = s.Remember(0) }, "none"},
		{"browser session by default", func(c *httpx.Config) { c.Cookie.BrowserSession = true }, nil, "none"},
	} {
		if got := maxAge(c.mod, c.h); got != c.want {
			t.Errorf("%s: Max-Age %s, want %s", c.name, got, c.want)
		}
	}
}

func TestSpecHTTPBearer(t *testing.T) {
	e := newSpecEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	// A cookie-less request switched to a token.
	res := e.serve(newReq(), func(s *httpx.Session) {
		if err := s.UseToken(); err != nil {
			t.Fatal(err)
		}
		_ = s.Login("ada")
	})
	tok := res.Header.Get(httpx.TokenHeader)
	if tok == "" || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("UseToken: token %d characters, Set-Cookie %q", len(tok), res.Header.Values("Set-Cookie"))
	}
	user := func(auth []string, cookies ...string) string {
		t.Helper()
		r := newReq(cookies...)
		for _, a := range auth {
			r.Header.Add("Authorization", a)
		}
		var u string
		e.serve(r, func(s *httpx.Session) { u = s.UserID() })
		return u
	}
	if u := user([]string{"bEaReR  " + tok + " \t"}); u != "ada" {
		t.Errorf("scheme in any case, token trimmed: user %q", u)
	}
	if u := user([]string{"Bearer " + tok, "Bearer " + tok}); u != "" {
		t.Errorf("two Authorization fields: user %q, want none", u)
	}
	// A cookie session, presented beside a token or an empty Bearer.
	res = e.serve(newReq(), func(s *httpx.Session) { _ = s.Login("bob") })
	cookie := cookiePairs(res)[0]
	if u := user([]string{"Bearer " + tok}, cookie); u != "ada" {
		t.Errorf("token and cookie: user %q, want the token's", u)
	}
	if u := user([]string{"Bearer  "}, cookie); u != "bob" {
		t.Errorf("an empty token: user %q, want the cookie's", u)
	}
	// Logout sends an empty Session-Token.
	r := newReq()
	r.Header.Set("Authorization", "Bearer "+tok)
	res = e.serve(r, func(s *httpx.Session) { _ = s.Logout() })
	if v, ok := res.Header[httpx.TokenHeader]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("logout: Session-Token %q, want one empty value", v)
	}
}

// fnv1a is the 32-bit FNV-1a of SPEC.md, "Client binding".
func fnv1a(b []byte) uint32 {
	h := uint32(0x811c9dc5)
	for _, c := range b {
		h = (h ^ uint32(c)) * 0x01000193
	}
	return h
}

// openCookie opens a one-cookie session as SPEC.md says.
func openCookie(t *testing.T, ring *sealed.Keyring, pair string) *codec.Payload {
	t.Helper()
	name, value, _ := strings.Cut(pair, "=")
	sl, err := sealed.NewSealer(ring, wire.SealPurpose, nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, _, err := sl.Open(nil, []byte(value), append([]byte(name+"\x00"), 1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := codec.Decode(pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpecHTTPReservedValues(t *testing.T) {
	e := newSpecEnv(t, nil)
	r := newReq()
	r.RemoteAddr = "[::ffff:192.0.2.7]:4711"
	r.Header.Add("User-Agent", "UA-one")
	r.Header.Add("User-Agent", "UA-two")
	res := e.serve(r, func(s *httpx.Session) {
		_ = s.Login("ada")
		_ = s.Remember(0)
	})
	p := openCookie(t, e.ring, cookiePairs(res)[0])
	raw, ok := p.Raw("_bind")
	if !ok || raw[0]>>5 != 0 {
		t.Fatalf("_bind %x: want a CBOR unsigned integer", raw)
	}
	want := uint64(fnv1a([]byte{192, 0, 2}))<<32 | uint64(fnv1a([]byte("UA-oneUA-two")))
	if got, _ := codec.NewReservedKey[uint64]("_bind").Get(p); got != want {
		t.Errorf("_bind = %#x, want %#x", got, want)
	}
	if raw, _ := p.Raw("_keep"); string(raw) != "\x20" {
		t.Errorf("_keep of a browser-session cookie = %x, want 20 (-1)", raw)
	}
}

func TestSpecRevocationExpiry(t *testing.T) {
	e := newSpecEnv(t, nil)
	pol := e.m.Policy()
	res := e.serve(newReq(), func(s *httpx.Session) { _ = s.Login("ada") })
	loggedIn := cookiePairs(res)[0]
	res = e.serve(newReq(), func(s *httpx.Session) { _ = codec.NewKey[int]("n").Set(s, 1) })
	anon := cookiePairs(res)[0]

	e.now = specT0.Add(time.Minute) // the logout's time t
	ids := map[string]codec.SessionID{}
	for name, c := range map[string]string{"logged in": loggedIn, "anonymous": anon} {
		e.serve(newReq(c), func(s *httpx.Session) {
			ids[name] = s.ID()
			if err := s.Logout(); err != nil {
				t.Fatal(err)
			}
		})
	}
	until := e.now.Add(pol.IdleTimeout + pol.ClockSkew) // before the absolute deadline
	ctx := context.Background()
	for _, c := range []struct {
		at   time.Time
		name string
		want bool
	}{
		{until.Add(-time.Millisecond), "logged in", true},
		{until, "logged in", false},
		{e.now, "anonymous", false},
	} {
		e.now = c.at
		// Revocations are kept per user; the anonymous one was not kept
		// under any user, not even ada.
		st, err := e.store.Lookup(ctx, "ada", ids[c.name])
		if got := st.Revoked; err != nil || got != c.want {
			t.Errorf("%s session at t%+v: revoked = %v, %v; want %v", c.name, c.at.Sub(specT0.Add(time.Minute)), got, err, c.want)
		}
	}
}
