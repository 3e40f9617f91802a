package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/sealed"
)

// demoBin is the demo binary built once by TestMain.
var demoBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sealedsession-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	demoBin = filepath.Join(dir, "demo")
	cmd := exec.Command("go", "build", "-o", demoBin, "../cmd/demo")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "reliability: building the demo:", err)
		return 1
	}
	return m.Run()
}

// Demo users (cmd/demo/users.go shows their passwords on the login page).
const (
	alice         = "alice"
	alicePassword = "correct-horse-alice"
	admin         = "admin"
	adminPassword = "battery-staple-admin"
	cookieName    = "__Host-session"
)

// newKeys returns a fresh SESSION_KEYS text with one key.
func newKeys(t testing.TB) string {
	t.Helper()
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
	return k.Export()
}

// logBuf is a goroutine-safe, growing copy of a process's stderr.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuf) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// demoOpts configure one demo process.
type demoOpts struct {
	keys     string   // SESSION_KEYS; "" = a fresh key
	store    string   // -store; "" = memory
	idle     string   // -idle
	absolute string   // -absolute
	extra    []string // more flags
}

// raisedBudget starts the demo with the raised size budget of
// docs/proxies.md, so that a full cart needs chunk cookies.
var raisedBudget = []string{"-max-header-bytes", "12288"}

// demo is one running demo process.
type demo struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	log  *logBuf
	keys string
	done chan struct{}
	data string
}

var listeningRE = regexp.MustCompile(`msg=listening url=(http://127\.0\.0\.1:[0-9]+)/`)

// startDemo starts the demo binary on a free loopback port with debug
// logging and returns once it listens. The test's cleanup stops it with
// SIGTERM and fails the test if it panicked, died, or did not exit 0.
func startDemo(t testing.TB, o demoOpts) *demo {
	t.Helper()
	if o.keys == "" {
		o.keys = newKeys(t)
	}
	if o.store == "" {
		o.store = "memory"
	}
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"-addr", "127.0.0.1:0", "-data", data, "-store", o.store, "-log-level", "debug"}
	if o.idle != "" {
		args = append(args, "-idle", o.idle)
	}
	if o.absolute != "" {
		args = append(args, "-absolute", o.absolute)
	}
	args = append(args, o.extra...)
	cmd := exec.Command(demoBin, args...)
	cmd.Env = append(os.Environ(), "SESSION_KEYS="+o.keys)
	dieWithParent(cmd)
	d := &demo{t: t, cmd: cmd, log: &logBuf{}, keys: o.keys, done: make(chan struct{}), data: data}
	cmd.Stderr = d.log
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(d.stop)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(d.log.String()); m != nil {
			d.url = m[1]
			return d
		}
		select {
		case <-d.done:
			require.FailNow(t, "demo exited at start-up", d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.FailNow(t, "demo did not listen within 15s", d.log.String())
	return nil
}

// stop ends the process gracefully and checks how it went.
func (d *demo) stop() {
	select {
	case <-d.done:
		assert.Fail(d.t, "demo died before the end of the test", "%v:\n%s", d.cmd.ProcessState, tailLines(d.log.String(), 40))
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		assert.Fail(d.t, "demo did not stop within 15s of SIGTERM")
	}
	d.checkNoPanic()
	assert.Equal(d.t, 0, d.cmd.ProcessState.ExitCode(), "demo exit code after SIGTERM:\n%s", tailLines(d.log.String(), 20))
}

// alive fails the test if the process has exited.
func (d *demo) alive() {
	d.t.Helper()
	select {
	case <-d.done:
		require.FailNow(d.t, "demo process is gone", tailLines(d.log.String(), 40))
	default:
	}
	d.checkNoPanic()
}

func (d *demo) checkNoPanic() {
	d.t.Helper()
	// Not assert.NotContains: it would print the whole log, not the
	// excerpt around the panic.
	if s := d.log.String(); strings.Contains(s, "panic") {
		i := strings.Index(s, "panic")
		assert.Fail(d.t, "demo log mentions a panic", s[max(0, i-500):min(len(s), i+2000)])
	}
}

// mark returns the current length of the log, for since.
func (d *demo) mark() int { return d.log.Len() }

// since returns the log written after mark m.
func (d *demo) since(m int) string { return d.log.String()[m:] }

// waitLog waits (up to 5 s) until the log after mark m contains at least n
// matches of re, and returns the matches found.
func (d *demo) waitLog(m int, re *regexp.Regexp, n int) []string {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		found := re.FindAllString(d.since(m), -1)
		if len(found) >= n || time.Now().After(deadline) {
			return found
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var reasonRE = regexp.MustCompile(`event=rejected session=\S* (?:user=\S+ )?reason=([a-z_]+)`)

// reasons waits until n rejections are logged after mark m and returns
// how many there are of each reason.
func (d *demo) reasons(m, n int) map[string]int {
	d.t.Helper()
	d.waitLog(m, reasonRE, n)
	out := map[string]int{}
	for _, sm := range reasonRE.FindAllStringSubmatch(d.since(m), -1) {
		out[sm[1]]++
	}
	return out
}

// memory returns the process's VmRSS and VmHWM (peak RSS) in KiB.
func (d *demo) memory() (rss, hwm int) {
	d.t.Helper()
	return procMemory(d.t, d.cmd.Process.Pid)
}

func procMemory(t testing.TB, pid int) (rss, hwm int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err, "read /proc status")
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// client is a browser stand-in that keeps cookies from Set-Cookie by hand:
// the demo's cookies are Secure and __Host-, which net/http/cookiejar does
// not send over plain http. It follows no redirects.
type client struct {
	t       testing.TB
	base    string
	hc      *http.Client
	mu      sync.Mutex
	cookies map[string]string
}

var sharedTransport = &http.Transport{
	MaxIdleConns:        1000,
	MaxIdleConnsPerHost: 1000,
	IdleConnTimeout:     30 * time.Second,
	DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
}

func newClient(t testing.TB, base string) *client {
	return &client{
		t:    t,
		base: base,
		hc: &http.Client{
			Transport:     sharedTransport,
			Timeout:       60 * time.Second, // 200 logins queue behind bcrypt
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		cookies: map[string]string{},
	}
}

// header returns the Cookie header the client would send.
func (c *client) header() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, n := range sortedKeys(c.cookies) {
		parts = append(parts, n+"="+c.cookies[n])
	}
	return strings.Join(parts, "; ")
}

// snapshot returns a copy of the client's cookies.
func (c *client) snapshot() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.cookies))
	for k, v := range c.cookies {
		out[k] = v
	}
	return out
}

