package legacy_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	if s == nil {
		require.NoError(t, err)
	}
	for k, v := range values {
		s.Values[k] = v
	}
	require.NoError(t, s.Save(r, w))
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1, "gorilla wrote %v", cookies)
	require.Equal(t, name, cookies[0].Name, "gorilla wrote %v", cookies)
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
	require.NoError(t, err)
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
			require.Equal(t, "app", r.CookieName(), "CookieName")
			now := time.Now()
			c, err := r.Read(v, now)
			p := c.Payload
			require.NoError(t, err)
			h := p.Header()
			require.Equal(t, "alice", h.UserID, "header = %+v", h)
			require.Equal(t, uint8(codec.Version), h.Version, "header = %+v", h)
			require.False(t, h.ID.IsZero(), "header = %+v", h)
			require.True(t, h.IssuedAt.Equal(now), "header = %+v", h)
			require.True(t, h.LastSeen.Equal(now), "header = %+v", h)
			assert.True(t, p.Dirty(), "a migrated payload is not dirty: it would never be written")
			cart, ok := cartKey.Get(p)
			if assert.True(t, ok, "cart") && assert.Len(t, cart, 2, "cart") {
				assert.Equal(t, "apple", cart[0], "cart")
			}
			n, ok := visits.Get(p)
			assert.True(t, ok, "visits")
			assert.Equal(t, 3, n, "visits")
			// The result encodes and decodes as a current payload.
			q, err := codec.Decode(p.AppendEncode(nil), nil)
			require.NoError(t, err, "re-decode")
			require.Equal(t, "alice", q.Header().UserID, "re-decode")
			// Every read yields a new session ID, and the same fingerprint
			// of the old cookie; its expiry is its own timestamp + MaxAge.
			c2, err := r.Read(v, now)
			p2 := c2.Payload
			require.NoError(t, err, "second read")
			require.NotEqual(t, h.ID, p2.Header().ID, "second read reused the session ID")
			assert.Equal(t, c.Fingerprint, c2.Fingerprint, "two reads of one cookie have different fingerprints")
			assert.False(t, c.Fingerprint.IsZero(), "zero fingerprint")
			assert.True(t, c.Expires.Equal(c.Issued.Add(legacy.DefaultMaxAge)), "issued %v expires %v", c.Issued, c.Expires)
			assert.False(t, c.Issued.After(now), "issued %v after now %v", c.Issued, now)
			assert.True(t, now.Sub(c.Issued) <= time.Minute, "issued %v more than a minute before now %v", c.Issued, now)
			other := gorillaCookie(t, "app", tc.block, map[any]any{"user_id": "alice", "visits": 4})
			c3, err := r.Read(other, now)
			assert.NoError(t, err, "another cookie")
			assert.NotEqual(t, c.Fingerprint, c3.Fingerprint, "another cookie has the same fingerprint")
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
	require.NoError(t, err)
	otherName, err := legacy.NewReader(legacy.Options{CookieName: "other", AllowUnprefixedName: true, HashKey: hashKey, BlockKey: blockKey, Map: mapValues})
	require.NoError(t, err)
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
			require.ErrorIs(t, err, legacy.ErrInvalid, "Read")
			require.Nil(t, p, "Read with an error returned a payload")
			assert.NotContains(t, err.Error(), string(hashKey[:8]), "error contains key material")
		})
	}
	// Just inside MaxAge is accepted.
	_, err = r.Read(v, now.Add(legacy.DefaultMaxAge-time.Minute))
	assert.NoError(t, err, "cookie within MaxAge rejected")
}

func TestMapError(t *testing.T) {
	boom := errors.New("boom")
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: func(map[any]any, *codec.Payload) error { return boom }})
	require.NoError(t, err)
	v := gorillaCookie(t, "app", nil, map[any]any{"a": 1})
	_, err = r.Read(v, time.Now())
	require.ErrorIs(t, err, boom, "Read")
	require.NotErrorIs(t, err, legacy.ErrInvalid, "Read")
	long, _ := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: func(_ map[any]any, p *codec.Payload) error {
		p.Header().UserID = strings.Repeat("u", 300)
		return nil
	}})
	_, err = long.Read(v, time.Now())
	assert.Error(t, err, "an over-long user ID from Map was accepted")
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
		_, err := legacy.NewReader(o)
		assert.ErrorIs(t, err, legacy.ErrConfig, "case %d", i)
	}
}

func TestClearCookie(t *testing.T) {
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, Map: mapValues, Domain: "example.com", Path: "/shop"})
	require.NoError(t, err)
	assert.Equal(t, "app=; Path=/shop; Domain=example.com; Max-Age=0", r.ClearCookie(), "ClearCookie")
	host, err := legacy.NewReader(legacy.Options{CookieName: "__Host-app", HashKey: hashKey, Map: mapValues})
	require.NoError(t, err, "a __Host- name needs no AllowUnprefixedName")
	assert.Equal(t, "__Host-app=; Path=/; Max-Age=0; Secure", host.ClearCookie(), "ClearCookie")
}

func FuzzLegacyRead(f *testing.F) {
	f.Add(gorillaCookie(f, "app", blockKey, map[any]any{"user_id": "alice", "cart": []string{"x"}}))
	f.Add(gorillaCookie(f, "app", blockKey, map[any]any{}))
	f.Add("")
	f.Add("MTcwMDAwMDAwMHxhYmN8ZGVm")
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, BlockKey: blockKey, Map: mapValues})
	require.NoError(f, err)
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
