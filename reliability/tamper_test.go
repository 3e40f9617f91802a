package reliability

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// refused sends a Cookie header to /api/session and checks that the demo
// answers with a fresh anonymous session.
func refused(t *testing.T, c *client, header, what string) {
	t.Helper()
	si := c.sessionAs(header)
	require.False(t, si.Authenticated, "%s: accepted: %+v", what, si)
	require.Empty(t, si.User, "%s: accepted: %+v", what, si)
	require.Empty(t, si.Session, "%s: accepted: %+v", what, si)
}

// wantReasons checks the reasons logged since m: exactly want (n = sum).
func wantReasons(t *testing.T, d *demo, m int, want map[string]int) {
	t.Helper()
	n := 0
	for _, v := range want {
		n += v
	}
	got := d.reasons(m, n)
	require.Equal(t, want, got, "rejection reasons")
}

// TestTamperBitFlips flips every bit of a real logged-in session cookie
// and substitutes every character with every other base64url character,
// plus every truncation: each must be refused with the reason its position
// implies (envelope version byte: malformed; key ID: unknown_key; nonce,
// ciphertext, tag: auth_failed).
func TestTamperBitFlips(t *testing.T) {
	d := startDemo(t, demoOpts{})
	c := newClient(t, d.url)
	c.login(alice, alicePassword)
	value := c.snapshot()[cookieName]
	si := c.sessionAs(cookieName + "=" + value)
	require.True(t, si.Authenticated, "control: the untouched cookie is not accepted: %+v", si)
	require.Equal(t, alice, si.User, "control: the untouched cookie is not accepted")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
	require.NoError(t, err)

	t.Run("bits", func(t *testing.T) {
		m := d.mark()
		want := map[string]int{}
		for i := range raw {
			for bit := 0; bit < 8; bit++ {
				b := append([]byte(nil), raw...)
				b[i] ^= 1 << bit
				refused(t, c, cookieName+"="+base64.RawURLEncoding.EncodeToString(b), fmt.Sprintf("byte %d bit %d", i, bit))
				switch {
				case i == 0:
					want["malformed"]++
				case i < 5:
					want["unknown_key"]++
				default:
					want["auth_failed"]++
				}
			}
		}
		wantReasons(t, d, m, want)
		t.Logf("%d single-bit flips of a %d-byte envelope refused: %v", 8*len(raw), len(raw), want)
	})

	t.Run("substitutions", func(t *testing.T) {
		m := d.mark()
		n := 0
		for i := range len(value) {
			for _, r := range b64Alphabet {
				if byte(r) == value[i] {
					continue
				}
				v := value[:i] + string(r) + value[i+1:]
				refused(t, c, cookieName+"="+v, fmt.Sprintf("char %d -> %c", i, r))
				n++
			}
		}
		got := d.reasons(m, n)
		total := 0
		for reason, k := range got {
			total += k
			assert.Contains(t, []string{"malformed", "unknown_key", "auth_failed"}, reason, "substitution refused with an unexpected reason (%d times)", k)
		}
		require.Equal(t, n, total, "%d substitutions: rejections logged: %v", n, got)
		t.Logf("%d character substitutions (%d positions x 63) refused: %v", n, len(value), got)
	})

	t.Run("truncations", func(t *testing.T) {
		m := d.mark()
		for l := 1; l < len(value); l++ {
			refused(t, c, cookieName+"="+value[:l], fmt.Sprintf("first %d characters", l))
		}
		// An empty value is no session at all, not a rejection.
		refused(t, c, cookieName+"=", "empty value")
		got := d.reasons(m, len(value)-1)
		total := 0
		for reason, k := range got {
			total += k
			assert.Contains(t, []string{"malformed", "auth_failed", "unknown_key"}, reason, "truncation refused with an unexpected reason (%d times)", k)
		}
		require.Contains(t, []int{len(value) - 1, len(value)}, total, "%d truncations: rejections logged", len(value)-1)
		t.Logf("%d truncations refused: %v", len(value), got)
	})
	d.alive()
	require.True(t, c.sessionAs(cookieName+"="+value).Authenticated, "after the tampering, the untouched cookie no longer works")
}

// fillCart adds lines until the session is split into two chunk cookies.
func fillCart(t *testing.T, c *client) map[string]string {
	t.Helper()
	for range 20 {
		c.must("POST", "/cart/add", url.Values{"count": {"10"}}, http.StatusSeeOther)
		if s := c.snapshot(); s[cookieName+"-1"] != "" {
			require.Empty(t, s[cookieName+"-2"], "three chunks already: %v", len(s))
			return s
		}
	}
	require.FailNow(t, "the cart never needed two cookies")
	return nil
}

