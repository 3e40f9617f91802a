package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/sealed"
)

// openJar opens the session the client's cookies carry, with the test's
// key ring, the way httpx does (SPEC "Cookie names and chunks"), and
// returns its payload and the sealed text.
func openJar(t *testing.T, keys string, jar map[string]string) (*codec.Payload, string) {
	t.Helper()
	ring, err := sealed.ParseKeyring(keys)
	require.NoError(t, err)
	sl, err := sealed.NewSealer(ring, "sealedsession/session", nil)
	require.NoError(t, err)
	var text strings.Builder
	n := 0
	for _, name := range chunkNames("__Host-session") {
		v, ok := jar[name]
		if !ok {
			break
		}
		text.WriteString(v)
		n++
	}
	ctx := append([]byte("__Host-session"), 0, byte(n))
	pt, _, err := sl.Open(nil, []byte(text.String()), ctx)
	require.NoError(t, err, "open the session cookie")
	p, err := codec.Decode(pt, nil)
	require.NoError(t, err)
	return p, text.String()
}

var (
	partRE  = regexp.MustCompile(`<rect class="part" data-part="([a-z0-9]+)" data-bytes="([0-9]+)"`)
	barRE   = regexp.MustCompile(`<svg id="cookie-bar" class="bar" data-total="([0-9]+)" data-header-bytes="([0-9]+)" data-chunks="([0-9]+)"`)
	cutRE   = regexp.MustCompile(`<line class="chunk-cut"`)
	valueRE = regexp.MustCompile(`<tr class="value" data-name="([^"]+)"><td><code>[^<]*</code></td><td class="num">([0-9]+) B</td><td class="num">([0-9]+) B</td>\s*<td>(.*?)</td></tr>`)
)

type barFacts struct {
	parts       map[string]int
	order       []string
	sum         int
	total       int
	headerBytes int
	chunks      int
	cuts        int
}

func parseBar(t *testing.T, page string) barFacts {
	t.Helper()
	m := barRE.FindStringSubmatch(page)
	require.NotNil(t, m, "no cookie bar in the page:\n%s", page)
	f := barFacts{parts: make(map[string]int), cuts: len(cutRE.FindAllString(page, -1))}
	f.total, _ = strconv.Atoi(m[1])
	f.headerBytes, _ = strconv.Atoi(m[2])
	f.chunks, _ = strconv.Atoi(m[3])
	for _, p := range partRE.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.Atoi(p[2])
		f.parts[p[1]] = n
		f.order = append(f.order, p[1])
		f.sum += n
	}
	return f
}

