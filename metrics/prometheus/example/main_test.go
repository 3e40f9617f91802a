package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/sealed"
)

func TestExampleServer(t *testing.T) {
	key, err := sealed.GenerateKey()
	require.NoError(t, err)
	keys, err := sealed.NewKeyring(key)
	require.NoError(t, err)
	h, err := newHandler(keys, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := srv.Client()
	client.Jar = jar

	get := func(method, path string, form url.Values) string {
		t.Helper()
		var resp *http.Response
		if method == "POST" {
			resp, err = client.PostForm(srv.URL+path, form)
		} else {
			resp, err = client.Get(srv.URL + path)
		}
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s %s", method, path, resp.Status, b)
		return string(b)
	}

	require.Equal(t, "hello anonymous, visit 1\n", get("GET", "/", nil), "first visit")
	get("POST", "/login", url.Values{"user": {"alice"}})
	require.Equal(t, "hello alice, visit 2\n", get("GET", "/", nil), "after login")
	get("POST", "/logout", nil)

	metrics := get("GET", "/metrics", nil)
	for _, line := range []string{
		"sealedsession_sessions_created_total 1",
		"sealedsession_sessions_regenerated_total 1",
		"sealedsession_sessions_destroyed_total 1",
		"sealedsession_middleware_overhead_seconds_count 4",
	} {
		assert.Contains(t, metrics, "\n"+line+"\n", "/metrics lacks %q", line)
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080"} {
		assert.ErrorContains(t, run(addr), "loopback", "run(%q): want a refusal", addr)
	}
}
