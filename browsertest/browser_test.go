package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/sealed"
)

// demoBin is the demo binary, built once by TestMain.
var demoBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain builds ./cmd/demo from the repository root (the parent of this
// module) into a temporary folder, then runs the tests.
func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sealedsession-browsertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	demoBin = filepath.Join(dir, "demo")
	cmd := exec.Command("go", "build", "-o", demoBin, "./cmd/demo")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: building the demo in %s: %v\n", root, err)
		return 1
	}
	return m.Run()
}

// logBuf is a goroutine-safe copy of a process's stderr.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listeningRE = regexp.MustCompile(`msg=listening url=(http://127\.0\.0\.1:[0-9]+)/`)

// startDemo runs the demo binary on a free loopback port with a memory
// store, a fresh key and its own data folder, and returns its base URL once
// it listens. The test's cleanup stops it (SIGTERM, then SIGKILL after 15 s)
// and reports a panic or a non-zero exit.
func startDemo(t *testing.T) string {
	t.Helper()
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
	data := filepath.Join(t.TempDir(), "data")
	// The raised size budget of docs/proxies.md: a full cart is chunked.
	cmd := exec.Command(demoBin, "-addr", "127.0.0.1:0", "-data", data, "-store", "memory", "-max-header-bytes", "12288")
	cmd.Env = append(os.Environ(), "SESSION_KEYS="+k.Export())
	log := &logBuf{}
	cmd.Stderr = log
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
			assert.Fail(t, "demo exited before the end of the test", "%v:\n%s", cmd.ProcessState, log.String())
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			assert.Fail(t, "demo did not stop within 15s of SIGTERM; killed")
		}
		assert.Zero(t, cmd.ProcessState.ExitCode(), "demo exit code after SIGTERM:\n%s", log.String())
		assert.NotContains(t, log.String(), "panic", "demo log mentions a panic")
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		select {
		case <-done:
			require.FailNow(t, "demo exited at start-up", log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.FailNow(t, "demo did not listen within 15s", log.String())
	return ""
}

// findChromium returns the path of a Chromium or Chrome binary, or "".
func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// sessionCookiesOf returns the browser's session cookies for base, read
// through the DevTools protocol (Network.getCookies).
func sessionCookiesOf(ctx context.Context, base string) ([]*network.Cookie, error) {
	return chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
		if err != nil {
			return nil, err
		}
		var out []*network.Cookie
		for _, c := range r.Cookies {
			if strings.HasPrefix(c.Name, "__Host-session") {
				out = append(out, c)
			}
		}
		return out, nil
	})
}

// submit clicks a form button and waits for the page the form leads to.
func submit(ctx context.Context, id string) error {
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
	return err
}

// text returns the text of the element with the given id.
func text(ctx context.Context, id string) (string, error) {
	return chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
}

func browserLogin(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	require.NoError(t, err, "login form")
	require.NoError(t, submit(ctx, "submit"), "submit login")
	who, err := text(ctx, "who")
	require.NoError(t, err, "after login")
	require.Equal(t, user, who, "what the page says after login")
}

func whoAmI(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/")))
	who, err := text(ctx, "who")
	require.NoError(t, err)
	return who
}