func TestInsidePanel(t *testing.T) {
	h, keys := newTestApp(t, nil)
	c := newClient(t, h)

	res := c.do(http.MethodGet, "/inside", nil, nil)
	page := body(t, res)
	require.Equal(t, http.StatusOK, res.StatusCode, "anonymous /inside")
	require.Contains(t, page, `id="no-session"`, "anonymous /inside: no 'no session' note")
	assert.Empty(t, c.last, "anonymous /inside set a cookie")
	assert.Contains(t, body(t, c.do(http.MethodGet, "/", nil, nil)), `<a href="/inside" id="inside-link">`, "the home page does not link to /inside")

	c.login("alice", "correct-horse-alice")
	c.do(http.MethodPost, "/cart/add", url.Values{"sku": {"TEA"}}, nil)
	res = c.do(http.MethodGet, "/inside", nil, nil)
	page = body(t, res)
	p, text := openJar(t, keys, c.jar)
	hdr := p.Header()

	want := map[string]string{
		`<code id="inside-tag">`:                    hdr.ID.Tag() + `</code>`,
		`<td id="inside-user">`:                     `<code>alice</code>`,
		`<td id="inside-generation">`:               "1 ",
		`<td id="inside-epoch">`:                    "0 ",
		`<td id="inside-issued">`:                   hdr.IssuedAt.UTC().Format("2006-01-02 15:04:05 UTC"),
		`<td id="inside-last-seen">`:                hdr.LastSeen.UTC().Format("2006-01-02 15:04:05 UTC"),
		`<strong class="countdown" data-deadline="`: "",
	}
	for k, v := range want {
		assert.Contains(t, page, k+v, "the panel")
	}
	assert.Regexp(t, regexp.MustCompile(`<td id="inside-idle">[^<]+ <strong class="countdown" data-deadline="[^"]+">in 9m [0-9]{2}s</strong>`), page, "no idle countdown of about 10 minutes")
	assert.Regexp(t, regexp.MustCompile(`<td id="inside-absolute">[^<]+ <strong class="countdown" data-deadline="[^"]+">in 59m [0-9]{2}s</strong>`), page, "no absolute countdown of about 1 hour")

	// Each value with its size and owner, as the cookie really holds it.
	rows := valueRE.FindAllStringSubmatch(page, -1)
	require.Len(t, rows, len(p.Names()), "value rows; the cookie holds %v", p.Names())
	for i, row := range rows {
		name := p.Names()[i]
		raw, _ := p.Raw(name)
		assert.Equal(t, name, row[1], "value row %d: name", i)
		assert.Equal(t, strconv.Itoa(len(raw)), row[2], "value row %q: bytes", name)
		assert.Equal(t, strconv.Itoa(1+len(name)+uvarintLen(len(raw))+len(raw)), row[3], "value row %q: entry bytes", name)
		lib := strings.Contains(row[4], "the library's own")
		assert.Equal(t, strings.HasPrefix(name, "_"), lib, "value %q labelled %q", name, row[4])
	}
	assert.Contains(t, page, `data-name="cart"`, "the values table lacks cart (cookie: %v)", p.Names())
	assert.Contains(t, page, `data-name="_bind"`, "the values table lacks _bind (cookie: %v)", p.Names())

	// Nothing beyond the tag: not the ID, not the sealed cookie, not the key.
	id := hdr.ID.String()
	for what, secret := range map[string]string{
		"session ID": id, "session ID (upper case)": strings.ToUpper(id),
		"session ID (base64)": base64.RawURLEncoding.EncodeToString(hdr.ID[:]),
		"sealed cookie":       text[:40], "key": keys,
	} {
		// Compared, not printed: secrets.
		assert.False(t, strings.Contains(page, secret), "the page shows the %s", what)
	}

	bar := parseBar(t, page)
	assert.Equal(t, "header,values,aead,base64,name,attrs,line", strings.Join(bar.order, ","), "bar parts")
	assert.Equal(t, hdr.EncodedLen(), bar.parts["header"], "bar header bytes, from the payload")
	assert.Equal(t, p.EncodedLen()-hdr.EncodedLen(), bar.parts["values"], "bar values bytes, from the payload")
	assert.Equal(t, 45, bar.parts["aead"], "AEAD overhead, want 1+4+24+16")
	assert.Contains(t, page, `budget-line`, "the budget is not marked")
	assert.Contains(t, page, `budget 2816 B`, "the budget is not marked")

	// Log out everywhere on another device and back in: epoch 1.
	phone := newClient(t, h)
	phone.login("alice", "correct-horse-alice")
	phone.do(http.MethodPost, "/logout-everywhere", url.Values{}, nil)
	c.login("alice", "correct-horse-alice")
	assert.Contains(t, body(t, c.do(http.MethodGet, "/inside", nil, nil)), `<td id="inside-epoch">1 `, "the epoch did not rise to 1 after log out everywhere")
}

// The bar's parts add up to Session.HeaderBytes, its sealed-text parts to
// the cookie values the browser holds, and its total to the Set-Cookie
// lines of the response, but for the Max-Age digits the budget reserves;
// from one cookie through chunks to the budget.
func TestInsideBytesAddUp(t *testing.T) {
	clock := testkit.NewClock()
	h, keys := newTestApp(t, func(c *config) { c.MaxHeaderBytes = 12288; c.Now = clock.Now })
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	sawChunks := false
	for i := 0; i < 40; i++ {
		loc := addTen(t, c)
		// Past the renew threshold: the /inside response re-issues the
		// cookie, so its Set-Cookie lines can be compared.
		clock.Advance(2 * time.Minute)
		res := c.do(http.MethodGet, "/inside", nil, nil)
		page := body(t, res)
		bar := parseBar(t, page)
		require.Equal(t, bar.total, bar.sum, "step %d: parts add up vs the total", i)
		require.Equal(t, bar.headerBytes, bar.sum, "step %d: parts add up vs Session.HeaderBytes", i)
		p, text := openJar(t, keys, c.jar)
		require.Equal(t, len(text), bar.parts["header"]+bar.parts["values"]+bar.parts["aead"]+bar.parts["base64"], "step %d: sealed-text parts vs the characters the browser holds", i)
		require.Equal(t, p.EncodedLen(), bar.parts["header"]+bar.parts["values"], "step %d: payload parts vs the payload", i)
		lines, sent, reserve := 0, 0, 0
		for _, l := range res.Header.Values("Set-Cookie") {
			sent += len("Set-Cookie: ") + len(l) + 2
			lines++
			for _, a := range strings.Split(l, "; ") {
				if age, ok := strings.CutPrefix(a, "Max-Age="); ok {
					reserve += 10 - len(age)
				}
			}
		}
		require.NotZero(t, lines, "step %d: /inside did not renew the cookie", i)
		require.Equal(t, bar.chunks, lines, "step %d: Set-Cookie lines vs the bar's chunks", i)
		require.Equal(t, bar.total, sent+reserve, "step %d: the response's Set-Cookie lines (%d bytes + %d of Max-Age reserve) vs the bar's total", i, sent, reserve)
		require.Equal(t, bar.chunks-1, bar.cuts, "step %d: chunk boundaries for %d chunks", i, bar.chunks)
		if bar.chunks > 1 {
			sawChunks = true
		}
		if loc == "/cart?msg=full" {
			break
		}
	}
	require.True(t, sawChunks, "the session was never chunked")

	// Emptying the cart clears the stale chunks; the bar's clearing
	// lines are counted as the response writes them.
	before := httptest.NewRequest(http.MethodPost, "/cart/clear", nil)
	before.Header.Set("Cookie", c.cookieHeader())
	res := c.do(http.MethodPost, "/cart/clear", url.Values{}, nil)
	cleared := 0
	for _, l := range res.Header.Values("Set-Cookie") {
		if strings.Contains(l, "; Max-Age=0;") {
			cleared += len("Set-Cookie: ") + len(l) + 2
		}
	}
	ip := &insidePage{secure: true, maxChunks: httpx.DefaultMaxChunks}
	got := ip.clearBytes(before, chunkNames("__Host-session"), 1)
	assert.NotZero(t, cleared, "clearing lines: the response wrote none")
	assert.Equal(t, cleared, got, "clearing lines: computed bytes vs what the response wrote")
	n, _ := sessionCookies(c.jar)
	assert.Equal(t, 1, n, "session cookies after emptying the cart")
}

