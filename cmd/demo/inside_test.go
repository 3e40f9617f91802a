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
	if err != nil {
		t.Fatal(err)
	}
	sl, err := sealed.NewSealer(ring, "sealedsession/session", nil)
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatalf("open the session cookie: %v", err)
	}
	p, err := codec.Decode(pt, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	if m == nil {
		t.Fatalf("no cookie bar in the page:\n%s", page)
	}
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
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="no-session"`) {
		t.Fatalf("anonymous /inside: %s, no 'no session' note", res.Status)
	}
	if len(c.last) != 0 {
		t.Errorf("anonymous /inside set a cookie: %v", c.last)
	}
	if !strings.Contains(body(t, c.do(http.MethodGet, "/", nil, nil)), `<a href="/inside" id="inside-link">`) {
		t.Error("the home page does not link to /inside")
	}

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
		if !strings.Contains(page, k+v) {
			t.Errorf("the panel lacks %s%s", k, v)
		}
	}
	if !regexp.MustCompile(`<td id="inside-idle">[^<]+ <strong class="countdown" data-deadline="[^"]+">in 9m [0-9]{2}s</strong>`).MatchString(page) {
		t.Error("no idle countdown of about 10 minutes")
	}
	if !regexp.MustCompile(`<td id="inside-absolute">[^<]+ <strong class="countdown" data-deadline="[^"]+">in 59m [0-9]{2}s</strong>`).MatchString(page) {
		t.Error("no absolute countdown of about 1 hour")
	}

	// Each value with its size and owner, as the cookie really holds it.
	rows := valueRE.FindAllStringSubmatch(page, -1)
	if len(rows) != len(p.Names()) {
		t.Fatalf("%d value rows, the cookie holds %v", len(rows), p.Names())
	}
	for i, row := range rows {
		name := p.Names()[i]
		raw, _ := p.Raw(name)
		if row[1] != name || row[2] != strconv.Itoa(len(raw)) || row[3] != strconv.Itoa(1+len(name)+uvarintLen(len(raw))+len(raw)) {
			t.Errorf("value row %q %s B entry %s B; the cookie has %q, %d bytes", row[1], row[2], row[3], name, len(raw))
		}
		lib := strings.Contains(row[4], "the library's own")
		if lib != strings.HasPrefix(name, "_") {
			t.Errorf("value %q labelled %q", name, row[4])
		}
	}
	if !strings.Contains(page, `data-name="cart"`) || !strings.Contains(page, `data-name="_bind"`) {
		t.Errorf("the values table lacks cart or _bind (cookie: %v)", p.Names())
	}

	// Nothing beyond the tag: not the ID, not the sealed cookie, not the key.
	id := hdr.ID.String()
	for what, secret := range map[string]string{
		"session ID": id, "session ID (upper case)": strings.ToUpper(id),
		"session ID (base64)": base64.RawURLEncoding.EncodeToString(hdr.ID[:]),
		"sealed cookie":       text[:40], "key": keys,
	} {
		if strings.Contains(page, secret) {
			t.Errorf("the page shows the %s", what)
		}
	}

	bar := parseBar(t, page)
	if got := strings.Join(bar.order, ","); got != "header,values,aead,base64,name,attrs,line" {
		t.Errorf("bar parts %s", got)
	}
	if bar.parts["header"] != hdr.EncodedLen() || bar.parts["values"] != p.EncodedLen()-hdr.EncodedLen() {
		t.Errorf("header %d values %d; the payload has %d and %d", bar.parts["header"], bar.parts["values"], hdr.EncodedLen(), p.EncodedLen()-hdr.EncodedLen())
	}
	if bar.parts["aead"] != 45 {
		t.Errorf("AEAD overhead %d, want 1+4+24+16", bar.parts["aead"])
	}
	if !strings.Contains(page, `budget-line`) || !strings.Contains(page, `budget 2816 B`) {
		t.Error("the budget is not marked")
	}

	// Log out everywhere on another device and back in: epoch 1.
	phone := newClient(t, h)
	phone.login("alice", "correct-horse-alice")
	phone.do(http.MethodPost, "/logout-everywhere", url.Values{}, nil)
	c.login("alice", "correct-horse-alice")
	if page := body(t, c.do(http.MethodGet, "/inside", nil, nil)); !strings.Contains(page, `<td id="inside-epoch">1 `) {
		t.Error("the epoch did not rise to 1 after log out everywhere")
	}
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
		if bar.sum != bar.total || bar.sum != bar.headerBytes {
			t.Fatalf("step %d: parts add up to %d, total says %d, Session.HeaderBytes %d", i, bar.sum, bar.total, bar.headerBytes)
		}
		p, text := openJar(t, keys, c.jar)
		if st := bar.parts["header"] + bar.parts["values"] + bar.parts["aead"] + bar.parts["base64"]; st != len(text) {
			t.Fatalf("step %d: sealed-text parts %d, the browser holds %d characters", i, st, len(text))
		}
		if bar.parts["header"]+bar.parts["values"] != p.EncodedLen() {
			t.Fatalf("step %d: payload parts %d, payload %d", i, bar.parts["header"]+bar.parts["values"], p.EncodedLen())
		}
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
		if lines == 0 {
			t.Fatalf("step %d: /inside did not renew the cookie", i)
		}
		if lines != bar.chunks {
			t.Fatalf("step %d: %d Set-Cookie lines, bar says %d chunks", i, lines, bar.chunks)
		}
		if sent+reserve != bar.total {
			t.Fatalf("step %d: the response's Set-Cookie lines are %d bytes + %d of Max-Age reserve, the bar says %d", i, sent, reserve, bar.total)
		}
		if bar.cuts != bar.chunks-1 {
			t.Fatalf("step %d: %d chunk boundaries for %d chunks", i, bar.cuts, bar.chunks)
		}
		if bar.chunks > 1 {
			sawChunks = true
		}
		if loc == "/cart?msg=full" {
			break
		}
	}
	if !sawChunks {
		t.Fatal("the session was never chunked")
	}

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
	if got := ip.clearBytes(before, chunkNames("__Host-session"), 1); cleared == 0 || got != cleared {
		t.Errorf("clearing lines: computed %d bytes, the response wrote %d", got, cleared)
	}
	if n, _ := sessionCookies(c.jar); n != 1 {
		t.Errorf("%d session cookies after emptying the cart", n)
	}
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
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if sum != sealedLen+len("__Host-session=")+len("__Host-session-1=")+2*(60+14)+100 {
		t.Errorf("parts add up to %d", sum)
	}
	bar := layoutBar(ps, names[:2], 12288, sum)
	if len(bar.Cuts) != 1 || bar.Cuts[0].Name != "__Host-session-1" || bar.ChunkSize != (sealedLen+1)/2 || bar.Left != 12288-sum {
		t.Errorf("bar: cuts %v chunk size %d left %d", bar.Cuts, bar.ChunkSize, bar.Left)
	}
	last := bar.Parts[len(bar.Parts)-1]
	if x, _ := strconv.ParseFloat(last.X, 64); x >= barLeft+barWidth {
		t.Errorf("the upper bar's last part starts at %v", x)
	}
	if end, _ := strconv.ParseFloat(last.BX, 64); end > barLeft+barWidth*float64(sum)/12288 {
		t.Errorf("the budget bar's last part starts at %v, past the total", end)
	}
	// Over the budget, the bar is scaled to the total and the budget line
	// falls inside it.
	over := layoutBar(splitBytes(sizes{header: 52, payload: 4000, names: names[:2], attrs: 60}), names[:2], 2816, 0)
	if x, _ := strconv.ParseFloat(over.BudgetX, 64); x >= barWidth {
		t.Errorf("budget line at %v on a bar over budget", x)
	}
}

func TestCountdownAndWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "passed", -time.Second: "passed", 59 * time.Second: "in 0m 59s",
		29*time.Minute + 5*time.Second: "in 29m 05s", 23*time.Hour + 59*time.Minute + 59*time.Second: "in 23h 59m 59s",
	} {
		if got := countdown(d); got != want {
			t.Errorf("countdown(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", time.Minute: "1 minute", 24 * time.Hour: "1 day", time.Hour: "1 hour",
		90 * time.Minute: "1 hour 30 minutes", 30 * time.Second: "30 seconds", 48 * time.Hour: "2 days",
	} {
		if got := inWords(d); got != want {
			t.Errorf("inWords(%v) = %q, want %q", d, got, want)
		}
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
		if len(m) != 1 {
			t.Fatalf("%d <%s> elements", len(m), tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, tag+"-src "+h) {
			t.Errorf("CSP %q does not allow the page's %s (%s)", csp, tag, h)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}
