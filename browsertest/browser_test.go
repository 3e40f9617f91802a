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
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	// The raised size budget of docs/proxies.md: a full cart is chunked.
	cmd := exec.Command(demoBin, "-addr", "127.0.0.1:0", "-data", data, "-store", "memory", "-max-header-bytes", "12288")
	cmd.Env = append(os.Environ(), "SESSION_KEYS="+k.Export())
	log := &logBuf{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
			t.Errorf("demo exited before the end of the test (%v):\n%s", cmd.ProcessState, log.String())
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("demo did not stop within 15s of SIGTERM; killed")
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("demo exit code %d after SIGTERM:\n%s", code, log.String())
		}
		if s := log.String(); strings.Contains(s, "panic") {
			t.Errorf("demo log mentions a panic:\n%s", s)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		select {
		case <-done:
			t.Fatalf("demo exited at start-up:\n%s", log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("demo did not listen within 15s:\n%s", log.String())
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
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	); err != nil {
		t.Fatalf("login form: %v", err)
	}
	if err := submit(ctx, "submit"); err != nil {
		t.Fatalf("submit login: %v", err)
	}
	who, err := text(ctx, "who")
	if err != nil {
		t.Fatalf("after login: %v", err)
	}
	if who != user {
		t.Fatalf("after login the page says %q, want %q", who, user)
	}
}

func whoAmI(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	who, err := text(ctx, "who")
	if err != nil {
		t.Fatal(err)
	}
	return who
}

// TestBrowser drives the demo process with headless Chromium over plain
// http on 127.0.0.1 (a secure context for cookies, so __Host- and Secure
// work).
func TestBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("SEALEDSESSION_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("no chromium binary found (looked for chromium, chromium-browser, google-chrome, google-chrome-stable; or set CHROMIUM) and SEALEDSESSION_REQUIRE_CHROMIUM=1")
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
	if err := chromedp.Do(first); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}

	// Log in and check the cookie's attributes through the DevTools protocol.
	browserLogin(t, first, base, "alice", "correct-horse-alice")
	cookies, err := sessionCookiesOf(first, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(cookies) != 1 {
		t.Fatalf("after login the browser holds %d session cookies, want 1 (is http://127.0.0.1 a secure context for this Chromium?)", len(cookies))
	}
	c := cookies[0]
	if c.Name != "__Host-session" || !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		t.Errorf("session cookie: name %q HttpOnly %v Secure %v SameSite %q Path %q", c.Name, c.HTTPOnly, c.Secure, c.SameSite, c.Path)
	}
	docCookie, err := chromedp.Run(first, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(docCookie, "__Host-session") {
		t.Error("the session cookie is visible to JavaScript")
	}

	// Fill the cart until the session is chunked, then until it is refused.
	if err := chromedp.Do(first, chromedp.Navigate(base+"/cart")); err != nil {
		t.Fatal(err)
	}
	chunked := false
	refused := false
	var lines string
	for i := 0; i < 15 && !refused; i++ {
		if err := submit(first, "add10"); err != nil {
			t.Fatalf("add 10: %v", err)
		}
		cookies, err := sessionCookiesOf(first, base)
		if err != nil {
			t.Fatal(err)
		}
		if len(cookies) > 1 {
			chunked = true
		}
		errs, err := chromedp.Run(first,
			chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#error")).map(e => e.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) > 0 {
			refused = true
			if !strings.Contains(errs[0], "cart is full") {
				t.Errorf("refusal message %q", errs[0])
			}
			if !chunked {
				t.Error("refused before the session was chunked")
			}
			now, err := text(first, "cart-count")
			if err != nil {
				t.Fatal(err)
			}
			if now != lines {
				t.Errorf("the refused add changed the cart from %s to %s lines", lines, now)
			}
		} else if lines, err = text(first, "cart-count"); err != nil {
			t.Fatal(err)
		}
	}
	if !chunked || !refused {
		t.Fatalf("chunked %v, refused %v after filling the cart", chunked, refused)
	}
	if who := whoAmI(t, first, base); who != "alice" {
		t.Errorf("after the refusal the page says %q, want alice still signed in", who)
	}

	// Log out: every session cookie is gone.
	if err := submit(first, "logout"); err != nil {
		t.Fatal(err)
	}
	if cookies, err := sessionCookiesOf(first, base); err != nil || len(cookies) != 0 {
		t.Errorf("after logout the browser still holds %d session cookies (%v)", len(cookies), err)
	}
	if who := whoAmI(t, first, base); who != "not signed in" {
		t.Errorf("after logout the page says %q", who)
	}

	// Log in again here, and in a second, separate browser context; "log
	// out everywhere" there ends the first context's session too.
	browserLogin(t, first, base, "alice", "correct-horse-alice")
	second, cancelSecond := chromedp.NewContext(first, chromedp.WithNewBrowserContext())
	defer cancelSecond()
	if cookies, err := sessionCookiesOf(second, base); err != nil || len(cookies) != 0 {
		t.Fatalf("the second browser context shares cookies with the first (%d, %v)", len(cookies), err)
	}
	browserLogin(t, second, base, "alice", "correct-horse-alice")
	if err := chromedp.Do(second, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if err := submit(second, "logout-everywhere"); err != nil {
		t.Fatal(err)
	}
	if who := whoAmI(t, second, base); who != "not signed in" {
		t.Errorf("second context after log out everywhere: %q", who)
	}
	if who := whoAmI(t, first, base); who != "not signed in" {
		t.Errorf("first context after log out everywhere in the second: %q, want its session ended", who)
	}
	if cookies, err := sessionCookiesOf(first, base); err != nil || len(cookies) != 0 {
		t.Errorf("the first context's refused cookies were not cleared: %d (%v)", len(cookies), err)
	}
}
