package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/sessions"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning/legacy"
)

func TestLegacyGorillaMigration(t *testing.T) {
	hashKey := []byte(strings.Repeat("h", 32))
	blockKey := []byte(strings.Repeat("b", 32))
	// A cookie as the old application, on gorilla/sessions, issued it.
	old := sessions.NewCookieStore(hashKey, blockKey)
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	gs, _ := old.Get(req, "oldsess")
	gs.Values["user"] = "olivia"
	gs.Values["note"] = "from gorilla"
	if err := gs.Save(req, rr); err != nil {
		t.Fatal(err)
	}
	legacyCookie := rr.Result().Cookies()[0]

	reader, err := legacy.NewReader(legacy.Options{
		CookieName: "oldsess", HashKey: hashKey, BlockKey: blockKey,
		Map: func(v map[any]any, p *codec.Payload) error {
			if u, ok := v["user"].(string); ok {
				p.Header().UserID = u
			}
			if n, ok := v["note"].(string); ok {
				return noteKey.Set(p, n)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *httpx.Config) { c.Legacy = reader })
	if _, err := e.store.BumpEpoch(t.Context(), "olivia"); err != nil {
		t.Fatal(err)
	}
	e.rec.reset()
	resp, body := rawGet(t, e.srv, "/whoami", "oldsess="+legacyCookie.Value)
	if body != "user=olivia note=from gorilla gen=0" {
		t.Fatalf("legacy values not served: %q", body)
	}
	var newCookie, clearedOld bool
	var fresh []*http.Cookie
	for _, c := range resp.Cookies() {
		switch {
		case c.Name == "__Host-session" && c.Value != "":
			newCookie = true
			fresh = append(fresh, c)
		case c.Name == "oldsess" && c.MaxAge < 0:
			clearedOld = true
		}
	}
	if !newCookie || !clearedOld {
		t.Fatalf("want a new cookie and the old one cleared: %q", resp.Header.Values("Set-Cookie"))
	}
	if k := e.rec.kinds(); len(k) != 1 || k[0] != httpx.EventMigrated {
		t.Fatalf("events %v", k)
	}
	// The re-issued session works on its own, and ForceLogout ends it.
	if _, body := rawGet(t, e.srv, "/whoami", cookieHeader(fresh)); body != "user=olivia note=from gorilla gen=0" {
		t.Fatalf("re-issued session: %q", body)
	}
	_ = e.m.ForceLogout(t.Context(), "olivia")
	if _, body := rawGet(t, e.srv, "/whoami", cookieHeader(fresh)); body != "user= note= gen=0" {
		t.Fatalf("migrated session survived ForceLogout: %q", body)
	}
	// A tampered legacy cookie is refused and cleared.
	e.rec.reset()
	bad := legacyCookie.Value[:len(legacyCookie.Value)-4] + "AAAA"
	resp, body = rawGet(t, e.srv, "/whoami", "oldsess="+bad)
	if body != "user= note= gen=0" {
		t.Fatalf("tampered legacy cookie accepted: %q", body)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "legacy_invalid" {
		t.Fatalf("reasons %v", r)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "oldsess=;") {
		t.Fatalf("tampered legacy cookie not cleared: %q", sc)
	}
}
