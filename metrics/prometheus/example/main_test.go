package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sealedsession/sealedsession/sealed"
)

func TestExampleServer(t *testing.T) {
	key, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sealed.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(keys, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		return string(b)
	}

	if got := get("GET", "/", nil); got != "hello anonymous, visit 1\n" {
		t.Fatalf("first visit: %q", got)
	}
	get("POST", "/login", url.Values{"user": {"alice"}})
	if got := get("GET", "/", nil); got != "hello alice, visit 2\n" {
		t.Fatalf("after login: %q", got)
	}
	get("POST", "/logout", nil)

	metrics := get("GET", "/metrics", nil)
	for _, line := range []string{
		"sealedsession_sessions_created_total 1",
		"sealedsession_sessions_regenerated_total 1",
		"sealedsession_sessions_destroyed_total 1",
		"sealedsession_middleware_overhead_seconds_count 4",
	} {
		if !strings.Contains(metrics, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080"} {
		if err := run(addr); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("run(%q) = %v, want a refusal", addr, err)
		}
	}
}