func TestSplitBytes(t *testing.T) {
	names := chunkNames("__Host-session")
	ps := splitBytes(sizes{header: 52, payload: 4000, names: names[:2], attrs: 60, clearLines: 100})
	got := map[string]int{}
	sum := 0
	for _, p := range ps {
		got[p.Key] = p.Bytes
		sum += p.Bytes
	}
	sealedLen := sealed.SealedLen(4000)
	want := map[string]int{
		"header": 52, "values": 3948, "aead": 45, "base64": sealedLen - 4045,
		"name": len("__Host-session=") + len("__Host-session-1="), "attrs": 120, "line": 28, "clear": 100,
	}
	for k, v := range want {
		assert.Equal(t, v, got[k], k)
	}
	assert.Equal(t, sealedLen+len("__Host-session=")+len("__Host-session-1=")+2*(60+14)+100, sum, "parts add up")
	bar := layoutBar(ps, names[:2], 12288, sum)
	if assert.Len(t, bar.Cuts, 1, "bar cuts") {
		assert.Equal(t, "__Host-session-1", bar.Cuts[0].Name, "bar cut")
	}
	assert.Equal(t, (sealedLen+1)/2, bar.ChunkSize, "bar chunk size")
	assert.Equal(t, 12288-sum, bar.Left, "bar left")
	last := bar.Parts[len(bar.Parts)-1]
	x, _ := strconv.ParseFloat(last.X, 64)
	assert.Less(t, x, float64(barLeft+barWidth), "the upper bar's last part start")
	end, _ := strconv.ParseFloat(last.BX, 64)
	assert.LessOrEqual(t, end, barLeft+barWidth*float64(sum)/12288, "the budget bar's last part starts past the total")
	// Over the budget, the bar is scaled to the total and the budget line
	// falls inside it.
	over := layoutBar(splitBytes(sizes{header: 52, payload: 4000, names: names[:2], attrs: 60}), names[:2], 2816, 0)
	budgetX, _ := strconv.ParseFloat(over.BudgetX, 64)
	assert.Less(t, budgetX, float64(barWidth), "budget line on a bar over budget")
}

func TestCountdownAndWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "passed", -time.Second: "passed", 59 * time.Second: "in 0m 59s",
		29*time.Minute + 5*time.Second: "in 29m 05s", 23*time.Hour + 59*time.Minute + 59*time.Second: "in 23h 59m 59s",
	} {
		assert.Equal(t, want, countdown(d), "countdown(%v)", d)
	}
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", time.Minute: "1 minute", 24 * time.Hour: "1 day", time.Hour: "1 hour",
		90 * time.Minute: "1 hour 30 minutes", 30 * time.Second: "30 seconds", 48 * time.Hour: "2 days",
	} {
		assert.Equal(t, want, inWords(d), "inWords(%v)", d)
	}
}

// The countdown script and the stylesheet run under the page's CSP: it
// allows them by hash, and html/template left their text as it is.
func TestInsideCSPHashes(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	res := c.do(http.MethodGet, "/inside", nil, nil)
	page := body(t, res)
	csp := res.Header.Get("Content-Security-Policy")
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(page, -1)
		require.Len(t, m, 1, "<%s> elements", tag)
		sum := sha256.Sum256([]byte(m[0][1]))
		hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		assert.Contains(t, csp, tag+"-src "+hash, "CSP does not allow the page's %s", tag)
	}
	assert.NotContains(t, csp, "unsafe-inline", "CSP")
}
