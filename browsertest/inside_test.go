package browsertest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// newBrowser starts headless Chromium for one test, or skips the test as
// TestBrowser does when there is none.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("SEALEDSESSION_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("no chromium binary found and SEALEDSESSION_REQUIRE_CHROMIUM=1")
		}
		t.Skip("skipping the browser test: no chromium binary found (install Debian's chromium, or set CHROMIUM=/path)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return bctx
}

// screenshotDir is where the test's screenshots go:
// $SEALEDSESSION_SCREENSHOT_DIR if set, else the test's artifact directory
// (kept under -outputdir with go test -artifacts, removed otherwise).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SEALEDSESSION_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if f := flag.Lookup("test.artifacts"); os.Getenv("SEALEDSESSION_SCREENSHOT_DIR") == "" && (f == nil || f.Value.String() != "true") {
		t.Logf("screenshot: %s (removed after the test: keep it with go test -artifacts or SEALEDSESSION_SCREENSHOT_DIR)", path)
		return
	}
	t.Logf("screenshot: %s", path)
}

// barPart is one rect of the cookie bar as the browser lays it out.
type barPart struct {
	Part  string  `json:"part"`
	Bytes int     `json:"bytes"`
	Width float64 `json:"width"`
}

type barInfo struct {
	Parts       []barPart `json:"parts"`
	HeaderBytes int       `json:"headerBytes"`
	Chunks      int       `json:"chunks"`
	Cuts        int       `json:"cuts"`
	Width       float64   `json:"width"`
	Budget      bool      `json:"budget"`
}

const readBar = `(() => {
	const svg = document.getElementById("cookie-bar");
	if (!svg) return null;
	return {
		parts: Array.from(svg.querySelectorAll("rect.part")).map(r => ({part: r.dataset.part, bytes: +r.dataset.bytes, width: r.getBBox().width})),
		headerBytes: +svg.dataset.headerBytes,
		chunks: +svg.dataset.chunks,
		cuts: svg.querySelectorAll("line.chunk-cut").length,
		width: svg.getBoundingClientRect().width,
		budget: !!document.getElementById("budget-line"),
	};
})()`

var (
	tagRE   = regexp.MustCompile(`^[0-9a-f]{8}$`)
	timeRE  = regexp.MustCompile(`^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC$`)
	hex32RE = regexp.MustCompile(`[0-9a-fA-F]{32}`)
)

// checkBar checks the SVG bar of the page shown: every part present in
// order, drawn, adding up to Session.HeaderBytes, the budget marked and
// one boundary per chunk cut.
func checkBar(t *testing.T, ctx context.Context, chunks int) {
	t.Helper()
	bar, err := chromedp.Run(ctx, chromedp.Evaluate[*barInfo](readBar))
	if err != nil || bar == nil {
		t.Fatalf("no cookie bar on /inside (%v)", err)
	}
	var names []string
	sum := 0
	for _, p := range bar.Parts {
		names = append(names, p.Part)
		sum += p.Bytes
		if p.Width <= 0 || p.Bytes <= 0 {
			t.Errorf("bar part %s: %d bytes drawn %.1f wide", p.Part, p.Bytes, p.Width)
		}
	}
	if got := strings.Join(names, ","); got != "header,values,aead,base64,name,attrs,line" {
		t.Errorf("bar parts %s", got)
	}
	if sum != bar.HeaderBytes {
		t.Errorf("bar parts add up to %d, Session.HeaderBytes is %d", sum, bar.HeaderBytes)
	}
	if bar.Width < 300 || !bar.Budget {
		t.Errorf("bar %.0f px wide, budget marked %v", bar.Width, bar.Budget)
	}
	if bar.Chunks != chunks || bar.Cuts != chunks-1 {
		t.Errorf("bar: %d chunks with %d boundaries; the browser holds %d cookies", bar.Chunks, bar.Cuts, chunks)
	}
}

