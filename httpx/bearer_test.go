package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
)

func bearerDo(t *testing.T, srv *httptest.Server, method, path, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf)
	return resp, string(buf[:n])
}

func TestBearerTransport(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	// An API client logs in with an empty bearer: no token yet, so it
	// presents none; the login response hands the token back.
	req, _ := http.NewRequest("POST", e.srv.URL+"/login?u=api", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	// A request with no Authorization header gets cookies, as a browser would.
	require.True(t, len(resp.Header.Values("Set-Cookie")) != 0 || resp.Header.Get(httpx.TokenHeader) != "", "login gave neither a cookie nor a token")
	cookieClient := newClient(t, e.srv)
	cookieClient.post("/login", "u", "api")
	cookieVal := cookieClient.cookies()[0].Value

	// A cookie value is not accepted as a bearer token (different context).
	e.rec.reset()
	_, body := bearerDo(t, e.srv, "GET", "/whoami", cookieVal)
	require.Equal(t, "user= note= gen=0", body, "cookie replayed as a bearer token")
	require.Equal(t, []string{"auth_failed"}, e.rec.reasons())
}

func TestBearerRoundTrip(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	// Obtain a token: a bearer request whose token is refused still gets a
	// fresh session, and a login writes the new token in Session-Token.
	resp, _ := bearerDo(t, e.srv, "POST", "/login?u=robot", "x")
	token := resp.Header.Get(httpx.TokenHeader)
	require.NotEmpty(t, token, "no %s header after login; headers %v", httpx.TokenHeader, resp.Header)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "bearer client got cookies")
	_, body := bearerDo(t, e.srv, "GET", "/whoami", token)
	require.Equal(t, "user=robot note= gen=1", body, "whoami with token")
	// Logout tells the client to drop the token, and the token is revoked.
	resp, _ = bearerDo(t, e.srv, "POST", "/logout", token)
	require.Equal(t, []string{""}, resp.Header[httpx.TokenHeader], "logout did not clear the token: %v", resp.Header)
	_, body = bearerDo(t, e.srv, "GET", "/whoami", token)
	require.Equal(t, "user= note= gen=0", body, "token accepted after logout")
}

func TestBearerOffByDefault(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "x")
	val := c.cookies()[0].Value
	_, body := bearerDo(t, e.srv, "GET", "/whoami", val)
	require.Equal(t, "user= note= gen=0", body, "bearer read while AllowBearer is off")
}