// TestTamperChunks: a two-chunk session with a chunk missing, duplicated,
// swapped, or mixed with another session's chunk is refused.
func TestTamperChunks(t *testing.T) {
	d := startDemo(t, demoOpts{extra: raisedBudget})
	a, b := newClient(t, d.url), newClient(t, d.url)
	a.login(alice, alicePassword)
	b.login(admin, adminPassword)
	ca, cb := fillCart(t, a), fillCart(t, b)
	n0, n1 := cookieName, cookieName+"-1"
	si := a.session()
	require.True(t, si.Authenticated, "control: chunked session not accepted: %+v", si)
	require.Equal(t, alice, si.User, "control: chunked session not accepted")
	cases := []struct {
		name, header, reason string
	}{
		{"second chunk missing (the count is in the AAD)", n0 + "=" + ca[n0], "auth_failed|malformed"},
		{"first chunk missing", n1 + "=" + ca[n1], "chunks"},
		{"first chunk twice", n0 + "=" + ca[n0] + "; " + n0 + "=" + ca[n0] + "; " + n1 + "=" + ca[n1], "chunks"},
		{"second chunk twice", n0 + "=" + ca[n0] + "; " + n1 + "=" + ca[n1] + "; " + n1 + "=" + ca[n1], "chunks"},
		{"chunks swapped", n0 + "=" + ca[n1] + "; " + n1 + "=" + ca[n0], "malformed|auth_failed"},
		{"mixed: first of A, second of B", n0 + "=" + ca[n0] + "; " + n1 + "=" + cb[n1], "auth_failed"},
		{"mixed: first of B, second of A", n0 + "=" + cb[n0] + "; " + n1 + "=" + ca[n1], "auth_failed"},
		{"a third chunk added", n0 + "=" + ca[n0] + "; " + n1 + "=" + ca[n1] + "; " + cookieName + "-2=" + cb[n1], "malformed|auth_failed|chunks"},
		{"second chunk moved to -2", n0 + "=" + ca[n0] + "; " + cookieName + "-2=" + ca[n1], "chunks"},
		{"both values concatenated in one cookie", n0 + "=" + ca[n0] + ca[n1], "auth_failed"},
	}
	for _, tc := range cases {
		m := d.mark()
		refused(t, a, tc.header, tc.name)
		got := d.reasons(m, 1)
		require.Len(t, got, 1, "%s: reasons", tc.name)
		for r := range got {
			assert.Contains(t, strings.Split(tc.reason, "|"), r, "%s: reason", tc.name)
			t.Logf("%s: refused, reason=%s", tc.name, r)
		}
	}
	d.alive()
	require.True(t, a.session().Authenticated, "the untouched chunked session no longer works")
}

// TestTamperNameAndKeys: a cookie under another name (a demo with the same
// keys but the cookie name "session"), and a cookie sealed by a demo with
// another key ring, are refused; the wrong ring by key ID without trying
// the key.
func TestTamperNameAndKeys(t *testing.T) {
	d := startDemo(t, demoOpts{})
	plain := startDemo(t, demoOpts{keys: d.keys, extra: []string{"-insecure-plain-http"}})
	other := startDemo(t, demoOpts{})
	c := newClient(t, d.url)
	c.login(alice, alicePassword)
	value := c.snapshot()[cookieName]

	// The same value on the demo that names its cookie "session": the name
	// is in the AAD, so the same keys do not open it.
	pc := newClient(t, plain.url)
	m := plain.mark()
	refused(t, pc, "session="+value, "moved to the cookie name session")
	wantReasons(t, plain, m, map[string]int{"auth_failed": 1})
	// And back: a "session" cookie of the plain demo under __Host-session.
	pc.login(alice, alicePassword)
	pv := pc.snapshot()["session"]
	require.NotEmpty(t, pv, "plain demo set %v", pc.snapshot())
	m = d.mark()
	refused(t, c, cookieName+"="+pv, "plain demo's cookie under __Host-session")
	wantReasons(t, d, m, map[string]int{"auth_failed": 1})
	// Moved to a chunk name alone.
	m = d.mark()
	refused(t, c, cookieName+"-1="+value, "moved to the -1 chunk name")
	wantReasons(t, d, m, map[string]int{"chunks": 1})
	// Another name entirely is not a session cookie: no session, no event.
	m = d.mark()
	refused(t, c, "session_id="+value+"; sid="+value, "under unrelated names")
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, reasonRE.FindAllString(d.since(m), -1), "unrelated cookie names produced rejections")

	// A cookie from a demo with another key ring.
	oc := newClient(t, other.url)
	oc.login(alice, alicePassword)
	m = d.mark()
	refused(t, c, cookieName+"="+oc.snapshot()[cookieName], "other key ring")
	wantReasons(t, d, m, map[string]int{"unknown_key": 1})
	d.alive()
	plain.alive()
	other.alive()
}

