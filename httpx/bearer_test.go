package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sealedsession/sealedsession/httpx"
)

func bearerDo(t *testing.T, srv *httptest.Server, method, path, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A request with no Authorization header gets cookies, as a browser would.
	if len(resp.Header.Values("Set-Cookie")) == 0 && resp.Header.Get(httpx.TokenHeader) == "" {
		t.Fatal("login gave neither a cookie nor a token")
	}
	cookieClient := newClient(t, e.srv)
	cookieClient.post("/login", "u", "api")
	cookieVal := cookieClient.cookies()[0].Value

	// A cookie value is not accepted as a bearer token (different context).
	e.rec.reset()
	if _, body := bearerDo(t, e.srv, "GET", "/whoami", cookieVal); body != "user= note= gen=0" {
		t.Fatalf("cookie replayed as a bearer token: %q", body)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "auth_failed" {
		t.Fatalf("reasons %v", r)
	}
}

func TestBearerRoundTrip(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	// Obtain a token: a bearer request whose token is refused still gets a
	// fresh session, and a login writes the new token in Session-Token.
	resp, _ := bearerDo(t, e.srv, "POST", "/login?u=robot", "x")
	token := resp.Header.Get(httpx.TokenHeader)
	if token == "" {
		t.Fatalf("no %s header after login; headers %v", httpx.TokenHeader, resp.Header)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("bearer client got cookies: %q", sc)
	}
	if _, body := bearerDo(t, e.srv, "GET", "/whoami", token); body != "user=robot note= gen=1" {
		t.Fatalf("whoami with token: %q", body)
	}
	// Logout tells the client to drop the token, and the token is revoked.
	resp, _ = bearerDo(t, e.srv, "POST", "/logout", token)
	if v, ok := resp.Header[httpx.TokenHeader]; !ok || len(v) != 1 || v[0] != "" {
		t.Fatalf("logout did not clear the token: %v", resp.Header)
	}
	if _, body := bearerDo(t, e.srv, "GET", "/whoami", token); body != "user= note= gen=0" {
		t.Fatalf("token accepted after logout: %q", body)
	}
}

func TestBearerOffByDefault(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "x")
	val := c.cookies()[0].Value
	if _, body := bearerDo(t, e.srv, "GET", "/whoami", val); body != "user= note= gen=0" {
		t.Fatalf("bearer read while AllowBearer is off: %q", body)
	}
}
