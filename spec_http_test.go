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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	ring, err := sealed.NewKeyring(k)
	require.NoError(t, err)
	e := &specEnv{t: t, ring: ring, now: specT0}
	clock := func() time.Time { return e.now }
	e.store = memstore.New(&memstore.Options{Now: clock})
	cfg := httpx.Config{Keys: ring, Store: e.store, Policy: versioning.Policy{Now: clock}}
	if mod != nil {
		mod(&cfg)
	}
	e.m, err = httpx.New(cfg)
	require.NoError(t, err)
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
	require.NoError(t, k.Set(s, nil))
	// The empty byte string is one byte (0x40) with a one-byte length.
	base := s.Payload().EncodedLen() - 2
	for l := max(0, n-base-8); l <= n-base; l++ {
		v := cborHeadLen(l) + l
		if base+uvarintLen(v)+v == n {
			return k.Set(s, make([]byte, l))
		}
	}
	require.FailNow(t, "no fill value gives the payload size", "want a %d-byte payload", n)
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
		require.NoError(t, fill(t, s, 2000), "a 2000-byte payload is refused")
		assert.Equal(t, 2816, s.HeaderBytes(), "HeaderBytes")
	})
	// A type assertion, not ErrorAs: the error itself must be the
	// *SizeError.
	if se, ok := sizeErr.(*httpx.SizeError); assert.True(t, ok, "a 2001-byte payload: err = %v, want a *httpx.SizeError", sizeErr) {
		assert.Equal(t, httpx.LimitHeaderBytes, se.Limit, "a 2001-byte payload: SizeError.Limit")
		assert.Equal(t, 2817, se.Size, "a 2001-byte payload: SizeError.Size")
	}
	lines := res.Header.Values("Set-Cookie")
	require.Len(t, lines, 1, "Set-Cookie lines")
	name, rest, _ := strings.Cut(lines[0], "=")
	value, attrs, _ := strings.Cut(rest, ";")
	assert.Equal(t, "__Host-session", name, "cookie name")
	assert.Len(t, value, 2727, "cookie value")
	assert.Equal(t, " Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax", attrs, "cookie attributes")

	// Logout clears NAME..NAME-3 with the clearing line of SPEC.md.
	res = e.serve(newReq(cookiePairs(res)...), func(s *httpx.Session) { _ = s.Logout() })
	want := []string{"__Host-session", "__Host-session-1", "__Host-session-2", "__Host-session-3"}
	got := res.Header.Values("Set-Cookie")
	require.Len(t, got, len(want), "logout lines")
	for i, n := range want {
		assert.Equal(t, n+"=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax", got[i], "logout line %d", i)
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
			require.NoError(t, fill(t, ss, n), "payload %d", n)
		})
		pairs := cookiePairs(res)
		if !assert.Len(t, pairs, wantN, "payload %d (L = %d): chunks", n, L) {
			continue
		}
		total := 0
		for i, p := range pairs {
			name, value, _ := strings.Cut(p, "=")
			assert.Equal(t, wire.ChunkName("__Host-session", i), name, "payload %d: chunk %d name", n, i)
			if i < wantN-1 {
				assert.Len(t, value, s, "payload %d: chunk %d (%s)", n, i, name)
			}
			total += len(value)
		}
		assert.Equal(t, L, total, "payload %d: characters in the chunks", n)
	}
	// The example of SPEC.md: B = 16384, a payload of 11971 bytes is 16022
	// characters in 4 cookies, H = 16384.
	e = newSpecEnv(t, func(c *httpx.Config) { c.Cookie.MaxHeaderBytes = 16384 })
	res := e.serve(newReq(), func(s *httpx.Session) {
		require.NoError(t, fill(t, s, 11971))
		assert.Equal(t, 16384, s.HeaderBytes(), "HeaderBytes")
	})
	var lens []int
	for _, p := range cookiePairs(res) {
		lens = append(lens, len(p)-strings.IndexByte(p, '=')-1)
	}
	assert.Equal(t, []int{4006, 4006, 4006, 4004}, lens, "chunk lengths")
}