// TestBrowserInsidePanel checks "Inside your session" in Chromium: the
// header fields, the tag and never the ID or the cookie, the live
// countdowns (the script runs under the page's CSP), and the SVG bar, for
// one cookie and for a chunked session; with screenshots of both.
func TestBrowserInsidePanel(t *testing.T) {
	ctx := newBrowser(t)
	base := startDemo(t)

	browserLogin(t, ctx, base, "alice", "correct-horse-alice")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cart")); err != nil {
		t.Fatal(err)
	}
	if err := submit(ctx, "add"); err != nil {
		t.Fatal(err)
	}
	if err := submit(ctx, "inside-link"); err != nil {
		t.Fatalf("follow the 'Inside your session' link: %v", err)
	}

	fields := map[string]*regexp.Regexp{
		"inside-tag":        tagRE,
		"inside-user":       regexp.MustCompile(`^alice$`),
		"inside-generation": regexp.MustCompile(`^1 `),
		"inside-epoch":      regexp.MustCompile(`^0 `),
		"inside-issued":     timeRE,
		"inside-last-seen":  timeRE,
		"inside-idle":       regexp.MustCompile(`UTC in 29m [0-9]{2}s`),
		"inside-absolute":   regexp.MustCompile(`UTC in 2[34]h [0-9]{2}m [0-9]{2}s`),
	}
	for id, re := range fields {
		got, err := text(ctx, id)
		if err != nil {
			t.Fatalf("#%s: %v", id, err)
		}
		if !re.MatchString(got) {
			t.Errorf("#%s = %q, want %s", id, got, re)
		}
	}
	values, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("tr.value")).map(r => r.dataset.name + ": " + r.cells[3].textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(values, "\n")
	if !strings.Contains(joined, "cart: yours") || !strings.Contains(joined, "_bind: the library's own") {
		t.Errorf("values table:\n%s", joined)
	}

	// The countdowns are live: the script ran (the CSP allowed it).
	idle0, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#inside-idle .countdown")))
	live := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		live, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#inside [data-live="1"]').length`))
		if err != nil {
			t.Fatal(err)
		}
		if idle, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#inside-idle .countdown"))); live == 2 && idle != idle0 {
			break
		}
	}
	if live != 2 {
		t.Errorf("%d live countdowns, want 2: did the CSP block the script?", live)
	}

	// The tag, never the ID (32 hex digits) nor the sealed cookie.
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	if m := hex32RE.FindString(html); m != "" {
		t.Errorf("the page shows 32 hex digits (a session ID?): %s", m)
	}
	cookies, err := sessionCookiesOf(ctx, base)
	if err != nil || len(cookies) != 1 {
		t.Fatalf("%d session cookies (%v)", len(cookies), err)
	}
	if strings.Contains(html, cookies[0].Value[:32]) {
		t.Error("the page shows the sealed cookie")
	}
	checkBar(t, ctx, 1)
	screenshot(t, ctx, "inside-one-cookie.png")

	// Fill the cart until the session is chunked.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cart")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 15 && len(cookies) < 2; i++ {
		if err := submit(ctx, "add10"); err != nil {
			t.Fatal(err)
		}
		if cookies, err = sessionCookiesOf(ctx, base); err != nil {
			t.Fatal(err)
		}
	}
	if len(cookies) < 2 {
		t.Fatal("the session was never chunked")
	}
	if err := submit(ctx, "inside-link"); err != nil {
		t.Fatal(err)
	}
	if cookies, err = sessionCookiesOf(ctx, base); err != nil {
		t.Fatal(err)
	}
	checkBar(t, ctx, len(cookies))
	n, err := text(ctx, "chunk-count")
	if err != nil || n != strconv.Itoa(len(cookies)) {
		t.Errorf("chunk count %q (%v), the browser holds %d cookies", n, err, len(cookies))
	}
	screenshot(t, ctx, "inside-chunked.png")

	// A forged cookie: the next page says so in words, in the warning
	// box (amber, not the green notice), once.
	forged := []byte(cookies[0].Value)
	if i := len(forged) / 2; forged[i] == 'A' { // still base64url: it fails authentication
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		yes := true
		return cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
			Name: cookies[0].Name, Value: string(forged), URL: base + "/", Path: "/",
			Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax,
		})
	}); err != nil {
		t.Fatalf("plant a forged cookie: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	warning, err := text(ctx, "warning")
	if err != nil || !strings.Contains(warning, "damaged or forged") {
		t.Errorf("after a forged cookie the warning says %q (%v)", warning, err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("warning")).backgroundColor`))
	if err != nil || bg != "rgb(255, 244, 229)" {
		t.Errorf("warning box background %q (%v), want the amber rgb(255, 244, 229)", bg, err)
	}
	screenshot(t, ctx, "warning.png")
	if who := whoAmI(t, ctx, base); who != "not signed in" {
		t.Errorf("signed in as %q with a forged cookie", who)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#warning").length`)); err != nil || n != 0 {
		t.Errorf("the warning shows again on the next page (%d, %v)", n, err)
	}
}
