package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
)

var (
	hex32      = regexp.MustCompile(`[0-9a-f]{32}`)
	adminIDRow = regexp.MustCompile(`name="user" value="([a-z]+)"><input type="hidden" name="id" value="([0-9a-f]{32})"`)
	deviceTag  = regexp.MustCompile(`name="tag" value="([0-9a-f]{8})"`)
)

// tagOf returns the client's current session tag from /api/session.
func tagOf(c *client) string {
	c.t.Helper()
	tag, _ := c.session()["session"].(string)
	if tag == "" {
		c.t.Fatal("no session tag")
	}
	return tag
}

func TestYourDevices(t *testing.T) {
	h, _ := newTestApp(t, nil)
	laptop, phone := newClient(t, h), newClient(t, h)
	laptop.login("alice", "correct-horse-alice")
	phone.do(http.MethodGet, "/", nil, nil)
	phone.do(http.MethodPost, "/login", url.Values{"user": {"alice"}, "password": {"correct-horse-alice"}}, map[string]string{"User-Agent": "PhoneBrowser/1"})
	laptopTag, phoneTag := tagOf(laptop), tagOf(phone)

	page := body(t, laptop.do(http.MethodGet, "/", nil, nil))
	if !strings.Contains(page, "Your devices") || strings.Count(page, `class="device"`) != 2 {
		t.Fatalf("home page does not list two devices:\n%s", page)
	}
	tags := deviceTag.FindAllStringSubmatch(page, -1)
	if len(tags) != 2 || tags[0][1] != laptopTag || tags[1][1] != phoneTag {
		t.Fatalf("device tags %v, want %s then %s", tags, laptopTag, phoneTag)
	}
	if !strings.Contains(page, laptopTag+"</code> <strong>(this device)") || !strings.Contains(page, "PhoneBrowser/1") || !strings.Contains(page, "192.0.2.0/24") {
		t.Error("devices table lacks the current marker, the client or the network")
	}
	if id := hex32.FindString(page); id != "" {
		t.Errorf("the home page shows a full session ID %s; only tags belong there", id)
	}
	// Anonymous visitors get no list.
	if p := body(t, newClient(t, h).do(http.MethodGet, "/", nil, nil)); strings.Contains(p, "Your devices") {
		t.Error("anonymous home page lists devices")
	}

	// Cross-origin: refused before anything happens.
	res := laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {phoneTag}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin device logout: %s, want 403", res.Status)
	}
	if res := laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {"00000000"}}, nil); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tag: %s, want 400", res.Status)
	}
	if s := phone.session(); s["authenticated"] != true {
		t.Fatal("phone logged out by refused requests")
	}
	// Someone else cannot name alice's devices.
	admin := newClient(t, h)
	admin.login("admin", "battery-staple-admin")
	if res := admin.do(http.MethodPost, "/devices/logout", url.Values{"tag": {phoneTag}}, nil); res.StatusCode != http.StatusBadRequest {
		t.Errorf("admin logging out alice's device through /devices/logout: %s, want 400", res.Status)
	}

	res = laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {phoneTag}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log out that device: %s", res.Status)
	}
	if s := phone.session(); s["authenticated"] != false {
		t.Errorf("phone still logged in: %v", s)
	}
	if s := laptop.session(); s["authenticated"] != true {
		t.Errorf("laptop logged out too: %v", s)
	}
	page = body(t, laptop.do(http.MethodGet, "/", nil, nil))
	if strings.Count(page, `class="device"`) != 1 || !strings.Contains(page, "The device with session "+phoneTag+" is logged out.") {
		t.Errorf("after logging out the phone:\n%s", page)
	}
	// "Log out that device" on the current one is a plain logout.
	res = laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {laptopTag}}, nil)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/?msg=bye" {
		t.Errorf("logging out the current device: %s to %q", res.Status, loc)
	}
	if s := laptop.session(); s["authenticated"] != false {
		t.Errorf("laptop still logged in: %v", s)
	}
}

