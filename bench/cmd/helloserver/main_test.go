package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/bench"
)

func TestBuild(t *testing.T) {
	for _, mode := range []string{"bare", "sealedsession", "gorilla"} {
		t.Run(mode, func(t *testing.T) {
			h, cookie, err := build(mode)
			require.NoError(t, err)
			require.NotEmpty(t, cookie, "no cookie for the load test to send")
			srv := httptest.NewServer(h) // plain http on loopback, like wrk
			t.Cleanup(srv.Close)
			// As load.sh sends them: the cookie and the browser's
			// User-Agent the session logged in with.
			get := func(cookie string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				req.Header.Set("User-Agent", bench.UserAgent)
				res, err := srv.Client().Do(req)
				require.NoError(t, err)
				defer res.Body.Close()
				// A read that rewrote the cookie (a client binding
				// that saw another client, say) would measure a write.
				assert.Empty(t, res.Header.Values("Set-Cookie"), "the load test's request rewrote the session")
				var b strings.Builder
				buf := make([]byte, 512)
				n, _ := res.Body.Read(buf)
				b.Write(buf[:n])
				return res.StatusCode, b.String()
			}
			code, body := get(cookie)
			require.Equal(t, http.StatusOK, code, "status with the cookie")
			// Every mode does the same handler work: greet the user.
			require.Equal(t, "hello, u-1842\n", body, "body with the cookie")
			code, _ = get("")
			if mode != "bare" {
				assert.Equal(t, http.StatusUnauthorized, code, "status without a cookie")
			}
		})
	}
	_, _, err := build("nope")
	assert.Error(t, err, "unknown mode accepted")
}
