package httpx_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
)

// testIP lets a test choose the client's address per request.
func testIP(r *http.Request) netip.Addr {
	a, _ := netip.ParseAddr(r.Header.Get("X-Test-IP"))
	return a
}

func anomalyReq(t *testing.T, c *client, path, ip, ua string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.srv.URL+path, nil)
	if path == "/login" {
		req.Method = "POST"
		req.URL.RawQuery = "u=alice"
	}
	req.Header.Set("X-Test-IP", ip)
	req.Header.Set("User-Agent", ua)
	resp, err := c.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b := make([]byte, 128)
	n, _ := resp.Body.Read(b)
	return string(b[:n])
}

func (r *recorder) anomalies() []string {
	var out []string
	for _, e := range r.Events() {
		if e.Kind == httpx.EventAnomaly {
			out = append(out, httpx.ReasonLabel(e.Reason)+": "+e.Reason.Error())
		}
	}
	return out
}

func TestClientBinding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action httpx.ClientChangeAction
		after  string // whoami after a change
	}{
		{"report", httpx.ClientChangeReport, "user=alice note= gen=1"},
		{"reauthenticate", httpx.ClientChangeReauthenticate, "user= note= gen=0"}, // a fresh session: nothing of the victim's
		{"refuse", httpx.ClientChangeRefuse, "user= note= gen=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *httpx.Config) { c.Binding.ClientIP = testIP; c.Binding.OnChange = tc.action })
			c := newClient(t, e.srv)
			anomalyReq(t, c, "/login", "192.0.2.10", "Browser/1")
			// Same /24 and agent: no anomaly.
			require.Equal(t, "user=alice note= gen=1", anomalyReq(t, c, "/whoami", "192.0.2.99", "Browser/1"), "same client")
			require.Empty(t, e.rec.anomalies(), "anomalies for the same client")
			got := anomalyReq(t, c, "/whoami", "198.51.100.7", "Browser/1")
			require.Equal(t, tc.after, got, "after network change")
			require.Equal(t, []string{"client_changed: httpx: session presented by a different client: network prefix changed since login"}, e.rec.anomalies())
		})
	}
}

func TestClientBindingUserAgentAndIPv6(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Binding.ClientIP = testIP })
	c := newClient(t, e.srv)
	anomalyReq(t, c, "/login", "2001:db8:1:2::1", "Browser/1")
	anomalyReq(t, c, "/whoami", "2001:db8:1:ffff::9", "Browser/1") // same /48
	require.Empty(t, e.rec.anomalies(), "anomalies within a /48")
	anomalyReq(t, c, "/whoami", "2001:db8:1:2::1", "Other/2")
	require.Equal(t, []string{"client_changed: httpx: session presented by a different client: user agent changed since login"}, e.rec.anomalies())
}

// TestClientBindingBrowserUserAgents: User-Agent strings as browsers send
// them (long enough for the middleware's cache of their hashes) are told
// apart to the byte on every request, however often each was seen.
func TestClientBindingBrowserUserAgents(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Binding.ClientIP = testIP })
	c := newClient(t, e.srv)
	chrome := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	updated := strings.Replace(chrome, "131", "132", 1)
	const changed = "client_changed: httpx: session presented by a different client: user agent changed since login"
	anomalyReq(t, c, "/login", "192.0.2.10", chrome)
	for range 3 {
		require.Equal(t, "user=alice note= gen=1", anomalyReq(t, c, "/whoami", "192.0.2.10", chrome), "same browser")
	}
	require.Empty(t, e.rec.anomalies(), "anomalies for the same browser")
	anomalyReq(t, c, "/whoami", "192.0.2.10", updated)
	require.Equal(t, []string{changed}, e.rec.anomalies(), "one byte of the User-Agent changed")
	// Report bound the session to the new string: it is no change any
	// more, and going back is one.
	anomalyReq(t, c, "/whoami", "192.0.2.10", updated)
	require.Len(t, e.rec.anomalies(), 1, "the new string again")
	anomalyReq(t, c, "/whoami", "192.0.2.10", chrome)
	require.Equal(t, []string{changed, changed}, e.rec.anomalies(), "back to the first string")
}
