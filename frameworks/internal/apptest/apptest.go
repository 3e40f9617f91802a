// Package apptest drives the framework recipes through one scenario, so
// every framework is held to the same behaviour.
//
// Every recipe serves the same four routes:
//
//	GET  /cart        200, the view as JSON: {"user", "items", "flashes"}
//	POST /cart/add    form "item": appends it to the cart, then answers the view (200)
//	POST /login       form "user": logs in, queues a flash, 303 to /cart
//	POST /logout      logs out, 303 to /cart
//
// The scenario runs over TLS (the default __Host- cookie needs Secure)
// with a cookie jar, as a browser would.
package apptest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// View is what GET /cart and POST /cart/add answer.
type View struct {
	User    string   `json:"user"`
	Items   []string `json:"items"`
	Flashes []string `json:"flashes"`
}

// NewManager returns a Manager with a fresh key and an in-memory store.
func NewManager(tb testing.TB) *httpx.Manager {
	tb.Helper()
	m, err := httpx.New(httpx.Config{Keys: testkit.NewRing(tb), Store: memstore.New(nil)})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Client is a browser-like client of one test server: it keeps cookies
// in a jar and follows redirects.
type Client struct {
	tb  testing.TB
	m   *httpx.Manager
	srv *httptest.Server
	c   *http.Client
	url *url.URL
}

// NewClient starts app on a TLS test server (closed at the end of the
// test) and returns a client with an empty cookie jar.
func NewClient(tb testing.TB, m *httpx.Manager, app http.Handler) *Client {
	tb.Helper()
	srv := httptest.NewTLSServer(app)
	tb.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := srv.Client()
	c.Jar = jar
	u, _ := url.Parse(srv.URL)
	return &Client{tb: tb, m: m, srv: srv, c: c, url: u}
}

// Do sends a request (form values as a urlencoded body when form is not
// nil) and returns the final response (after redirects) with its body.
func (c *Client) Do(method, path string, form url.Values) (*http.Response, string) {
	c.tb.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return c.send(req)
}

func (c *Client) send(req *http.Request) (*http.Response, string) {
	c.tb.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	return res, string(b)
}

// View sends a request and decodes the JSON view it answers, failing the
// test on any status but 200.
func (c *Client) View(method, path string, form url.Values) View {
	c.tb.Helper()
	res, body := c.Do(method, path, form)
	if res.StatusCode != http.StatusOK {
		c.tb.Fatalf("%s %s: %s: %s", method, path, res.Status, body)
	}
	if got := res.Header.Values("Vary"); !slices.Contains(got, "Cookie") {
		c.tb.Errorf("%s %s: Vary %q, want Cookie", method, path, got)
	}
	var v View
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		c.tb.Fatalf("%s %s: %v in %q", method, path, err, body)
	}
	return v
}