// adminRevoke checks the admin page and revoke-session on one app.
func adminRevoke(t *testing.T, h http.Handler) {
	t.Helper()
	a1, a2, admin := newClient(t, h), newClient(t, h), newClient(t, h)
	a1.login("alice", "correct-horse-alice")
	a2.login("alice", "correct-horse-alice")
	admin.login("admin", "battery-staple-admin")

	page := body(t, admin.do(http.MethodGet, "/admin", nil, nil))
	if !strings.Contains(page, "<code>alice</code>: 2 session(s)") || !strings.Contains(page, "<code>admin</code>: 1 session(s)") {
		t.Fatalf("admin page session counts:\n%s", page)
	}
	if !strings.Contains(page, "(you, now)") {
		t.Error("the admin's own session is not marked")
	}
	rows := adminIDRow.FindAllStringSubmatch(page, -1)
	if len(rows) != 2 || rows[0][1] != "alice" || rows[1][1] != "alice" {
		t.Fatalf("revoke forms %v, want alice's two sessions (none for the admin's current one)", rows)
	}
	if !strings.Contains(page, "<code>"+tagOf(a1)+"</code>") || !strings.Contains(page, "<code>"+tagOf(a2)+"</code>") {
		t.Error("alice's session tags are not on the admin page")
	}
	// Two logins in the same millisecond may list in either order: pick
	// a1's row by its tag.
	var first string
	for _, row := range rows {
		if id, err := codec.ParseSessionID(row[2]); err == nil && id.Tag() == tagOf(a1) {
			first = row[2]
		}
	}
	if first == "" {
		t.Fatalf("no revoke form for alice's first session %s", tagOf(a1))
	}

	for name, tc := range map[string]struct {
		c    *client
		form url.Values
		hdr  map[string]string
		want int
	}{
		"cross-origin": {admin, url.Values{"user": {"alice"}, "id": {first}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		"not admin":    {a2, url.Values{"user": {"alice"}, "id": {first}}, nil, http.StatusForbidden},
		"bad id":       {admin, url.Values{"user": {"alice"}, "id": {"xyz"}}, nil, http.StatusBadRequest},
		"unknown user": {admin, url.Values{"user": {"mallory"}, "id": {first}}, nil, http.StatusBadRequest},
	} {
		if res := tc.c.do(http.MethodPost, "/admin/revoke-session", tc.form, tc.hdr); res.StatusCode != tc.want {
			t.Errorf("%s: %s, want %d", name, res.Status, tc.want)
		}
	}
	if s := a1.session(); s["authenticated"] != true {
		t.Fatal("alice's first session ended by a refused request")
	}

	res := admin.do(http.MethodPost, "/admin/revoke-session", url.Values{"user": {"alice"}, "id": {first}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke-session: %s", res.Status)
	}
	if s := a1.session(); s["authenticated"] != false {
		t.Errorf("revoked session still logged in: %v", s)
	}
	if s := a2.session(); s["authenticated"] != true {
		t.Errorf("alice's other session ended too: %v", s)
	}
	page = body(t, admin.do(http.MethodGet, "/admin", nil, nil))
	if !strings.Contains(page, "<code>alice</code>: 1 session(s)") || !strings.Contains(page, "of alice has ended") {
		t.Errorf("admin page after the revocation:\n%s", page)
	}
}

// TestAdminRevokeSessionEveryStore runs the admin flow on the memory,
// bolt and Redis stores (session tracking is on for each).
func TestAdminRevokeSessionEveryStore(t *testing.T) {
	srv := redistest.Start(t)
	for name, spec := range map[string]func(t *testing.T) string{
		"memory": func(*testing.T) string { return "memory" },
		"bolt":   func(t *testing.T) string { return "bolt:" + filepath.Join(t.TempDir(), "s.db") },
		"redis":  func(*testing.T) string { return "redis://" + srv.Addr() + "/0" },
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := newTestApp(t, func(c *config) { c.Store = spec(t) })
			adminRevoke(t, h)
		})
	}
}
