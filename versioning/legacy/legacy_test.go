package legacy_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning/legacy"
)

var (
	hashKey  = bytes.Repeat([]byte("h"), 64)
	blockKey = bytes.Repeat([]byte("b"), 32)
	cartKey  = codec.NewKey[[]string]("cart")
	visits   = codec.NewKey[int]("visits")
)

// gorillaCookie returns the cookie value gorilla/sessions' CookieStore
// writes for values.
func gorillaCookie(t testing.TB, name string, block []byte, values map[any]any) string {
	t.Helper()
	keys := [][]byte{hashKey}
	if block != nil {
		keys = append(keys, block)
	}
	store := sessions.NewCookieStore(keys...)
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	s, err := store.New(r, name)
	if err != nil && s == nil {
		t.Fatal(err)
	}
	for k, v := range values {
		s.Values[k] = v
	}
	if err := s.Save(r, w); err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != name {
		t.Fatalf("gorilla wrote %v", cookies)
	}
	return cookies[0].Value
}

func mapValues(values map[any]any, p *codec.Payload) error {
	if u, ok := values["user_id"].(string); ok {
		p.Header().UserID = u
	}
	if c, ok := values["cart"].([]string); ok {
		if err := cartKey.Set(p, c); err != nil {
			return err
		}
	}
	if n, ok := values["visits"].(int); ok {
		return visits.Set(p, n)
	}
	return nil
}

func newReader(t *testing.T, block []byte) *legacy.Reader {
	t.Helper()
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, BlockKey: block, Map: mapValues})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReadGorillaCookie(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block []byte
	}{{"encrypted", blockKey}, {"hash-only", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			v := gorillaCookie(t, "app", tc.block, map[any]any{"user_id": "alice", "cart": []string{"apple", "pear"}, "visits": 3})
			r := newReader(t, tc.block)
			if r.CookieName() != "app" {
				t.Fatalf("CookieName = %q", r.CookieName())
			}
			now := time.Now()
			c, err := r.Read(v, now)
			p := c.Payload
			if err != nil {
				t.Fatal(err)
			}
			h := p.Header()
			if h.UserID != "alice" || h.Version != codec.Version || h.ID.IsZero() || !h.IssuedAt.Equal(now) || !h.LastSeen.Equal(now) {
				t.Fatalf("header = %+v", h)
			}
			if !p.Dirty() {
				t.Error("a migrated payload is not dirty: it would never be written")
			}
			if c, ok := cartKey.Get(p); !ok || len(c) != 2 || c[0] != "apple" {
				t.Errorf("cart = %v, %v", c, ok)
			}
			if n, ok := visits.Get(p); !ok || n != 3 {
				t.Errorf("visits = %v, %v", n, ok)
			}
			// The result encodes and decodes as a current payload.
			q, err := codec.Decode(p.AppendEncode(nil), nil)
			if err != nil || q.Header().UserID != "alice" {
				t.Fatalf("re-decode: %v", err)
			}
			// Every read yields a new session ID, and the same fingerprint
			// of the old cookie; its expiry is its own timestamp + MaxAge.
			c2, err := r.Read(v, now)
			p2 := c2.Payload
			if err != nil || p2.Header().ID == h.ID {
				t.Fatalf("second read reused the session ID (%v)", err)
			}
			if c2.Fingerprint != c.Fingerprint || c.Fingerprint.IsZero() {
				t.Error("two reads of one cookie have different fingerprints")
			}
			if !c.Expires.Equal(c.Issued.Add(legacy.DefaultMaxAge)) || c.Issued.After(now) || now.Sub(c.Issued) > time.Minute {
				t.Errorf("issued %v expires %v", c.Issued, c.Expires)
			}
			other := gorillaCookie(t, "app", tc.block, map[any]any{"user_id": "alice", "visits": 4})
			if c3, err := r.Read(other, now); err != nil || c3.Fingerprint == c.Fingerprint {
				t.Errorf("another cookie has the same fingerprint (%v)", err)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	v := gorillaCookie(t, "app", blockKey, map[any]any{"user_id": "alice"})
	r := newReader(t, blockKey)
	now := time.Now()

	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 0x01
	otherKey, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: bytes.Repeat([]byte("x"), 64), BlockKey: blockKey, Map: mapValues})
	if err != nil {
		t.Fatal(err)
	}
	otherName, err := legacy.NewReader(legacy.Options{CookieName: "other", AllowUnprefixedName: true, HashKey: hashKey, BlockKey: blockKey, Map: mapValues})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		r     *legacy.Reader
		value string
		now   time.Time
	}{
		{"tampered", r, string(flipped), now},
		{"truncated", r, v[:len(v)-4], now},
		{"empty", r, "", now},
		{"garbage", r, "not a cookie!", now},
		{"base64 garbage", r, "aGVsbG8gd29ybGQ=", now},
		{"too long", r, strings.Repeat("A", 5000), now},
		{"wrong hash key", otherKey, v, now},
		{"wrong cookie name", otherName, v, now},
		{"expired", r, v, now.Add(legacy.DefaultMaxAge + time.Minute)},
		{"from the future", r, v, now.Add(-time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.r.Read(tc.value, tc.now)
			p := c.Payload
			if !errors.Is(err, legacy.ErrInvalid) || p != nil {
				t.Fatalf("Read = %v, %v; want ErrInvalid", p, err)
			}
			if bytes.Contains([]byte(err.Error()), hashKey[:8]) {
				t.Fatal("error contains key material")
			}
		})
	}
	// Just inside MaxAge is accepted.
	if _, err := r.Read(v, now.Add(legacy.DefaultMaxAge-time.Minute)); err != nil {
		t.Fatalf("cookie within MaxAge rejected: %v", err)
	}
}

