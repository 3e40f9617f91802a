package bench

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
)

type factory struct {
	name string
	new  func(s Session, seen Seen) (*Contender, error)
}

// peerFactories are the contenders that decode the cart themselves.
var peerFactories = []factory{
	{"gorilla", NewGorilla},
	{"jwt", NewJWT},
	{"scs", NewSCS},
}

type recorder struct {
	uid  string
	cart []CartItem
	n    int
}

func (r *recorder) seen(uid string, cart []CartItem) {
	r.uid = uid
	r.cart = append([]CartItem(nil), cart...)
	r.n++
}

func do(t *testing.T, h http.Handler, cookie string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, NewRequest(cookie))
	require.Equal(t, http.StatusOK, rec.Code, "status: %s", rec.Body.String())
	return rec, CookieHeader(cookie, rec.Result().Header)
}

func testRoundTrip(t *testing.T, f factory, s Session) {
	var got recorder
	c, err := f.new(s, got.seen)
	require.NoError(t, err)
	if c.Close != nil {
		t.Cleanup(c.Close)
	}
	require.NotZero(t, c.CookieBytes(), "no cookie after set-up")
	// Read-only: the values come back as set, and nothing is written.
	rec, _ := do(t, c.Read, c.Cookie)
	require.Equal(t, 1, got.n, "reads seen")
	require.Equal(t, s.UserID, got.uid, "uid read back")
	require.Equal(t, s.Cart, got.cart, "cart read back")
	if c.Name != "scs" {
		assert.Empty(t, rec.Result().Header.Values("Set-Cookie"), "read-only request set a cookie")
	}
	// Read-modify-write: a cookie is written and carries the change.
	rec, next := do(t, c.RMW, c.Cookie)
	require.NotEmpty(t, rec.Result().Header.Values("Set-Cookie"), "read-modify-write set no cookie")
	do(t, c.Read, next)
	want := append([]CartItem(nil), s.Cart...)
	Bump(want)
	require.Equal(t, want, got.cart, "cart read after read-modify-write")
	// A tampered or missing cookie is not accepted as the session.
	got = recorder{}
	rr := httptest.NewRecorder()
	c.Read.ServeHTTP(rr, NewRequest(""))
	assert.NotEqual(t, http.StatusOK, rr.Code, "request without a cookie: status")
	assert.Zero(t, got.n, "request without a cookie: times the handler saw a session")
}

func TestPeersRoundTrip(t *testing.T) {
	for _, f := range peerFactories {
		for _, p := range Payloads(time.Now()) {
			t.Run(f.name+"/"+p.Name, func(t *testing.T) { testRoundTrip(t, f, p.Session) })
		}
	}
}

func TestCookieHeader(t *testing.T) {
	h := http.Header{}
	h.Add("Set-Cookie", "a=1; Path=/")
	h.Add("Set-Cookie", "b=; Path=/; Max-Age=0")
	h.Add("Set-Cookie", "c=3; Path=/")
	got := CookieHeader("a=0; b=2; d=4", h)
	require.Equal(t, "d=4; a=1; c=3", got, "CookieHeader")
}

func TestGorillaScaleLimit(t *testing.T) {
	// Below the limit it works and round-trips.
	c, err := NewGorillaScale(1024)
	require.NoError(t, err)
	_, next := do(t, c.RMW, c.Cookie)
	do(t, c.Read, next)
	// Find the first failing size and check that it fails the way users
	// report: securecookie's "the value is too long".
	lo, hi := 64, 8192 // lo works, hi fails
	_, err = NewGorillaScale(hi)
	require.Error(t, err, "gorilla accepted a %d-byte payload", hi)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, err := NewGorillaScale(mid); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	_, tooLong := NewGorillaScale(hi)
	require.ErrorContains(t, tooLong, "securecookie: the value is too long", "gorilla at %d bytes", hi)
	c, err = NewGorillaScale(lo)
	require.NoError(t, err)
	val := c.Cookie[len(GorillaCookieName)+1:]
	require.LessOrEqual(t, len(val), 4096, "bytes in the largest accepted gorilla cookie value")
	t.Logf("gorilla/sessions: largest payload %d bytes (cookie value %d bytes); %d bytes fails: %v", lo, len(val), hi, tooLong)
}