// TestSessionInURLIgnored: a valid session value in the query string, the
// path or a form body is never read.
func TestSessionInURLIgnored(t *testing.T) {
	d := startDemo(t, demoOpts{})
	c := newClient(t, d.url)
	c.login(alice, alicePassword)
	value := c.snapshot()[cookieName]
	anon := newClient(t, d.url)
	m := d.mark()
	for _, p := range []string{
		"/api/session?" + url.Values{cookieName: {value}}.Encode(),
		"/api/session?" + url.Values{"session": {value}, "sid": {value}, "token": {value}}.Encode(),
		"/api/session;" + cookieName + "=" + value,
	} {
		resp, body, err := anon.do("GET", p, nil, nil)
		require.NoError(t, err)
		require.False(t, resp.StatusCode == http.StatusOK && strings.Contains(body, `"authenticated": true`), "%s: authenticated from the URL: %s", p, body)
	}
	// A form body with the cookie name as a field.
	resp, body, err := anon.do("POST", "/cart/add", url.Values{cookieName: {value}, "count": {"1"}}, nil)
	require.NoError(t, err, "POST /cart/add")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "POST /cart/add: %s", body)
	si := anon.session()
	require.False(t, si.Authenticated, "authenticated from a form field: %+v", si)
	require.Empty(t, si.User, "authenticated from a form field: %+v", si)
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, reasonRE.FindAllString(d.since(m), -1), "values in the URL were read as sessions")
	d.alive()
}

// TestHugeCookieHeaders: a 1 MiB Cookie header and thousands of cookies are
// refused fast and the demo's memory stays bounded.
func TestHugeCookieHeaders(t *testing.T) {
	d := startDemo(t, demoOpts{})
	c := newClient(t, d.url)
	c.login(alice, alicePassword)
	value := c.snapshot()[cookieName]
	rss0, _ := d.memory()

	send := func(header string) (int, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, _, err := c.do("GET", "/api/session", nil, &header)
		if err != nil {
			// The server may close the connection while we still write.
			var ne net.Error
			t.Logf("transport error after %v: %v (net.Error %v)", time.Since(start), err, ne)
			return 0, time.Since(start)
		}
		return resp.StatusCode, time.Since(start)
	}
	huge := cookieName + "=" + strings.Repeat("A", 1<<20)
	var worst time.Duration
	const rounds = 50
	for i := 0; i < rounds; i++ {
		code, dur := send(huge)
		worst = max(worst, dur)
		require.Contains(t, []int{http.StatusRequestHeaderFieldsTooLarge, 0}, code, "1 MiB Cookie header: status")
	}
	code, _ := send(huge)
	t.Logf("1 MiB Cookie header x%d: status %d, slowest %v", rounds+1, code, worst)
	assert.LessOrEqual(t, worst, 2*time.Second, "a 1 MiB header took too long to refuse")

	var many []string
	for i := range 5000 {
		many = append(many, fmt.Sprintf("c%d=%d", i, i))
	}
	code, dur := send(strings.Join(many, "; "))
	t.Logf("5000 cookies (%d bytes): status %d in %v", len(strings.Join(many, "; ")), code, dur)
	require.Contains(t, []int{http.StatusRequestHeaderFieldsTooLarge, 0}, code, "5000 cookies: status")

	// Within the demo's 16 KiB header limit: 1500 small cookies plus the
	// real session cookie, which still works, and 1000 duplicated chunk
	// cookies, refused as a broken chunk set.
	many = many[:1500]
	header := strings.Join(append(many, cookieName+"="+value), "; ")
	si := c.sessionAs(header)
	require.True(t, si.Authenticated, "the session among 1500 other cookies (%d bytes) was not read: %+v", len(header), si)
	var dups []string
	for range 1000 {
		dups = append(dups, cookieName+"-1=x")
	}
	m := d.mark()
	refused(t, c, cookieName+"="+value+"; "+strings.Join(dups, "; "), "1000 duplicate chunk cookies")
	wantReasons(t, d, m, map[string]int{"chunks": 1})
	var same []string
	for range 60 {
		same = append(same, cookieName+"="+value)
	}
	m = d.mark()
	refused(t, c, strings.Join(same, "; "), "the session cookie 60 times")
	wantReasons(t, d, m, map[string]int{"chunks": 1})

	d.alive()
	rss1, hwm := d.memory()
	t.Logf("demo RSS %d KiB before, %d KiB after (peak %d KiB)", rss0, rss1, hwm)
	assert.LessOrEqual(t, rss1-rss0, 64<<10, "RSS growth (KiB)")
}