func TestMapError(t *testing.T) {
	boom := errors.New("boom")
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: func(map[any]any, *codec.Payload) error { return boom }})
	if err != nil {
		t.Fatal(err)
	}
	v := gorillaCookie(t, "app", nil, map[any]any{"a": 1})
	if _, err := r.Read(v, time.Now()); !errors.Is(err, boom) || errors.Is(err, legacy.ErrInvalid) {
		t.Fatalf("Read = %v", err)
	}
	long, _ := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: func(_ map[any]any, p *codec.Payload) error {
		p.Header().UserID = strings.Repeat("u", 300)
		return nil
	}})
	if _, err := long.Read(v, time.Now()); err == nil {
		t.Fatal("an over-long user ID from Map was accepted")
	}
}

func TestNewReaderConfig(t *testing.T) {
	ok := legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: mapValues}
	bad := []func(o *legacy.Options){
		func(o *legacy.Options) { o.CookieName = "" },
		func(o *legacy.Options) { o.HashKey = nil },
		func(o *legacy.Options) { o.Map = nil },
		func(o *legacy.Options) { o.BlockKey = []byte("short") },
		func(o *legacy.Options) { o.MaxAge = -time.Second },
		func(o *legacy.Options) { o.AllowUnprefixedName = false }, // "app" can be planted
		func(o *legacy.Options) { o.Path = "/; Domain=evil" },
	}
	for i, f := range bad {
		o := ok
		f(&o)
		if _, err := legacy.NewReader(o); !errors.Is(err, legacy.ErrConfig) {
			t.Errorf("case %d: %v, want ErrConfig", i, err)
		}
	}
}

func TestClearCookie(t *testing.T) {
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: mapValues, Domain: "example.com", Path: "/shop"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ClearCookie(); got != "app=; Path=/shop; Domain=example.com; Max-Age=0" {
		t.Errorf("ClearCookie = %q", got)
	}
	host, err := legacy.NewReader(legacy.Options{CookieName: "__Host-app", HashKey: hashKey, Map: mapValues})
	if err != nil {
		t.Fatalf("a __Host- name needs no AllowUnprefixedName: %v", err)
	}
	if got := host.ClearCookie(); got != "__Host-app=; Path=/; Max-Age=0; Secure" {
		t.Errorf("ClearCookie = %q", got)
	}
}

func FuzzLegacyRead(f *testing.F) {
	f.Add(gorillaCookie(f, "app", blockKey, map[any]any{"user_id": "alice", "cart": []string{"x"}}))
	f.Add(gorillaCookie(f, "app", blockKey, map[any]any{}))
	f.Add("")
	f.Add("MTcwMDAwMDAwMHxhYmN8ZGVm")
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, BlockKey: blockKey, Map: mapValues})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, value string) {
		c, err := r.Read(value, now)
		p := c.Payload
		if err != nil {
			if p != nil {
				t.Fatal("payload returned with an error")
			}
			if !errors.Is(err, legacy.ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			return
		}
		if p.Header().ID.IsZero() || !p.Dirty() {
			t.Fatal("accepted cookie gave an unusable payload")
		}
	})
}
