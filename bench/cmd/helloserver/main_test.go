package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	for _, mode := range []string{"bare", "sealedsession", "gorilla"} {
		t.Run(mode, func(t *testing.T) {
			h, cookie, err := build(mode)
			if err != nil {
				t.Fatal(err)
			}
			if cookie == "" {
				t.Fatal("no cookie for the load test to send")
			}
			srv := httptest.NewServer(h) // plain http on loopback, like wrk
			t.Cleanup(srv.Close)
			get := func(cookie string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var b strings.Builder
				buf := make([]byte, 512)
				n, _ := res.Body.Read(buf)
				b.Write(buf[:n])
				return res.StatusCode, b.String()
			}
			code, body := get(cookie)
			want := "hello, u-1842\n"
			if mode == "bare" {
				want = "hello, world\n"
			}
			if code != http.StatusOK || body != want {
				t.Fatalf("with the cookie: %d %q, want 200 %q", code, body, want)
			}
			code, _ = get("")
			if mode != "bare" && code != http.StatusUnauthorized {
				t.Errorf("without a cookie: status %d, want 401", code)
			}
		})
	}
	if _, _, err := build("nope"); err == nil {
		t.Error("unknown mode accepted")
	}
}