func TestSealedSessionRoundTrip(t *testing.T) {
	f := factory{"sealedsession", NewSealedSession}
	for _, p := range Payloads(time.Now()) {
		t.Run(p.Name, func(t *testing.T) { testRoundTrip(t, f, p.Session) })
	}
}

func TestRawLimit(t *testing.T) {
	s := Typical(time.Now())
	c, rl, err := NewRawFor(s)
	require.NoError(t, err)
	text := c.Cookie[len(httpx.DefaultCookieName)+1:]
	pt, err := rl.Open(nil, text)
	require.NoError(t, err)
	p, err := codec.Decode(pt, nil)
	require.NoError(t, err, "the raw limit does not seal sealedsession's payload")
	require.Equal(t, s.UserID, p.Header().UserID, "the raw limit does not seal sealedsession's payload")
	// Same length as sealedsession's own cookie for the same session.
	ours, err := NewSealedSession(s, nil)
	require.NoError(t, err)
	assert.Equal(t, ours.CookieBytes(), c.CookieBytes(), "raw cookie bytes vs sealedsession's: the raw limit must seal the same bytes")
	// Read-modify-write changes the last byte and the result opens.
	rec, next := do(t, c.RMW, c.Cookie)
	assert.Contains(t, rec.Header().Get("Set-Cookie"), "HttpOnly; Secure; SameSite=Lax", "raw Set-Cookie")
	got, err := rl.Open(nil, next[len(httpx.DefaultCookieName)+1:])
	require.NoError(t, err)
	want := bytes.Clone(pt)
	want[len(want)-1]++
	require.Equal(t, want, got, "raw read-modify-write did not round-trip")
	do(t, c.Read, next)
	// Tampering is refused.
	bad := []byte(c.Cookie)
	bad[len(bad)-5] ^= 1
	rr := httptest.NewRecorder()
	c.Read.ServeHTTP(rr, NewRequest(string(bad)))
	assert.NotEqual(t, http.StatusOK, rr.Code, "raw limit accepted a tampered cookie")
}

func TestOpenDecode(t *testing.T) {
	s := Large(time.Now())
	od, err := NewOpenDecode(s)
	require.NoError(t, err)
	uid, cart, err := od.Read()
	require.NoError(t, err, "Read")
	require.Equal(t, s.UserID, uid, "Read uid")
	require.Equal(t, s.Cart, cart, "Read cart")
	text, err := od.ReadModifyWrite(time.Now())
	require.NoError(t, err)
	od.Text = bytes.Clone(text)
	_, cart, err = od.Read()
	want := append([]CartItem(nil), s.Cart...)
	Bump(want)
	require.NoError(t, err, "Read after ReadModifyWrite")
	require.Equal(t, want, cart, "cart after ReadModifyWrite")
}

func TestCookieSizes(t *testing.T) {
	sizes, err := CookieSizes(time.Now())
	require.NoError(t, err)
	by := map[string]int{}
	for _, s := range sizes {
		assert.Positive(t, s.Bytes, "%s/%s: cookie bytes", s.Payload, s.Contender)
		by[s.Payload+"/"+s.Contender] = s.Bytes
		t.Logf("%-8s %-14s %5d bytes", s.Payload, s.Contender, s.Bytes)
	}
	require.Len(t, sizes, 10, "want 5 contenders × 2 payloads")
	for _, p := range []string{"typical", "large"} {
		assert.Equal(t, by[p+"/raw"], by[p+"/sealedsession"], "%s: sealedsession's cookie bytes vs the raw limit's", p)
		assert.Less(t, by[p+"/sealedsession"], by[p+"/gorilla"], "%s: sealedsession's cookie is not smaller than gorilla's", p)
	}
}

func TestScaleMax(t *testing.T) {
	max, err := ScaleMax()
	require.NoError(t, err)
	c, err := NewSealedSessionScale(max)
	require.NoError(t, err)
	require.LessOrEqual(t, c.CookieBytes(), RaisedMaxHeaderBytes, "cookie bytes for the largest payload (%d bytes)", max)
	require.GreaterOrEqual(t, max, 4096, "bytes in the largest payload")
	_, next := do(t, c.RMW, c.Cookie)
	do(t, c.Read, next)
	_, err = NewSealedSessionScale(max + 1)
	require.ErrorIs(t, err, httpx.ErrTooLarge, "one byte over")
	t.Logf("sealedsession: largest payload %d bytes, %d cookie bytes; one more: %v", max, c.CookieBytes(), err)
}