// CookieHeader returns the Cookie header the jar would send now.
func (c *Client) CookieHeader() string {
	var parts []string
	for _, ck := range c.c.Jar.Cookies(c.url) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// LateChangeRefused posts to path, whose handler writes "written" and then
// changes the session, storing that change's error in *lateErr. It
// checks that the handler's response went out, that the change failed
// with httpx.ErrResponseStarted, and that no session cookie was set.
func (c *Client) LateChangeRefused(path string, lateErr *error) {
	c.tb.Helper()
	res, body := c.Do(http.MethodPost, path, url.Values{})
	if res.StatusCode != http.StatusOK || body != "written" {
		c.tb.Fatalf("POST %s: %s %q, want 200 \"written\"", path, res.Status, body)
	}
	if !errors.Is(*lateErr, httpx.ErrResponseStarted) {
		c.tb.Fatalf("a change after the response was written: %v, want httpx.ErrResponseStarted", *lateErr)
	}
	if c.HasSessionCookie() {
		c.tb.Fatal("a refused change set a session cookie")
	}
}

// HasSessionCookie reports whether the jar holds a session cookie.
func (c *Client) HasSessionCookie() bool {
	for _, ck := range c.c.Jar.Cookies(c.url) {
		if ck.Name == c.m.CookieName() {
			return true
		}
	}
	return false
}

// Session returns the session the jar's cookies carry, as the Manager
// reads it on the next request.
func (c *Client) Session() *httpx.Session {
	c.tb.Helper()
	return c.SessionOf(c.CookieHeader())
}

// SessionOf returns the session a Cookie header carries.
func (c *Client) SessionOf(cookie string) *httpx.Session {
	c.tb.Helper()
	req := httptest.NewRequest(http.MethodGet, c.srv.URL+"/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	s, err := c.m.Load(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	return s
}

// GetWithCookie sends GET path with exactly the given Cookie header,
// bypassing the jar (a replayed cookie), and decodes the view.
func (c *Client) GetWithCookie(path, cookie string) View {
	c.tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.srv.URL+path, nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Cookie", cookie)
	plain := *c.c
	plain.Jar = nil
	res, err := plain.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	var v View
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		c.tb.Fatal(err)
	}
	return v
}

// Run starts the app that build makes on a fresh Manager and walks it
// through a shopper's visit: anonymous browsing sets no cookie; items
// added to the cart survive from request to request (each change made
// before the handler writes its body); login keeps the cart, issues a new
// session ID and shows a flash exactly once; logout clears the cookie,
// and the cookie captured before logout is refused when replayed.
func Run(t *testing.T, build func(m *httpx.Manager) http.Handler) {
	t.Helper()
	m := NewManager(t)
	c := NewClient(t, m, build(m))

	v := c.View(http.MethodGet, "/cart", nil)
	if v.User != "" || len(v.Items) != 0 || len(v.Flashes) != 0 {
		t.Fatalf("anonymous first visit: %+v", v)
	}
	if c.HasSessionCookie() {
		t.Fatal("a page that wrote nothing to the session set a cookie")
	}

	v = c.View(http.MethodPost, "/cart/add", url.Values{"item": {"apple"}})
	if !slices.Equal(v.Items, []string{"apple"}) {
		t.Fatalf("after adding apple: %+v", v)
	}
	if !c.HasSessionCookie() {
		t.Fatal("adding to the cart set no session cookie")
	}
	anon := c.Session()
	if anon.IsNew() || anon.Authenticated() {
		t.Fatalf("cookie after add: new=%v user=%q (rejected: %v)", anon.IsNew(), anon.UserID(), anon.Rejected())
	}
	anonID := anon.ID()

	v = c.View(http.MethodPost, "/cart/add", url.Values{"item": {"pear"}})
	if !slices.Equal(v.Items, []string{"apple", "pear"}) {
		t.Fatalf("the cart did not survive the request: %+v", v)
	}
	if got := c.Session().ID(); got != anonID {
		t.Fatal("adding to the cart changed the session ID")
	}

	res, body := c.Do(http.MethodPost, "/login", url.Values{"user": {"alice"}})
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/cart" {
		t.Fatalf("login did not redirect to /cart: %s at %s: %s", res.Status, res.Request.URL, body)
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.User != "alice" || !slices.Equal(v.Flashes, []string{"welcome, alice"}) {
		t.Fatalf("the page after login: %+v, want alice and the flash", v)
	}
	after := c.Session()
	if after.UserID() != "alice" {
		t.Fatalf("after login the cookie carries user %q", after.UserID())
	}
	if after.ID() == anonID {
		t.Fatal("login kept the session ID: no fixation defence")
	}
	if after.Generation() <= anon.Generation() {
		t.Fatalf("login did not raise the generation: %d -> %d", anon.Generation(), after.Generation())
	}
	v = c.View(http.MethodGet, "/cart", nil)
	// The redirect target already showed the flash: it is gone now.
	if v.User != "alice" || !slices.Equal(v.Items, []string{"apple", "pear"}) || len(v.Flashes) != 0 {
		t.Fatalf("after login and one page: %+v", v)
	}

	loggedIn := c.CookieHeader()
	res, body = c.Do(http.MethodPost, "/logout", url.Values{})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("logout: %s: %s", res.Status, body)
	}
	if c.HasSessionCookie() {
		t.Fatal("logout left the session cookie in the jar")
	}
	v = c.View(http.MethodGet, "/cart", nil)
	if v.User != "" || len(v.Items) != 0 {
		t.Fatalf("after logout: %+v", v)
	}
	if v := c.GetWithCookie("/cart", loggedIn); v.User != "" || len(v.Items) != 0 {
		t.Fatalf("the cookie captured before logout still works: %+v", v)
	}
	if s := c.SessionOf(loggedIn); !errors.Is(s.Rejected(), versioning.ErrRevoked) {
		t.Fatalf("replayed cookie: rejected with %v, want a revocation", s.Rejected())
	}
}
