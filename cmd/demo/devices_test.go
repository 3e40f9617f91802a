package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NotEmpty(c.t, tag, "no session tag")
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
	require.Contains(t, page, "Your devices", "home page does not list two devices")
	require.Equal(t, 2, strings.Count(page, `class="device"`), "home page does not list two devices:\n%s", page)
	tags := deviceTag.FindAllStringSubmatch(page, -1)
	require.Len(t, tags, 2, "device tags, want %s then %s", laptopTag, phoneTag)
	require.Equal(t, laptopTag, tags[0][1], "device tags %v, want %s then %s", tags, laptopTag, phoneTag)
	require.Equal(t, phoneTag, tags[1][1], "device tags %v, want %s then %s", tags, laptopTag, phoneTag)
	assert.Contains(t, page, laptopTag+"</code> <strong>(this device)", "devices table lacks the current marker")
	assert.Contains(t, page, "PhoneBrowser/1", "devices table lacks the client")
	assert.Contains(t, page, "192.0.2.0/24", "devices table lacks the network")
	assert.Empty(t, hex32.FindString(page), "the home page shows a full session ID; only tags belong there")
	// Anonymous visitors get no list.
	assert.NotContains(t, body(t, newClient(t, h).do(http.MethodGet, "/", nil, nil)), "Your devices", "anonymous home page lists devices")

	// Cross-origin: refused before anything happens.
	res := laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {phoneTag}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "cross-origin device logout")
	assert.Equal(t, http.StatusBadRequest, laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {"00000000"}}, nil).StatusCode, "unknown tag")
	require.Equal(t, true, phone.session()["authenticated"], "phone logged out by refused requests")
	// Someone else cannot name alice's devices.
	admin := newClient(t, h)
	admin.login("admin", "battery-staple-admin")
	assert.Equal(t, http.StatusBadRequest, admin.do(http.MethodPost, "/devices/logout", url.Values{"tag": {phoneTag}}, nil).StatusCode, "admin logging out alice's device through /devices/logout")

	res = laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {phoneTag}}, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "log out that device")
	s := phone.session()
	assert.Equal(t, false, s["authenticated"], "phone still logged in: %v", s)
	s = laptop.session()
	assert.Equal(t, true, s["authenticated"], "laptop logged out too: %v", s)
	page = body(t, laptop.do(http.MethodGet, "/", nil, nil))
	assert.Equal(t, 1, strings.Count(page, `class="device"`), "after logging out the phone:\n%s", page)
	assert.Contains(t, page, "The device with session "+phoneTag+" is logged out.", "after logging out the phone")
	// "Log out that device" on the current one is a plain logout.
	res = laptop.do(http.MethodPost, "/devices/logout", url.Values{"tag": {laptopTag}}, nil)
	loc := res.Header.Get("Location")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, "logging out the current device: to %q", loc)
	assert.Equal(t, "/?msg=bye", loc, "logging out the current device: %s", res.Status)
	s = laptop.session()
	assert.Equal(t, false, s["authenticated"], "laptop still logged in: %v", s)
}

// adminRevoke checks the admin page and revoke-session on one app.
func adminRevoke(t *testing.T, h http.Handler) {
	t.Helper()
	a1, a2, admin := newClient(t, h), newClient(t, h), newClient(t, h)
	a1.login("alice", "correct-horse-alice")
	a2.login("alice", "correct-horse-alice")
	admin.login("admin", "battery-staple-admin")

	page := body(t, admin.do(http.MethodGet, "/admin", nil, nil))
	require.Contains(t, page, "<code>alice</code>: 2 session(s)", "admin page session counts")
	require.Contains(t, page, "<code>admin</code>: 1 session(s)", "admin page session counts")
	assert.Contains(t, page, "(you, now)", "the admin's own session is not marked")
	rows := adminIDRow.FindAllStringSubmatch(page, -1)
	require.Len(t, rows, 2, "revoke forms, want alice's two sessions (none for the admin's current one)")
	require.Equal(t, "alice", rows[0][1], "revoke forms %v, want alice's two sessions (none for the admin's current one)", rows)
	require.Equal(t, "alice", rows[1][1], "revoke forms %v, want alice's two sessions (none for the admin's current one)", rows)
	assert.Contains(t, page, "<code>"+tagOf(a1)+"</code>", "alice's session tags are not on the admin page")
	assert.Contains(t, page, "<code>"+tagOf(a2)+"</code>", "alice's session tags are not on the admin page")
	// Two logins in the same millisecond may list in either order: pick
	// a1's row by its tag.
	var first string
	for _, row := range rows {
		if id, err := codec.ParseSessionID(row[2]); err == nil && id.Tag() == tagOf(a1) {
			first = row[2]
		}
	}
	require.NotEmpty(t, first, "no revoke form for alice's first session (forms %v)", rows)

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
		assert.Equal(t, tc.want, tc.c.do(http.MethodPost, "/admin/revoke-session", tc.form, tc.hdr).StatusCode, name)
	}
	require.Equal(t, true, a1.session()["authenticated"], "alice's first session ended by a refused request")

	res := admin.do(http.MethodPost, "/admin/revoke-session", url.Values{"user": {"alice"}, "id": {first}}, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "revoke-session")
	s := a1.session()
	assert.Equal(t, false, s["authenticated"], "revoked session still logged in: %v", s)
	s = a2.session()
	assert.Equal(t, true, s["authenticated"], "alice's other session ended too: %v", s)
	page = body(t, admin.do(http.MethodGet, "/admin", nil, nil))
	assert.Contains(t, page, "<code>alice</code>: 1 session(s)", "admin page after the revocation")
	assert.Contains(t, page, "of alice has ended", "admin page after the revocation")
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
