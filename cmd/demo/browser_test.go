package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

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

// serveDemo runs the demo on a loopback port and returns its base URL.
func serveDemo(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
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

// TestBrowser drives the demo with headless Chromium over plain http on
// 127.0.0.1 (a secure context for cookies, so __Host- and Secure work).
func TestBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("SEALEDSESSION_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("no chromium binary found (looked for chromium, chromium-browser, google-chrome; or set CHROMIUM) and SEALEDSESSION_REQUIRE_CHROMIUM=1")
		}
		t.Skip("skipping the browser test: no chromium binary found (install Debian's chromium, or set CHROMIUM=/path; SEALEDSESSION_REQUIRE_CHROMIUM=1 makes this a failure)")
	}
	h, _ := newTestApp(t, nil)
	base := serveDemo(t, h)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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
