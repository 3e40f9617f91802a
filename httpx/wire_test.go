package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

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
	require.Len(t, cookies, 2, "chunk cookies")
	require.Equal(t, wire.ChunkName("__Host-session", 0), cookies[0].Name, "first chunk cookie")
	require.Equal(t, wire.ChunkName("__Host-session", 1), cookies[1].Name, "second chunk cookie")
	require.Equal(t, "s-3", wire.ChunkName("s", 3))

	sealer, err := sealed.NewSealer(e.ring, wire.SealPurpose, nil)
	require.NoError(t, err)
	id, _ := codec.NewSessionID()
	now := e.clk.Now()
	p := codec.NewPayload(codec.Header{ID: id, IssuedAt: now, LastSeen: now})
	_ = noteKey.Set(p, "by hand")
	pt := p.AppendEncode(nil)
	cookie, err := sealer.Seal(nil, pt, wire.CookieContext("__Host-session", 1))
	require.NoError(t, err)
	_, body := rawGet(t, e.srv, "/whoami", "__Host-session="+string(cookie))
	require.Equal(t, "user= note=by hand gen=0", body, "hand-sealed cookie")
	token, err := sealer.Seal(nil, pt, []byte(wire.BearerContext))
	require.NoError(t, err)
	req := httptest.NewRequest("GET", "/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+string(token))
	rr := httptest.NewRecorder()
	app(e.m).ServeHTTP(rr, req)
	require.Equal(t, http.StatusOK, rr.Code, "hand-sealed token: body %q", rr.Body.String())
	require.Equal(t, "user= note=by hand gen=0", rr.Body.String(), "hand-sealed token")
}
