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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newBrowser starts headless Chromium for one test, or skips the test as
// TestBrowser does when there is none.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("SEALEDSESSION_REQUIRE_CHROMIUM") == "1" {
			require.FailNow(t, "no chromium binary found and SEALEDSESSION_REQUIRE_CHROMIUM=1")
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
	require.NoError(t, chromedp.Do(bctx), "start %s", chromium)
	return bctx
}

// screenshotDir is where the test's screenshots go:
// $SEALEDSESSION_SCREENSHOT_DIR if set, else the test's artifact directory
// (kept under -outputdir with go test -artifacts, removed otherwise).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SEALEDSESSION_SCREENSHOT_DIR"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.ArtifactDir()
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err, "screenshot")
	path := filepath.Join(screenshotDir(t), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
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
	require.NoError(t, err, "no cookie bar on /inside")
	require.NotNil(t, bar, "no cookie bar on /inside")
	var names []string
	sum := 0
	for _, p := range bar.Parts {
		names = append(names, p.Part)
		sum += p.Bytes
		assert.Positive(t, p.Width, "bar part %s: drawn width", p.Part)
		assert.Positive(t, p.Bytes, "bar part %s: bytes", p.Part)
	}
	assert.Equal(t, "header,values,aead,base64,name,attrs,line", strings.Join(names, ","), "bar parts")
	assert.Equal(t, bar.HeaderBytes, sum, "bar parts add up to Session.HeaderBytes")
	assert.GreaterOrEqual(t, bar.Width, 300.0, "bar width (px)")
	assert.True(t, bar.Budget, "budget marked on the bar")
	assert.Equal(t, chunks, bar.Chunks, "bar chunks; the browser holds %d cookies", chunks)
	assert.Equal(t, chunks-1, bar.Cuts, "bar chunk boundaries; the browser holds %d cookies", chunks)
}

// TestBrowserInsidePanel checks "Inside your session" in Chromium: the
// header fields, the tag and never the ID or the cookie, the live
// countdowns (the script runs under the page's CSP), and the SVG bar, for
// one cookie and for a chunked session; with screenshots of both.
func TestBrowserInsidePanel(t *testing.T) {
	ctx := newBrowser(t)
	base := startDemo(t)

	browserLogin(t, ctx, base, "alice", "correct-horse-alice")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/cart")))
	require.NoError(t, submit(ctx, "add"))
	require.NoError(t, submit(ctx, "inside-link"), "follow the 'Inside your session' link")

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
		require.NoError(t, err, "#%s", id)
		assert.Regexp(t, re, got, "#%s", id)
	}
	values, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("tr.value")).map(r => r.dataset.name + ": " + r.cells[3].textContent)`))
	require.NoError(t, err)
	joined := strings.Join(values, "\n")
	assert.Contains(t, joined, "cart: yours", "values table")
	assert.Contains(t, joined, "_bind: the library's own", "values table")

	// The countdowns are live: the script ran (the CSP allowed it).
	idle0, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#inside-idle .countdown")))
	live := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		live, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#inside [data-live="1"]').length`))
		require.NoError(t, err)
		if idle, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#inside-idle .countdown"))); live == 2 && idle != idle0 {
			break
		}
	}
	assert.Equal(t, 2, live, "live countdowns: did the CSP block the script?")

	// The tag, never the ID (32 hex digits) nor the sealed cookie.
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	require.NoError(t, err)
	assert.Empty(t, hex32RE.FindString(html), "the page shows 32 hex digits (a session ID?)")
	cookies, err := sessionCookiesOf(ctx, base)
	require.NoError(t, err, "session cookies")
	require.Len(t, cookies, 1, "session cookies")
	assert.NotContains(t, html, cookies[0].Value[:32], "the page shows the sealed cookie")
	checkBar(t, ctx, 1)
	screenshot(t, ctx, "inside-one-cookie.png")

	// Fill the cart until the session is chunked.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/cart")))
	for i := 0; i < 15 && len(cookies) < 2; i++ {
		require.NoError(t, submit(ctx, "add10"))
		cookies, err = sessionCookiesOf(ctx, base)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, len(cookies), 2, "the session was never chunked")
	require.NoError(t, submit(ctx, "inside-link"))
	cookies, err = sessionCookiesOf(ctx, base)
	require.NoError(t, err)
	checkBar(t, ctx, len(cookies))
	n, err := text(ctx, "chunk-count")
	assert.NoError(t, err, "chunk count")
	assert.Equal(t, strconv.Itoa(len(cookies)), n, "chunk count; the browser holds %d cookies", len(cookies))
	screenshot(t, ctx, "inside-chunked.png")

	// A forged cookie: the next page says so in words, in the warning
	// box (amber, not the green notice), once.
	forged := []byte(cookies[0].Value)
	if i := len(forged) / 2; forged[i] == 'A' { // still base64url: it fails authentication
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	_, err = chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		yes := true
		return cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
			Name: cookies[0].Name, Value: string(forged), URL: base + "/", Path: "/",
			Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax,
		})
	})
	require.NoError(t, err, "plant a forged cookie")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/")))
	warning, err := text(ctx, "warning")
	assert.NoError(t, err, "the warning after a forged cookie")
	assert.Contains(t, warning, "damaged or forged", "the warning after a forged cookie")
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("warning")).backgroundColor`))
	assert.NoError(t, err, "warning box background")
	assert.Equal(t, "rgb(255, 244, 229)", bg, "warning box background: want the amber")
	screenshot(t, ctx, "warning.png")
	assert.Equal(t, "not signed in", whoAmI(t, ctx, base), "who the page says with a forged cookie")
	warnings, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#warning").length`))
	assert.NoError(t, err, "warnings on the next page")
	assert.Zero(t, warnings, "the warning shows again on the next page")
}
