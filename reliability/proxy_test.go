package reliability

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
)

// The demo behind a real nginx (docs/proxies.md). Debian's nginx with its
// default configuration reads the whole upstream response header into one
// proxy_buffer_size buffer, one 4 KiB page on x86-64, and answers 502 when a
// response's headers do not fit: the session's Set-Cookie lines must stay
// within that, with room for the application's own headers.

const (
	// defaultHeaderBudget is the bytes of all response header lines one
	// session save may write by default.
	defaultHeaderBudget = httpx.DefaultMaxHeaderBytes
	// raisedHeaderBudget is the budget docs/proxies.md pairs with
	// raisedNginx.
	raisedHeaderBudget = 12288
	// renewWait is past the renewal threshold of a demo run with -idle 4s
	// (a quarter of the idle timeout) and well before its idle deadline.
	renewWait = 1500 * time.Millisecond
	// cartFullText is the start of the demo's refusal message (cart.go).
	cartFullText = "The cart is full"
)

// raisedNginx is the http-level configuration docs/proxies.md shows for
// raisedHeaderBudget.
const raisedNginx = `proxy_buffer_size 16k;
proxy_buffers 8 16k;
proxy_busy_buffers_size 32k;
large_client_header_buffers 4 16k;`

// raisedDemo are the demo flags that raise its budget to
// raisedHeaderBudget.
var raisedDemo = []string{"-max-header-bytes", strconv.Itoa(raisedHeaderBudget)}

// TestBehindNginx puts the demo behind nginx with Debian's default
// configuration, fills the cart until the demo refuses to grow it, and
// checks that nginx never answered a 5xx and that the session survives a
// renewal, a change and a logout. The same with the raised settings lets
// the cart grow larger. The control run shows the test measures what it
// claims: the raised budget behind the default nginx does get 502s.
func TestBehindNginx(t *testing.T) {
	nginxBinary(t)
	var atDefault cartRun
	t.Run("default", func(t *testing.T) {
		atDefault = proxiedLifecycle(t, "", nil, defaultHeaderBudget)
	})
	t.Run("raised", func(t *testing.T) {
		raised := proxiedLifecycle(t, raisedNginx, raisedDemo, raisedHeaderBudget)
		if atDefault.lines == 0 {
			t.Skip("no default run to compare with (it failed or was not selected)")
		}
		require.Greater(t, raised.lines, atDefault.lines, "raised settings: cart lines when it stopped, want more than the default's")
		require.Greater(t, raised.maxSetCookie, 4096, "raised settings: largest Set-Cookie lines (bytes): the run never needed more than nginx's default buffer")
		t.Logf("cart lines: %d at the default budget, %d raised", atDefault.lines, raised.lines)
	})
	t.Run("raised-budget-behind-default-nginx", func(t *testing.T) {
		d := startDemo(t, demoOpts{idle: "4s", extra: raisedDemo})
		ng := startNginx(t, d.url, "")
		c := newClient(t, ng.url)
		loginVia(t, c, ng)
		run := growCart(t, c, 1)
		require.Equal(t, http.StatusBadGateway, run.badStatus, "the raised budget behind the default nginx: first 5xx (cart refused: %v at %d lines, largest Set-Cookie lines %d bytes)",
			run.refused, run.lines, run.maxSetCookie)
		require.True(t, ng.waitLog("upstream sent too big header"), "502 without nginx's \"upstream sent too big header\":\n%s", tailLines(ng.log(), 20))
		t.Logf("502 from the default nginx after %d cart lines (largest Set-Cookie lines that passed: %d bytes)", run.lines, run.maxSetCookie)
		d.alive()
	})
}

