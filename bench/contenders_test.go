package bench

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
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
