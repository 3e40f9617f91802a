package httpx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

func TestConfigValidation(t *testing.T) {
	ring := newRing(t)
	cases := map[string]struct {
		cfg  httpx.Config
		want string
	}{
		"no keys":             {httpx.Config{}, "Keys is required"},
		"negative idle":       {httpx.Config{Keys: ring, Policy: versioning.Policy{IdleTimeout: -time.Second}}, "IdleTimeout is negative"},
		"idle over absolute":  {httpx.Config{Keys: ring, Policy: versioning.Policy{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour}}, "idle"},
		"skew too large":      {httpx.Config{Keys: ring, Policy: versioning.Policy{ClockSkew: time.Hour}}, "skew"},
		"no host prefix":      {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{Name: "session"}}, `must start with "__Host-"`},
		"bad char":            {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{Name: "__Host-a b"}}, "not allowed"},
		"prefix only":         {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{Name: "__Host-"}}, "nothing after"},
		"host prefix on http": {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{Name: "__Host-s", InsecureAllowPlainHTTP: true}}, "Secure"},
		"too many chunks":     {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{MaxChunks: 12}}, "MaxChunks"},
		"tiny budget":         {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{MaxHeaderBytes: 100}}, "MaxHeaderBytes"},
		"too small budget":    {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{MaxHeaderBytes: 600}}, "cannot hold"},
		"none on http":        {httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{InsecureAllowPlainHTTP: true, SameSite: 4}}, "SameSite=None"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := httpx.New(tc.cfg)
			require.ErrorIs(t, err, httpx.ErrConfig)
			require.Contains(t, strings.ToLower(err.Error()), strings.ToLower(tc.want))
			require.False(t, strings.Contains(err.Error(), ring.Primary().Export()), "error prints key material")
		})
	}
	m, err := httpx.New(httpx.Config{Keys: ring})
	require.NoError(t, err)
	require.Equal(t, "__Host-session", m.CookieName())
	p := m.Policy()
	require.Equal(t, 30*time.Minute, p.IdleTimeout, "default IdleTimeout")
	require.Equal(t, 24*time.Hour, p.AbsoluteTimeout, "default AbsoluteTimeout")
	require.Less(t, p.ClockSkew, 5*time.Minute, "default ClockSkew")
	m, err = httpx.New(httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{InsecureAllowPlainHTTP: true}})
	require.NoError(t, err)
	require.Equal(t, "session", m.CookieName())
}

func TestInsecurePlainHTTPCookie(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Cookie.InsecureAllowPlainHTTP = true })
	c := newClient(t, e.srv)
	resp, _ := c.post("/note", "v", "x")
	line := resp.Header.Get("Set-Cookie")
	require.True(t, strings.HasPrefix(line, "session="), "Set-Cookie %q", line)
	require.NotContains(t, line, "Secure")
	require.Contains(t, line, "HttpOnly")
}

func TestEventsAndSlog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &recorder{}
	e := newEnv(t, func(c *httpx.Config) {
		c.Observer = httpx.ObserverFunc(func(ctx context.Context, ev httpx.Event) {
			rec.Observe(ctx, ev)
			httpx.NewSlogObserver(logger).Observe(ctx, ev)
		})
	})
	c := newClient(t, e.srv)
	c.post("/note", "v", "x")
	id := c.get("/id")
	c.post("/login", "u", "ivy")
	e.clk.Advance(2 * time.Minute)
	c.get("/whoami")
	c.post("/logout")
	want := []httpx.EventKind{httpx.EventCreated, httpx.EventRegenerated, httpx.EventRenewed, httpx.EventDestroyed}
	require.Equal(t, want, rec.kinds(), "events")
	out := buf.String()
	require.NotContains(t, out, id, "log contains a full session ID")
	for _, w := range []string{"event=created", "event=regenerated", "user=ivy", "event=destroyed", "session="} {
		require.Contains(t, out, w, "log")
	}
	for _, k := range want {
		require.NotEqual(t, "unknown", k.String(), "name of event kind %d", k)
	}
}

type overheadRecorder struct {
	recorder
	mu    sync.Mutex
	calls []time.Duration
}

func (o *overheadRecorder) ObserveOverhead(d time.Duration) {
	o.mu.Lock()
	o.calls = append(o.calls, d)
	o.mu.Unlock()
}

func TestOverheadObserver(t *testing.T) {
	o := &overheadRecorder{}
	e := newEnv(t, func(c *httpx.Config) { c.Observer = o })
	c := newClient(t, e.srv)
	c.post("/note", "v", "x")
	c.get("/whoami")
	o.mu.Lock()
	defer o.mu.Unlock()
	require.Len(t, o.calls, 2, "ObserveOverhead calls for 2 requests")
	for _, d := range o.calls {
		require.Positive(t, d, "overhead")
		require.LessOrEqual(t, d, 5*time.Second, "overhead")
	}
}

func TestShortIdleTimeoutRenewThreshold(t *testing.T) {
	m, err := httpx.New(httpx.Config{Keys: newRing(t), Policy: versioning.Policy{IdleTimeout: time.Minute}})
	require.NoError(t, err)
	require.Equal(t, 15*time.Second, m.Policy().RenewThreshold)
}