func TestSpecHTTPReadingAndClearing(t *testing.T) {
	e := newSpecEnv(t, func(c *httpx.Config) { c.Cookie.MaxHeaderBytes = 16384 })
	res := e.serve(newReq(), func(s *httpx.Session) {
		require.NoError(t, fill(t, s, 7000))
	})
	three := cookiePairs(res)
	require.Len(t, three, 3, "chunks")
	opened := func(res *http.Response, rejected error) bool { return rejected == nil }
	check := func(name string, cookies []string, wantOK bool) *http.Response {
		t.Helper()
		var rej error
		var isNew bool
		res := e.serve(newReq(cookies...), func(s *httpx.Session) { rej, isNew = s.Rejected(), s.IsNew() })
		assert.Equal(t, wantOK, opened(res, rej) && !isNew, "%s: accepted (rejected: %v)", name, rej)
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
	assert.Len(t, res.Header.Values("Set-Cookie"), 4, "refused set: clearing lines")
	// Rewriting the same number of chunks clears nothing.
	res = e.serve(newReq(three...), func(s *httpx.Session) { _ = s.AddFlash("hi") })
	assert.Len(t, res.Header.Values("Set-Cookie"), 3, "rewrite of 3 chunks: lines")
	assert.Len(t, cookiePairs(res), 3, "rewrite of 3 chunks: cookies set")
	// Shrinking to one chunk clears every name from NAME-1 to NAME-3,
	// NAME-3 included although the request never carried it.
	res = e.serve(newReq(three...), func(s *httpx.Session) { _ = codec.NewKey[[]byte]("fill").Delete(s) })
	lines := res.Header.Values("Set-Cookie")
	require.Len(t, lines, 4, "shrink: lines")
	require.Len(t, cookiePairs(res), 1, "shrink: cookies set")
	for i, l := range lines[1:] {
		assert.True(t, strings.HasPrefix(l, wire.ChunkName("__Host-session", i+1)+"=; Path=/; Max-Age=0;"), "shrink: line %d = %.60q", i+1, l)
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
		assert.Equal(t, c.want, maxAge(c.mod, c.h), "%s: Max-Age", c.name)
	}
}

func TestSpecHTTPBearer(t *testing.T) {
	e := newSpecEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	// A cookie-less request switched to a token.
	res := e.serve(newReq(), func(s *httpx.Session) {
		require.NoError(t, s.UseToken())
		_ = s.Login("ada")
	})
	tok := res.Header.Get(httpx.TokenHeader)
	require.NotEmpty(t, tok, "UseToken: token")
	require.Empty(t, res.Header.Values("Set-Cookie"), "UseToken: Set-Cookie")
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
	assert.Equal(t, "ada", user([]string{"bEaReR  " + tok + " \t"}), "scheme in any case, token trimmed: user")
	assert.Empty(t, user([]string{"Bearer " + tok, "Bearer " + tok}), "two Authorization fields: user, want none")
	// A cookie session, presented beside a token or an empty Bearer.
	res = e.serve(newReq(), func(s *httpx.Session) { _ = s.Login("bob") })
	cookie := cookiePairs(res)[0]
	assert.Equal(t, "ada", user([]string{"Bearer " + tok}, cookie), "token and cookie: user, want the token's")
	assert.Equal(t, "bob", user([]string{"Bearer  "}, cookie), "an empty token: user, want the cookie's")
	// Logout sends an empty Session-Token.
	r := newReq()
	r.Header.Set("Authorization", "Bearer "+tok)
	res = e.serve(r, func(s *httpx.Session) { _ = s.Logout() })
	assert.Equal(t, []string{""}, res.Header[httpx.TokenHeader], "logout: Session-Token, want one empty value")
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
	require.NoError(t, err)
	pt, _, err := sl.Open(nil, []byte(value), append([]byte(name+"\x00"), 1))
	require.NoError(t, err)
	p, err := codec.Decode(pt, nil)
	require.NoError(t, err)
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
	require.True(t, ok, "_bind missing")
	require.Zero(t, raw[0]>>5, "_bind %x: want a CBOR unsigned integer", raw)
	want := uint64(fnv1a([]byte{192, 0, 2}))<<32 | uint64(fnv1a([]byte("UA-oneUA-two")))
	got, _ := codec.NewReservedKey[uint64]("_bind").Get(p)
	assert.Equal(t, want, got, "_bind")
	raw, _ = p.Raw("_keep")
	assert.Equal(t, "\x20", string(raw), "_keep of a browser-session cookie, want 20 (-1)")
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
			require.NoError(t, s.Logout())
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
		at := c.at.Sub(specT0.Add(time.Minute))
		if assert.NoError(t, err, "%s session at t%+v", c.name, at) {
			assert.Equal(t, c.want, st.Revoked, "%s session at t%+v: revoked", c.name, at)
		}
	}
}
