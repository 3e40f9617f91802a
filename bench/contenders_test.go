package bench

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

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
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	return rec, CookieHeader(cookie, rec.Result().Header)
}

func testRoundTrip(t *testing.T, f factory, s Session) {
	var got recorder
	c, err := f.new(s, got.seen)
	if err != nil {
		t.Fatal(err)
	}
	if c.Close != nil {
		t.Cleanup(c.Close)
	}
	if c.CookieBytes() == 0 {
		t.Fatal("no cookie after set-up")
	}
	// Read-only: the values come back as set, and nothing is written.
	rec, _ := do(t, c.Read, c.Cookie)
	if got.n != 1 || got.uid != s.UserID || !reflect.DeepEqual(got.cart, s.Cart) {
		t.Fatalf("read back uid %q cart %v, want %q %v", got.uid, got.cart, s.UserID, s.Cart)
	}
	if sc := rec.Result().Header.Values("Set-Cookie"); c.Name != "scs" && len(sc) != 0 {
		t.Errorf("read-only request set a cookie: %q", sc)
	}
	// Read-modify-write: a cookie is written and carries the change.
	rec, next := do(t, c.RMW, c.Cookie)
	if len(rec.Result().Header.Values("Set-Cookie")) == 0 {
		t.Fatal("read-modify-write set no cookie")
	}
	do(t, c.Read, next)
	want := append([]CartItem(nil), s.Cart...)
	Bump(want)
	if !reflect.DeepEqual(got.cart, want) {
		t.Fatalf("after read-modify-write read cart %v, want %v", got.cart, want)
	}
	// A tampered or missing cookie is not accepted as the session.
	got = recorder{}
	rr := httptest.NewRecorder()
	c.Read.ServeHTTP(rr, NewRequest(""))
	if rr.Code == http.StatusOK || got.n != 0 {
		t.Errorf("request without a cookie: status %d, handler saw a session %d times", rr.Code, got.n)
	}
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
	if want := "d=4; a=1; c=3"; got != want {
		t.Fatalf("CookieHeader = %q, want %q", got, want)
	}
}

func TestGorillaScaleLimit(t *testing.T) {
	// Below the limit it works and round-trips.
	c, err := NewGorillaScale(1024)
	if err != nil {
		t.Fatal(err)
	}
	_, next := do(t, c.RMW, c.Cookie)
	do(t, c.Read, next)
	// Find the first failing size and check that it fails the way users
	// report: securecookie's "the value is too long".
	lo, hi := 64, 8192 // lo works, hi fails
	if _, err := NewGorillaScale(hi); err == nil {
		t.Fatalf("gorilla accepted a %d-byte payload", hi)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, err := NewGorillaScale(mid); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	_, tooLong := NewGorillaScale(hi)
	if tooLong == nil || !strings.Contains(tooLong.Error(), "securecookie: the value is too long") {
		t.Fatalf("gorilla at %d bytes: err = %v, want securecookie's value too long", hi, tooLong)
	}
	c, err = NewGorillaScale(lo)
	if err != nil {
		t.Fatal(err)
	}
	val := c.Cookie[len(GorillaCookieName)+1:]
	if len(val) > 4096 {
		t.Fatalf("largest accepted gorilla cookie value is %d bytes, over 4096", len(val))
	}
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
	if err != nil {
		t.Fatal(err)
	}
	text := c.Cookie[len(httpx.DefaultCookieName)+1:]
	pt, err := rl.Open(nil, text)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := codec.Decode(pt, nil); err != nil || p.Header().UserID != s.UserID {
		t.Fatalf("the raw limit does not seal sealedsession's payload: %v", err)
	}
	got := pt
	// Same length as sealedsession's own cookie for the same session.
	ours, err := NewSealedSession(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ours.CookieBytes() != c.CookieBytes() {
		t.Errorf("raw cookie %d bytes, sealedsession's %d: the raw limit must seal the same bytes", c.CookieBytes(), ours.CookieBytes())
	}
	// Read-modify-write changes the last byte and the result opens.
	rec, next := do(t, c.RMW, c.Cookie)
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "HttpOnly; Secure; SameSite=Lax") {
		t.Errorf("raw Set-Cookie %q", rec.Header().Get("Set-Cookie"))
	}
	got, err = rl.Open(nil, next[len(httpx.DefaultCookieName)+1:])
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(pt)
	want[len(want)-1]++
	if !bytes.Equal(got, want) {
		t.Fatal("raw read-modify-write did not round-trip")
	}
	do(t, c.Read, next)
	// Tampering is refused.
	bad := []byte(c.Cookie)
	bad[len(bad)-5] ^= 1
	rr := httptest.NewRecorder()
	c.Read.ServeHTTP(rr, NewRequest(string(bad)))
	if rr.Code == http.StatusOK {
		t.Error("raw limit accepted a tampered cookie")
	}
}

func TestOpenDecode(t *testing.T) {
	s := Large(time.Now())
	od, err := NewOpenDecode(s)
	if err != nil {
		t.Fatal(err)
	}
	uid, cart, err := od.Read()
	if err != nil || uid != s.UserID || !reflect.DeepEqual(cart, s.Cart) {
		t.Fatalf("Read = %q %v %v", uid, cart, err)
	}
	text, err := od.ReadModifyWrite(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	od.Text = bytes.Clone(text)
	_, cart, err = od.Read()
	want := append([]CartItem(nil), s.Cart...)
	Bump(want)
	if err != nil || !reflect.DeepEqual(cart, want) {
		t.Fatalf("after ReadModifyWrite: %v %v", cart, err)
	}
}

func TestCookieSizes(t *testing.T) {
	sizes, err := CookieSizes(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	for _, s := range sizes {
		if s.Bytes <= 0 {
			t.Errorf("%s/%s: cookie of %d bytes", s.Payload, s.Contender, s.Bytes)
		}
		by[s.Payload+"/"+s.Contender] = s.Bytes
		t.Logf("%-8s %-14s %5d bytes", s.Payload, s.Contender, s.Bytes)
	}
	if len(sizes) != 10 {
		t.Fatalf("%d sizes, want 5 contenders × 2 payloads", len(sizes))
	}
	for _, p := range []string{"typical", "large"} {
		if by[p+"/sealedsession"] != by[p+"/raw"] {
			t.Errorf("%s: sealedsession %d bytes, raw limit %d", p, by[p+"/sealedsession"], by[p+"/raw"])
		}
		if by[p+"/sealedsession"] >= by[p+"/gorilla"] {
			t.Errorf("%s: sealedsession's cookie (%d) is not smaller than gorilla's (%d)", p, by[p+"/sealedsession"], by[p+"/gorilla"])
		}
	}
}

func TestScaleMax(t *testing.T) {
	max, err := ScaleMax()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewSealedSessionScale(max)
	if err != nil {
		t.Fatal(err)
	}
	if c.CookieBytes() > RaisedMaxHeaderBytes || max < 4096 {
		t.Fatalf("largest payload %d bytes gives %d cookie bytes (budget %d)", max, c.CookieBytes(), RaisedMaxHeaderBytes)
	}
	_, next := do(t, c.RMW, c.Cookie)
	do(t, c.Read, next)
	_, err = NewSealedSessionScale(max + 1)
	if !errors.Is(err, httpx.ErrTooLarge) {
		t.Fatalf("one byte over: err = %v, want httpx.ErrTooLarge", err)
	}
	t.Logf("sealedsession: largest payload %d bytes, %d cookie bytes; one more: %v", max, c.CookieBytes(), err)
}