// proxiedLifecycle runs the demo (flags demoFlags) behind nginx (extra
// http-level configuration nginxConf) and checks the whole life of a grown
// session through it: no response is a 5xx, the session's Set-Cookie lines
// stay within budget, and the session survives renewal, change and
// logout. It returns the first growth to the refusal.
func proxiedLifecycle(t *testing.T, nginxConf string, demoFlags []string, budget int) cartRun {
	t.Helper()
	d := startDemo(t, demoOpts{idle: "4s", extra: demoFlags})
	ng := startNginx(t, d.url, nginxConf)
	c := newClient(t, ng.url)
	loginVia(t, c, ng)

	// Grow one line at a time until the demo refuses.
	run := growCart(t, c, 1)
	ng.noBadStatus(t, run, "growing the cart")
	require.True(t, run.refused, "the cart grew to %d lines without a refusal", run.lines)
	require.GreaterOrEqual(t, run.lines, 5, "the cart was refused too early (lines)")
	require.LessOrEqual(t, run.maxSetCookie, budget, "Set-Cookie bytes of the largest response, over the budget")
	t.Logf("refused at %d lines; largest Set-Cookie lines %d bytes (budget %d)", run.lines, run.maxSetCookie, budget)
	before := c.session()
	require.True(t, before.Authenticated, "after the refusal: %+v", before)
	require.Equal(t, alice, before.User, "after the refusal")

	// Renewal of the full session.
	time.Sleep(renewWait)
	resp, body := ng.send(t, c, "GET", "/api/session", nil, http.StatusOK)
	require.True(t, hasCookie(resp, cookieName), "no renewal %v after the last write: Set-Cookie %q", renewWait, resp.Header.Values("Set-Cookie"))
	require.LessOrEqual(t, setCookieBytes(resp), budget, "renewal: Set-Cookie bytes, over the budget")
	after := c.session()
	require.True(t, after.Authenticated, "after the renewal %+v (before %+v): %.200s", after, before, body)
	require.Equal(t, before.Session, after.Session, "session after the renewal: %.200s", body)
	require.Equal(t, before.Generation, after.Generation, "generation after the renewal: %.200s", body)
	require.Equal(t, run.lines, cartLines(t, c, ng, "/cart"), "cart lines after the renewal")

	// A change: empty the cart (any chunk cookies are cleared), add a line.
	ng.send(t, c, "POST", "/cart/clear", url.Values{}, http.StatusSeeOther)
	require.Zero(t, cartLines(t, c, ng, "/cart?msg=cleared"), "cart lines after emptying")
	resp, _ = ng.send(t, c, "POST", "/cart/add", url.Values{"count": {"1"}}, http.StatusSeeOther)
	require.Equal(t, "/cart?msg=added", resp.Header.Get("Location"), "adding to the empty cart: redirect")
	require.Equal(t, 1, cartLines(t, c, ng, "/cart?msg=added"), "cart lines after one add")
	si := c.session()
	require.True(t, si.Authenticated, "after the change: %+v", si)
	require.Equal(t, before.Session, si.Session, "session after the change")

	// Grow again, ten lines at a time, and log out with the full session:
	// the logout clears every chunk cookie.
	regrown := growCart(t, c, 10)
	ng.noBadStatus(t, regrown, "growing the cart again")
	require.True(t, regrown.refused, "growing again ten at a time: not refused at %d lines (first run: %d)", regrown.lines, run.lines)
	require.GreaterOrEqual(t, regrown.lines, run.lines-9, "growing again ten at a time: refused at too few lines (first run: %d)", run.lines)
	captured := cookieHeaderOf(c.snapshot())
	resp, _ = ng.send(t, c, "POST", "/logout", url.Values{}, http.StatusSeeOther)
	require.LessOrEqual(t, setCookieBytes(resp), budget, "logout: Set-Cookie bytes, over the budget")
	si = c.session()
	require.False(t, si.Authenticated, "after logout the client's own cookies are still logged in: %+v", si)
	refused(t, c, captured, "the full session's cookies replayed after logout")
	d.alive()
	ng.alive(t)
	return run
}

// cartRun is what growing a cart through the proxy found.
type cartRun struct {
	lines        int    // cart lines when it stopped growing
	refused      bool   // the demo showed its refusal message
	badStatus    int    // the first 5xx status, 0 if none
	badWhat      string // the request and body of that answer
	maxSetCookie int    // the most Set-Cookie bytes of one response
}

var cartCountRE = regexp.MustCompile(`<span id="cart-count">([0-9]+)</span>`)

