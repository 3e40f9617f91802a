package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/wire"
	"github.com/sealedsession/sealedsession/sealed"
)

// TestWireRules checks that the exported wire rules are the ones the
// middleware follows: names of the chunks it writes, and cookies and
// tokens sealed by hand with SealPurpose and the documented contexts.
func TestWireRules(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.AllowBearer = true; raisedBudget(c) })
	c := newClient(t, e.srv)
	resp, _ := c.post("/blob", "n", "5000")
	cookies := resp.Cookies()
	if len(cookies) != 2 || cookies[0].Name != wire.ChunkName("__Host-session", 0) || cookies[1].Name != wire.ChunkName("__Host-session", 1) {
		t.Fatalf("chunk cookies %v", cookies)
	}
	if wire.ChunkName("s", 3) != "s-3" {
		t.Fatal(wire.ChunkName("s", 3))
	}

	sealer, err := sealed.NewSealer(e.ring, wire.SealPurpose, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := codec.NewSessionID()
	now := e.clk.Now()
	p := codec.NewPayload(codec.Header{ID: id, IssuedAt: now, LastSeen: now})
	_ = noteKey.Set(p, "by hand")
	pt := p.AppendEncode(nil)
	cookie, err := sealer.Seal(nil, pt, wire.CookieContext("__Host-session", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, body := rawGet(t, e.srv, "/whoami", "__Host-session="+string(cookie)); body != "user= note=by hand gen=0" {
		t.Fatalf("hand-sealed cookie: %q", body)
	}
	token, err := sealer.Seal(nil, pt, []byte(wire.BearerContext))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+string(token))
	rr := httptest.NewRecorder()
	app(e.m).ServeHTTP(rr, req)
	if rr.Code != http.StatusOK || rr.Body.String() != "user= note=by hand gen=0" {
		t.Fatalf("hand-sealed token: %d %q", rr.Code, rr.Body.String())
	}
}