// setCookies replaces the client's cookies.
func (c *client) setCookies(m map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cookies = make(map[string]string, len(m))
	for k, v := range m {
		c.cookies[k] = v
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Session cookie first, then its chunks in order, like a browser
	// would usually send them (the order does not matter to the server).
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// do sends one request with the client's cookies (or cookieHeader when
// it is not nil) and stores the cookies of the answer. form nil = no body.
func (c *client) do(method, path string, form url.Values, cookieHeader *string) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	h := c.header()
	if cookieHeader != nil {
		h = *cookieHeader
	}
	if h != "" {
		req.Header.Set("Cookie", h)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp, "", err
	}
	if cookieHeader == nil {
		c.mu.Lock()
		for _, ck := range resp.Cookies() {
			if ck.MaxAge < 0 || ck.Value == "" {
				delete(c.cookies, ck.Name)
			} else {
				c.cookies[ck.Name] = ck.Value
			}
		}
		c.mu.Unlock()
	}
	return resp, string(b), nil
}

// must is do that fails the test on a transport error or an unexpected
// status.
func (c *client) must(method, path string, form url.Values, want int) string {
	c.t.Helper()
	resp, body, err := c.do(method, path, form, nil)
	require.NoError(c.t, err, "%s %s", method, path)
	require.Equal(c.t, want, resp.StatusCode, "%s %s: status: %.300s", method, path, body)
	return body
}

func (c *client) login(user, password string) {
	c.t.Helper()
	c.must("POST", "/login", url.Values{"user": {user}, "password": {password}}, http.StatusSeeOther)
}

// sessionInfo is the JSON of GET /api/session.
type sessionInfo struct {
	Authenticated bool   `json:"authenticated"`
	User          string `json:"user"`
	Session       string `json:"session"`
	Generation    uint32 `json:"generation"`
	CookieBytes   int    `json:"cookie_bytes"`
}

// sessionWith asks /api/session with the given Cookie header (nil = the
// client's own cookies, which are then updated).
func (c *client) sessionWith(cookieHeader *string) (sessionInfo, error) {
	resp, body, err := c.do("GET", "/api/session", nil, cookieHeader)
	if err != nil {
		return sessionInfo{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return sessionInfo{}, fmt.Errorf("/api/session: status %d: %.200s", resp.StatusCode, body)
	}
	var si sessionInfo
	if err := json.Unmarshal([]byte(body), &si); err != nil {
		return sessionInfo{}, fmt.Errorf("/api/session: %v: %.200s", err, body)
	}
	return si, nil
}

func (c *client) session() sessionInfo {
	c.t.Helper()
	si, err := c.sessionWith(nil)
	require.NoError(c.t, err)
	return si
}

// sessionAs asks /api/session with a raw Cookie header.
func (c *client) sessionAs(cookieHeader string) sessionInfo {
	c.t.Helper()
	si, err := c.sessionWith(&cookieHeader)
	require.NoError(c.t, err)
	return si
}

// cookieHeaderOf renders cookies as a Cookie header (sorted names).
func cookieHeaderOf(m map[string]string) string {
	var parts []string
	for _, n := range sortedKeys(m) {
		parts = append(parts, n+"="+m[n])
	}
	return strings.Join(parts, "; ")
}

// reasonRegexp matches rejection log lines with the given reason.
func reasonRegexp(label string) *regexp.Regexp {
	return regexp.MustCompile(`event=rejected session=\S* (?:user=\S+ )?reason=` + label + `\b`)
}

func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.Chmod(path, mode))
}

func uidOf() int { return os.Getuid() }
