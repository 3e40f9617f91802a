package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

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
			if !errors.Is(err, httpx.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), ring.Primary().Export()) {
				t.Fatal("error prints key material")
			}
		})
	}
	m, err := httpx.New(httpx.Config{Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	if m.CookieName() != "__Host-session" {
		t.Fatal(m.CookieName())
	}
	p := m.Policy()
	if p.IdleTimeout != 30*time.Minute || p.AbsoluteTimeout != 24*time.Hour || p.ClockSkew >= 5*time.Minute {
		t.Fatalf("defaults %+v", p)
	}
	m, err = httpx.New(httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{InsecureAllowPlainHTTP: true}})
	if err != nil || m.CookieName() != "session" {
		t.Fatalf("%v %v", m, err)
	}
}

func TestInsecurePlainHTTPCookie(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Cookie.InsecureAllowPlainHTTP = true })
	c := newClient(t, e.srv)
	resp, _ := c.post("/note", "v", "x")
	line := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(line, "session=") || strings.Contains(line, "Secure") || !strings.Contains(line, "HttpOnly") {
		t.Fatalf("Set-Cookie %q", line)
	}
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
	got := rec.kinds()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	out := buf.String()
	if strings.Contains(out, id) {
		t.Fatal("log contains a full session ID")
	}
	for _, w := range []string{"event=created", "event=regenerated", "user=ivy", "event=destroyed", "session="} {
		if !strings.Contains(out, w) {
			t.Fatalf("log lacks %q:\n%s", w, out)
		}
	}
	for _, k := range want {
		if k.String() == "unknown" {
			t.Fatal(k)
		}
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
	if len(o.calls) != 2 {
		t.Fatalf("ObserveOverhead called %d times for 2 requests", len(o.calls))
	}
	for _, d := range o.calls {
		if d <= 0 || d > 5*time.Second {
			t.Fatalf("overhead %v", d)
		}
	}
}

func TestShortIdleTimeoutRenewThreshold(t *testing.T) {
	m, err := httpx.New(httpx.Config{Keys: newRing(t), Policy: versioning.Policy{IdleTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Policy().RenewThreshold; got != 15*time.Second {
		t.Fatalf("RenewThreshold %v", got)
	}
}