// TestBrowser drives the demo process with headless Chromium over plain
// http on 127.0.0.1 (a secure context for cookies, so __Host- and Secure
// work).
func TestBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("SEALEDSESSION_REQUIRE_CHROMIUM") == "1" {
			require.FailNow(t, "no chromium binary found (looked for chromium, chromium-browser, google-chrome, google-chrome-stable; or set CHROMIUM) and SEALEDSESSION_REQUIRE_CHROMIUM=1")
		}
		t.Skip("skipping the browser test: no chromium binary found (install Debian's chromium, or set CHROMIUM=/path; SEALEDSESSION_REQUIRE_CHROMIUM=1 makes this a failure)")
	}
	base := startDemo(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	first, cancelFirst := chromedp.NewContext(allocCtx)
	defer cancelFirst()
	require.NoError(t, chromedp.Do(first), "start %s", chromium)

	// Log in and check the cookie's attributes through the DevTools protocol.
	browserLogin(t, first, base, "alice", "correct-horse-alice")
	cookies, err := sessionCookiesOf(first, base)
	require.NoError(t, err)
	require.Len(t, cookies, 1, "session cookies after login (is http://127.0.0.1 a secure context for this Chromium?)")
	c := cookies[0]
	assert.Equal(t, "__Host-session", c.Name, "session cookie name")
	assert.True(t, c.HTTPOnly, "session cookie HttpOnly")
	assert.True(t, c.Secure, "session cookie Secure")
	assert.Equal(t, network.CookieSameSiteLax, c.SameSite, "session cookie SameSite")
	assert.Equal(t, "/", c.Path, "session cookie Path")
	docCookie, err := chromedp.Run(first, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err)
	assert.NotContains(t, docCookie, "__Host-session", "the session cookie is visible to JavaScript")

	// Fill the cart until the session is chunked, then until it is refused.
	require.NoError(t, chromedp.Do(first, chromedp.Navigate(base+"/cart")))
	chunked := false
	refused := false
	var lines string
	for i := 0; i < 15 && !refused; i++ {
		require.NoError(t, submit(first, "add10"), "add 10")
		cookies, err := sessionCookiesOf(first, base)
		require.NoError(t, err)
		if len(cookies) > 1 {
			chunked = true
		}
		errs, err := chromedp.Run(first,
			chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#error")).map(e => e.textContent)`))
		require.NoError(t, err)
		if len(errs) > 0 {
			refused = true
			assert.Contains(t, errs[0], "cart is full", "refusal message")
			assert.True(t, chunked, "refused before the session was chunked")
			now, err := text(first, "cart-count")
			require.NoError(t, err)
			assert.Equal(t, lines, now, "the refused add changed the cart's line count")
		} else {
			lines, err = text(first, "cart-count")
			require.NoError(t, err)
		}
	}
	require.True(t, chunked, "session chunked after filling the cart (refused %v)", refused)
	require.True(t, refused, "add refused after filling the cart (chunked %v)", chunked)
	assert.Equal(t, "alice", whoAmI(t, first, base), "who the page says after the refusal: alice still signed in")

	// Log out: every session cookie is gone.
	require.NoError(t, submit(first, "logout"))
	cookies, err = sessionCookiesOf(first, base)
	assert.NoError(t, err, "session cookies after logout")
	assert.Empty(t, cookies, "after logout the browser still holds session cookies")
	assert.Equal(t, "not signed in", whoAmI(t, first, base), "what the page says after logout")

	// Log in again here, and in a second, separate browser context; "log
	// out everywhere" there ends the first context's session too.
	browserLogin(t, first, base, "alice", "correct-horse-alice")
	second, cancelSecond := chromedp.NewContext(first, chromedp.WithNewBrowserContext())
	defer cancelSecond()
	cookies, err = sessionCookiesOf(second, base)
	require.NoError(t, err, "session cookies of the second browser context")
	require.Empty(t, cookies, "the second browser context shares cookies with the first")
	browserLogin(t, second, base, "alice", "correct-horse-alice")
	require.NoError(t, chromedp.Do(second, chromedp.Navigate(base+"/")))
	require.NoError(t, submit(second, "logout-everywhere"))
	assert.Equal(t, "not signed in", whoAmI(t, second, base), "second context after log out everywhere")
	assert.Equal(t, "not signed in", whoAmI(t, first, base), "first context after log out everywhere in the second: want its session ended")
	cookies, err = sessionCookiesOf(first, base)
	assert.NoError(t, err, "session cookies of the first context")
	assert.Empty(t, cookies, "the first context's refused cookies were not cleared")
}