// growCart adds count lines at a time to the cart of the logged-in c, from
// the lines it has, until the demo refuses, a response is a 5xx, or 1000
// lines.
func growCart(t *testing.T, c *client, count int) cartRun {
	t.Helper()
	var run cartRun
	resp, body, err := c.do("GET", "/cart", nil, nil)
	require.NoError(t, err, "GET /cart")
	m := cartCountRE.FindStringSubmatch(body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET /cart: status: %.300s", body)
	require.NotNil(t, m, "GET /cart: no cart count: %.300s", body)
	run.lines, _ = strconv.Atoi(m[1])
	form := url.Values{"count": {strconv.Itoa(count)}}
	for run.lines < 1000 {
		resp, body, err := c.do("POST", "/cart/add", form, nil)
		require.NoError(t, err, "POST /cart/add")
		run.maxSetCookie = max(run.maxSetCookie, setCookieBytes(resp))
		if resp.StatusCode >= 500 {
			run.badStatus, run.badWhat = resp.StatusCode, "POST /cart/add: "+body
			return run
		}
		loc := resp.Header.Get("Location")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "POST /cart/add: status (Location %q): %.300s", loc, body)
		require.Contains(t, []string{"/cart?msg=added", "/cart?msg=full"}, loc, "POST /cart/add: Location: %.300s", body)
		resp, body, err = c.do("GET", loc, nil, nil)
		require.NoError(t, err, "GET %s", loc)
		run.maxSetCookie = max(run.maxSetCookie, setCookieBytes(resp))
		if resp.StatusCode >= 500 {
			run.badStatus, run.badWhat = resp.StatusCode, "GET "+loc+": "+body
			return run
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: status: %.300s", loc, body)
		m := cartCountRE.FindStringSubmatch(body)
		require.NotNil(t, m, "GET %s: no cart count: %.300s", loc, body)
		n, _ := strconv.Atoi(m[1])
		if loc == "/cart?msg=full" {
			require.Equal(t, run.lines, n, "refused at %d lines: cart lines on the page: %.300s", run.lines, body)
			require.Contains(t, body, `id="error">`+cartFullText, "refused at %d lines: no refusal message", run.lines)
			run.refused = true
			return run
		}
		require.Equal(t, run.lines+count, n, "added %d to %d lines: cart lines", count, run.lines)
		run.lines = n
	}
	return run
}

// cartLines GETs a cart page through the proxy and returns its line count.
func cartLines(t *testing.T, c *client, ng *nginx, path string) int {
	t.Helper()
	_, body := ng.send(t, c, "GET", path, nil, http.StatusOK)
	m := cartCountRE.FindStringSubmatch(body)
	require.NotNil(t, m, "GET %s: no cart count: %.300s", path, body)
	n, _ := strconv.Atoi(m[1])
	return n
}

// loginVia logs alice in through the proxy.
func loginVia(t *testing.T, c *client, ng *nginx) {
	t.Helper()
	ng.send(t, c, "POST", "/login", url.Values{"user": {alice}, "password": {alicePassword}}, http.StatusSeeOther)
	si := c.session()
	require.True(t, si.Authenticated, "after login through nginx: %+v", si)
	require.Equal(t, alice, si.User, "after login through nginx")
}

// setCookieBytes counts a response's Set-Cookie lines as they are on the
// wire: "Set-Cookie: " + value + CRLF each.
func setCookieBytes(resp *http.Response) int {
	n := 0
	for _, v := range resp.Header.Values("Set-Cookie") {
		n += len("Set-Cookie: ") + len(v) + len("\r\n")
	}
	return n
}

// hasCookie reports whether resp sets cookie name to a value.
func hasCookie(resp *http.Response, name string) bool {
	for _, ck := range resp.Cookies() {
		if ck.Name == name && ck.Value != "" && ck.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// nginxBinary returns the path of nginx. Without one the test is skipped,
// unless SEALEDSESSION_REQUIRE_NGINX is set (scripts/test.sh sets it when
// nginx is installed): then it fails.
func nginxBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	const debian = "/usr/sbin/nginx" // not on a non-root PATH
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if os.Getenv("SEALEDSESSION_REQUIRE_NGINX") != "" {
		require.FailNow(t, "nginx not found and SEALEDSESSION_REQUIRE_NGINX is set (Debian: apt-get install nginx-light)")
	}
	t.Skip("nginx not found (Debian: apt-get install nginx-light; SEALEDSESSION_REQUIRE_NGINX=1 makes this a failure)")
	return ""
}

// nginxConfig is Debian's /etc/nginx/nginx.conf reduced to what applies
// to a reverse proxy, with every file in the test's folder. Like Debian's,
// it sets no header or proxy buffer size: those are nginx's defaults.
const nginxConfig = `daemon off;
master_process off;
pid "{{dir}}/nginx.pid";
lock_file "{{dir}}/nginx.lock";
error_log "{{dir}}/error.log" error;
events {
	worker_connections 768;
}
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	default_type application/octet-stream;
	access_log "{{dir}}/access.log";
	gzip on;
	client_body_temp_path "{{dir}}/client_body";
	proxy_temp_path "{{dir}}/proxy";
	fastcgi_temp_path "{{dir}}/fastcgi";
	uwsgi_temp_path "{{dir}}/uwsgi";
	scgi_temp_path "{{dir}}/scgi";
{{extra}}
	server {
		listen {{listen}};
		location / {
			proxy_pass {{upstream}};
		}
	}
}
`

// nginx is one nginx process started by startNginx.
type nginx struct {
	url  string // http://127.0.0.1:port
	dir  string
	cmd  *exec.Cmd
	out  *logBuf // its stdout and stderr
	done chan struct{}
}

// startNginx starts nginx on a free loopback port in front of upstreamURL
// (http://host:port), with extraHTTPConfig added to its http block, and
// returns once it accepts connections. The test's cleanup stops it.
func startNginx(t testing.TB, upstreamURL, extraHTTPConfig string) *nginx {
	t.Helper()
	bin := nginxBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ng, err := tryNginx(t, bin, upstreamURL, extraHTTPConfig)
		if err == nil {
			return ng
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	require.NoError(t, lastErr)
	return nil
}

// tryNginx starts nginx once, on a port that was free a moment ago.
func tryNginx(t testing.TB, bin, upstreamURL, extra string) (*nginx, error) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listen := ln.Addr().String()
	ln.Close()
	conf := strings.NewReplacer("{{dir}}", dir, "{{listen}}", listen, "{{upstream}}", upstreamURL, "{{extra}}", extra).Replace(nginxConfig)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	ng := &nginx{url: "http://" + listen, dir: dir, out: &logBuf{}, done: make(chan struct{})}
	ng.cmd = exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	ng.cmd.Stdout, ng.cmd.Stderr = ng.out, ng.out
	dieWithParent(ng.cmd)
	if err := ng.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = ng.cmd.Wait()
		close(ng.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ng.done:
			return nil, fmt.Errorf("nginx exited at start-up: %s\n%s", ng.out.String(), ng.log())
		default:
		}
		if conn, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			conn.Close()
			t.Cleanup(func() { ng.stop(t) })
			return ng, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = ng.cmd.Process.Kill()
	<-ng.done
	return nil, fmt.Errorf("nginx did not accept connections within 10s:\n%s\n%s", ng.out.String(), ng.log())
}

// stop ends nginx (fast shutdown) and fails the test if it had died.
func (ng *nginx) stop(t testing.TB) {
	select {
	case <-ng.done:
		assert.Fail(t, "nginx died before the end of the test", "%v:\n%s\n%s", ng.cmd.ProcessState, ng.out.String(), tailLines(ng.log(), 20))
		return
	default:
	}
	_ = ng.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ng.done:
	case <-time.After(10 * time.Second):
		_ = ng.cmd.Process.Kill()
		<-ng.done
		assert.Fail(t, "nginx did not stop within 10s of SIGTERM")
	}
}

// alive fails the test if nginx has exited.
func (ng *nginx) alive(t testing.TB) {
	t.Helper()
	select {
	case <-ng.done:
		require.FailNow(t, "nginx is gone", "%s\n%s", ng.out.String(), tailLines(ng.log(), 20))
	default:
	}
}

// log returns nginx's error log.
func (ng *nginx) log() string {
	b, err := os.ReadFile(filepath.Join(ng.dir, "error.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	return string(b)
}

// waitLog waits (up to 2 s) for s in nginx's error log.
func (ng *nginx) waitLog(s string) bool {
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(ng.log(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// send makes one request through nginx with c's cookies and checks its
// status; a 5xx fails the test with nginx's error log.
func (ng *nginx) send(t testing.TB, c *client, method, path string, form url.Values, want int) (*http.Response, string) {
	t.Helper()
	resp, body, err := c.do(method, path, form, nil)
	require.NoError(t, err, "%s %s through nginx", method, path)
	require.Less(t, resp.StatusCode, 500, "%s %s through nginx: %.300s\nnginx error log:\n%s", method, path, body, tailLines(ng.log(), 10))
	require.Equal(t, want, resp.StatusCode, "%s %s through nginx: status: %.300s", method, path, body)
	return resp, body
}

// noBadStatus fails the test if run met a 5xx.
func (ng *nginx) noBadStatus(t testing.TB, run cartRun, what string) {
	t.Helper()
	require.Zero(t, run.badStatus, "%s through nginx: 5xx after %d cart lines (largest Set-Cookie lines so far %d bytes): %.300s\nnginx error log:\n%s",
		what, run.lines, run.maxSetCookie, run.badWhat, tailLines(ng.log(), 10))
}
