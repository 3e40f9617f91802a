package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// Session tracking (Config.TrackSessions) through real TLS clients, on
// every store: listing, "log out that device", the concurrent-session
// limit (evict or refuse), two instances sharing one Redis, and the
// simultaneous-use anomaly.

// trackStore makes one kind of store on the test's clock.
type trackStore struct {
	name string
	open func(t *testing.T, clk *clock) versioning.Store
}

var redisPrefixSeq atomic.Int64

// redisOn returns a ready redisstore on srv with its own client; stores
// given the same prefix share their data (two application instances).
func redisOn(t *testing.T, srv *redistest.Server, prefix string, clk *clock) *redisstore.Store {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	s, err := redisstore.New(client, &redisstore.Options{Prefix: prefix, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func uniqueRedisPrefix() string {
	return "track" + strconv.FormatInt(redisPrefixSeq.Add(1), 10) + ":"
}

func trackStores(t *testing.T) []trackStore {
	srv := redistest.Start(t) // one server for the whole test
	return []trackStore{
		{"memstore", func(t *testing.T, clk *clock) versioning.Store {
			return memstore.New(memstore.WithClock(clk.Now))
		}},
		{"boltstore", func(t *testing.T, clk *clock) versioning.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), &boltstore.Options{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"redisstore", func(t *testing.T, clk *clock) versioning.Store {
			return redisOn(t, srv, uniqueRedisPrefix(), clk)
		}},
	}
}

// forEachStore runs fn once per store kind.
func forEachStore(t *testing.T, fn func(t *testing.T, st trackStore)) {
	for _, st := range trackStores(t) {
		t.Run(st.name, func(t *testing.T) { fn(t, st) })
	}
}

// trackEnv is one application instance with session tracking.
type trackEnv struct {
	m        *httpx.Manager
	srv      *httptest.Server
	clk      *clock
	rec      *recorder
	loginErr chan error // errors of refused logins
}

// newTrackEnv starts an instance on store. All instances of one test
// share clk and the keyring given.
func newTrackEnv(t *testing.T, store versioning.Store, clk *clock, ring *sealed.Keyring, mod func(*httpx.Config)) *trackEnv {
	t.Helper()
	e := &trackEnv{clk: clk, rec: &recorder{}, loginErr: make(chan error, 64)}
	cfg := httpx.Config{Keys: ring, Store: store, Observer: e.rec, Policy: versioning.Policy{Now: clk.Now}, Tracking: &httpx.Tracking{}, Binding: httpx.ClientBinding{ClientIP: testIP}}
	if mod != nil {
		mod(&cfg)
	}
	m, err := httpx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Login(r.FormValue("u")); err != nil {
			e.loginErr <- err
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Logout(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user=%s", httpx.FromContext(r.Context()).UserID())
	})
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) {
		if err := noteKey.Set(httpx.FromContext(r.Context()), r.FormValue("v")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, httpx.FromContext(r.Context()).ID())
	})
	e.srv = httptest.NewTLSServer(m.Wrap(mux))
	t.Cleanup(e.srv.Close)
	return e
}

// device is one browser: a cookie jar, a network address and an agent.
type device struct {
	t      *testing.T
	c      *client
	ip, ua string
}

func (e *trackEnv) device(t *testing.T, ip, ua string) *device {
	return &device{t: t, c: newClient(t, e.srv), ip: ip, ua: ua}
}

// on returns the same device (same cookies) talking to another instance.
func (d *device) on(e *trackEnv) *device {
	c := newClient(d.t, e.srv)
	c.setCookies(d.c.cookies())
	return &device{t: d.t, c: c, ip: d.ip, ua: d.ua}
}

func (d *device) do(method, path, form string) (int, string) {
	d.t.Helper()
	var body *strings.Reader
	if form != "" {
		body = strings.NewReader(form)
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, d.c.srv.URL+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Test-IP", d.ip)
	req.Header.Set("User-Agent", d.ua)
	resp, err := d.c.c.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, strings.TrimSpace(sb.String())
}

func (d *device) login(user string) (int, string) {
	d.t.Helper()
	return d.do("POST", "/login", "u="+user)
}

func (d *device) mustLogin(user string) {
	d.t.Helper()
	if code, body := d.login(user); code != 200 {
		d.t.Fatalf("login of %s from %s: %d %s", user, d.ip, code, body)
	}
}

func (d *device) whoami() string {
	d.t.Helper()
	_, b := d.do("GET", "/whoami", "")
	return b
}

func (d *device) id() string {
	d.t.Helper()
	_, b := d.do("GET", "/id", "")
	return b
}

func sessionsOf(t *testing.T, m *httpx.Manager, user string) []versioning.SessionInfo {
	t.Helper()
	l, err := m.Sessions(t.Context(), user)
	if err != nil {
		t.Fatalf("Sessions(%s): %v", user, err)
	}
	return l
}

func TestTrackSessionsList(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), nil)
		laptop := e.device(t, "192.0.2.10", "Firefox/140 (X11; Linux)")
		laptop.mustLogin("alice")
		loginA := clk.Now()
		clk.Advance(time.Minute)
		phone := e.device(t, "2001:db8:7:1::5", "Safari/18 (iPhone)")
		phone.mustLogin("alice")
		e.device(t, "192.0.2.11", "Other/1").mustLogin("bob")

		l := sessionsOf(t, e.m, "alice")
		if len(l) != 2 {
			t.Fatalf("Sessions(alice) = %+v, want 2 entries", l)
		}
		a, p := l[0], l[1]
		if a.ID.String() != laptop.id() || p.ID.String() != phone.id() {
			t.Fatalf("Sessions IDs %s, %s; want the laptop's then the phone's", a.ID, p.ID)
		}
		if !a.Created.Equal(loginA) || !a.LastSeen.Equal(loginA) || !p.Created.Equal(loginA.Add(time.Minute)) {
			t.Errorf("created/last seen: %+v / %+v", a, p)
		}
		if !a.Expires.Equal(loginA.Add(24 * time.Hour)) {
			t.Errorf("Expires %v, want the absolute deadline %v", a.Expires, loginA.Add(24*time.Hour))
		}
		if a.Network != "192.0.2.0/24" || p.Network != "2001:db8:7::/48" {
			t.Errorf("networks %q, %q", a.Network, p.Network)
		}
		if a.Client != "Firefox/140 (X11; Linux)" || p.Client != "Safari/18 (iPhone)" {
			t.Errorf("clients %q, %q", a.Client, p.Client)
		}
		if n := len(sessionsOf(t, e.m, "bob")); n != 1 {
			t.Errorf("bob has %d sessions, want 1", n)
		}
		if l := sessionsOf(t, e.m, "nobody"); len(l) != 0 {
			t.Errorf("unknown user: %+v", l)
		}

		// Activity past the renewal threshold moves LastSeen.
		clk.Advance(5 * time.Minute)
		if got := laptop.whoami(); got != "user=alice" {
			t.Fatalf("laptop: %q", got)
		}
		l = sessionsOf(t, e.m, "alice")
		if !l[0].LastSeen.Equal(clk.Now()) || !l[1].LastSeen.Equal(loginA.Add(time.Minute)) {
			t.Errorf("after the laptop's renewal: last seen %v and %v, want %v and unchanged", l[0].LastSeen, l[1].LastSeen, clk.Now())
		}

		// Logging out forgets the entry.
		if code, _ := phone.do("POST", "/logout", ""); code != 200 {
			t.Fatal("logout failed")
		}
		if l := sessionsOf(t, e.m, "alice"); len(l) != 1 || l[0].ID != a.ID {
			t.Errorf("after the phone logged out: %+v", l)
		}
		// Entries end with the absolute timeout.
		clk.Advance(24 * time.Hour)
		if l := sessionsOf(t, e.m, "alice"); len(l) != 0 {
			t.Errorf("after the absolute timeout: %+v", l)
		}
	})
}

func TestRevokeSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), nil)
		laptop := e.device(t, "192.0.2.10", "Firefox/140")
		phone := e.device(t, "192.0.2.10", "Safari/18")
		laptop.mustLogin("alice")
		phone.mustLogin("alice") // same instant: the order of the list is not what names the phone
		l := sessionsOf(t, e.m, "alice")
		if len(l) != 2 {
			t.Fatalf("%d sessions", len(l))
		}
		phoneID, err := codec.ParseSessionID(phone.id())
		if err != nil {
			t.Fatal(err)
		}
		e.rec.reset()
		if err := e.m.RevokeSession(t.Context(), "alice", phoneID); err != nil {
			t.Fatal(err)
		}
		if got := phone.whoami(); got != "user=" {
			t.Fatalf("revoked phone still logged in: %q", got)
		}
		if r := e.rec.reasons(); len(r) != 1 || r[0] != "revoked" {
			t.Errorf("reject reasons %v, want [revoked]", r)
		}
		if got := laptop.whoami(); got != "user=alice" {
			t.Fatalf("the other device was logged out too: %q", got)
		}
		if l := sessionsOf(t, e.m, "alice"); len(l) != 1 || l[0].Client != "Firefox/140" {
			t.Errorf("after RevokeSession: %+v", l)
		}
	})
}

func TestSessionLimitEvictOldest(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) {
			c.Tracking.MaxPerUser = 2
			c.Tracking.OnLimit = httpx.EvictOldest
		})
		var devs []*device
		for i := range 3 {
			d := e.device(t, "192.0.2.10", "Browser/"+strconv.Itoa(i))
			d.mustLogin("alice")
			devs = append(devs, d)
			clk.Advance(time.Second)
		}
		e.rec.reset()
		if got := devs[0].whoami(); got != "user=" {
			t.Fatalf("the oldest device survived the limit: %q", got)
		}
		if r := e.rec.reasons(); len(r) != 1 || r[0] != "revoked" {
			t.Errorf("reject reasons %v, want [revoked]", r)
		}
		for _, d := range devs[1:] {
			if got := d.whoami(); got != "user=alice" {
				t.Errorf("%s: %q", d.ua, got)
			}
		}
		l := sessionsOf(t, e.m, "alice")
		if len(l) != 2 || l[0].Client != "Browser/1" || l[1].Client != "Browser/2" {
			t.Errorf("Sessions after eviction: %+v", l)
		}
		// Other users have their own limit.
		e.device(t, "192.0.2.10", "B").mustLogin("bob")
		if got := devs[1].whoami(); got != "user=alice" {
			t.Errorf("bob's login evicted alice: %q", got)
		}
	})
}

func TestSessionLimitRefuseNewLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) {
			c.Tracking.MaxPerUser = 2
			c.Tracking.OnLimit = httpx.RefuseNewLogin
		})
		a := e.device(t, "192.0.2.10", "A")
		b := e.device(t, "192.0.2.10", "B")
		a.mustLogin("alice")
		b.mustLogin("alice")
		c := e.device(t, "192.0.2.10", "C")
		if code, _ := c.login("alice"); code != http.StatusForbidden {
			t.Fatalf("third login: status %d, want refused", code)
		}
		select {
		case err := <-e.loginErr:
			if !errors.Is(err, versioning.ErrTooManySessions) {
				t.Fatalf("Login error %v, want ErrTooManySessions", err)
			}
		default:
			t.Fatal("no Login error recorded")
		}
		if got := c.whoami(); got != "user=" {
			t.Errorf("refused device is logged in: %q", got)
		}
		for _, d := range []*device{a, b} {
			if got := d.whoami(); got != "user=alice" {
				t.Errorf("existing session %s after a refused login: %q", d.ua, got)
			}
		}
		if n := len(sessionsOf(t, e.m, "alice")); n != 2 {
			t.Errorf("%d sessions after a refused login, want 2", n)
		}
		// A logout frees a slot.
		a.do("POST", "/logout", "")
		c.mustLogin("alice")
	})
}

// TestSessionLimitAfterForceLogout: "log out everywhere" ends every
// session of the user, so none of them may still count against the
// limit: the user must be able to log in again at once.
func TestSessionLimitAfterForceLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) {
			c.Tracking.MaxPerUser = 2
			c.Tracking.OnLimit = httpx.RefuseNewLogin
		})
		e.device(t, "192.0.2.10", "A").mustLogin("alice")
		e.device(t, "192.0.2.10", "B").mustLogin("alice")
		if err := e.m.ForceLogout(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		if l := sessionsOf(t, e.m, "alice"); len(l) != 0 {
			t.Errorf("Sessions after ForceLogout lists %d sessions that can no longer be used", len(l))
		}
		if code, body := e.device(t, "192.0.2.10", "C").login("alice"); code != 200 {
			t.Errorf("login after ForceLogout refused: %d %s", code, body)
		}
	})
}

// TestSessionLimitAfterIdleTimeout: a session past its idle timeout is
// dead (its cookie is refused), so it must not hold a slot either.
func TestSessionLimitAfterIdleTimeout(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) {
			c.Tracking.MaxPerUser = 1
			c.Tracking.OnLimit = httpx.RefuseNewLogin
			c.Policy.IdleTimeout = 30 * time.Minute
		})
		old := e.device(t, "192.0.2.10", "A")
		old.mustLogin("alice")
		clk.Advance(time.Hour) // the browser was closed; the session idled out
		if got := old.whoami(); got != "user=" {
			t.Fatalf("idle session still served: %q", got)
		}
		if code, body := e.device(t, "192.0.2.10", "B").login("alice"); code != 200 {
			t.Errorf("login refused because of a session that idled out an hour ago: %d %s", code, body)
		}
	})
}

// TestSessionLimitTwoInstancesOnRedis: two application instances (two
// Managers, two store clients) on one Redis enforce one limit together.
func TestSessionLimitTwoInstancesOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	for _, action := range []httpx.SessionLimitAction{httpx.RefuseNewLogin, httpx.EvictOldest} {
		t.Run(map[httpx.SessionLimitAction]string{httpx.RefuseNewLogin: "refuse", httpx.EvictOldest: "evict"}[action], func(t *testing.T) {
			clk := newClock()
			ring := newRing(t)
			prefix := uniqueRedisPrefix()
			var inst [2]*trackEnv
			for i := range inst {
				inst[i] = newTrackEnv(t, redisOn(t, srv, prefix, clk), clk, ring, func(c *httpx.Config) {
					c.Tracking.MaxPerUser = 2
					c.Tracking.OnLimit = action
				})
			}
			a := inst[0].device(t, "192.0.2.10", "A")
			a.mustLogin("alice")
			clk.Advance(time.Second)
			inst[1].device(t, "192.0.2.10", "B").mustLogin("alice")
			clk.Advance(time.Second)
			c := inst[0].device(t, "192.0.2.10", "C")
			code, _ := c.login("alice")
			switch action {
			case httpx.RefuseNewLogin:
				if code != http.StatusForbidden {
					t.Fatalf("third login across instances: %d, want refused", code)
				}
				if err := <-inst[0].loginErr; !errors.Is(err, versioning.ErrTooManySessions) {
					t.Fatalf("Login error %v", err)
				}
			case httpx.EvictOldest:
				if code != 200 {
					t.Fatalf("third login: %d", code)
				}
				// The oldest, logged in on instance 0, is refused on
				// instance 1 once the revocation has propagated.
				onOther := a.on(inst[1])
				deadline := time.Now().Add(2 * time.Second)
				for onOther.whoami() != "user=" {
					if time.Now().After(deadline) {
						t.Fatal("instance 1 still accepts the evicted session")
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			for i, e := range inst {
				if n := len(sessionsOf(t, e.m, "alice")); n != 2 {
					t.Errorf("instance %d sees %d sessions, want 2", i, n)
				}
			}

			// Concurrent logins through both instances: the limit holds.
			const workers = 8
			var wg sync.WaitGroup
			var ok atomic.Int64
			for i := range workers {
				d := inst[i%2].device(t, "192.0.2.10", "W"+strconv.Itoa(i))
				wg.Go(func() {
					if code, _ := d.login("carol"); code == 200 {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if action == httpx.RefuseNewLogin && ok.Load() != 2 {
				t.Errorf("%d concurrent logins accepted across two instances, want 2", ok.Load())
			}
			if n := len(sessionsOf(t, inst[1].m, "carol")); n != 2 {
				t.Errorf("carol has %d tracked sessions, want 2", n)
			}
		})
	}
}

func (r *recorder) simultaneous() []string {
	var out []string
	for _, a := range r.anomalies() {
		if strings.HasPrefix(a, "simultaneous_use: ") {
			out = append(out, a)
		}
	}
	return out
}

func TestSimultaneousUseAnomaly(t *testing.T) {
	paris := httpx.Location{Latitude: 48.86, Longitude: 2.35}
	versailles := httpx.Location{Latitude: 48.80, Longitude: 2.13}
	tokyo := httpx.Location{Latitude: 35.68, Longitude: 139.69}
	where := map[string]httpx.Location{
		"192.0.2.0/24":    paris,
		"198.51.100.0/24": versailles,
		"203.0.113.0/24":  tokyo,
	}
	locate := func(p netip.Prefix) (httpx.Location, bool) {
		l, ok := where[p.String()]
		return l, ok
	}
	forEachStore(t, func(t *testing.T, st trackStore) {
		t.Run("NoLocate", func(t *testing.T) {
			clk := newClock()
			e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), nil)
			e.device(t, "192.0.2.10", "A").mustLogin("alice")
			e.device(t, "192.0.2.77", "B").mustLogin("alice") // same /24
			if a := e.rec.simultaneous(); len(a) != 0 {
				t.Fatalf("same network: %v", a)
			}
			e.device(t, "198.51.100.7", "C").mustLogin("alice")
			a := e.rec.simultaneous()
			if len(a) != 1 || !strings.Contains(a[0], "192.0.2.0/24 and 198.51.100.0/24") {
				t.Fatalf("another network within the window: %v", a)
			}
			// Outside the window (no activity for longer) nothing is raised.
			e.rec.reset()
			clk.Advance(11 * time.Minute)
			e.device(t, "203.0.113.9", "D").mustLogin("alice")
			if a := e.rec.simultaneous(); len(a) != 0 {
				t.Fatalf("after the window: %v", a)
			}
		})
		t.Run("Locate", func(t *testing.T) {
			clk := newClock()
			e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) { c.Tracking.Locate = locate })
			e.device(t, "192.0.2.10", "A").mustLogin("alice")
			e.device(t, "198.51.100.7", "B").mustLogin("alice") // Versailles: 17 km
			if a := e.rec.simultaneous(); len(a) != 0 {
				t.Fatalf("near networks raised %v", a)
			}
			e.device(t, "203.0.113.9", "C").mustLogin("alice") // Tokyo
			a := e.rec.simultaneous()
			if len(a) != 1 || !strings.Contains(a[0], "203.0.113.0/24") {
				t.Fatalf("distant networks: %v", a)
			}
			// The anomaly is reported, not enforced: every session works.
			if n := len(sessionsOf(t, e.m, "alice")); n != 3 {
				t.Errorf("%d sessions, want 3", n)
			}
		})
	})
}

func TestTrackingNeedsConfig(t *testing.T) {
	clk := newClock()
	m, err := httpx.New(httpx.Config{Keys: newRing(t), Store: memstore.New(), Policy: versioning.Policy{Now: clk.Now}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sessions(t.Context(), "alice"); !errors.Is(err, httpx.ErrNoTracking) {
		t.Errorf("Sessions without TrackSessions = %v, want ErrNoTracking", err)
	}
	if err := m.RevokeSession(t.Context(), "alice", [16]byte{1}); !errors.Is(err, httpx.ErrNoTracking) {
		t.Errorf("RevokeSession without TrackSessions = %v, want ErrNoTracking", err)
	}
	if _, err := httpx.New(httpx.Config{Keys: newRing(t), Tracking: &httpx.Tracking{MaxPerUser: -1}}); !errors.Is(err, httpx.ErrConfig) {
		t.Errorf("negative Tracking.MaxPerUser = %v, want ErrConfig", err)
	}
	if _, err := httpx.New(httpx.Config{Keys: newRing(t), Store: noTracker{memstore.New()}, Tracking: &httpx.Tracking{}}); !errors.Is(err, httpx.ErrConfig) {
		t.Errorf("Tracking with a store that cannot track = %v, want ErrConfig", err)
	}
}

// noTracker hides a store's SessionTracker ability.
type noTracker struct{ versioning.Store }

// TestBumpFreesSessionSlots (issue 14 item 9): after LogoutAll, or a bump
// of the user's epoch from outside (sealctl bump), the dead sessions no
// longer hold slots: RefuseNewLogin lets the user log in again at once,
// and the device list shows only live sessions.
func TestBumpFreesSessionSlots(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		store := st.open(t, clk)
		e := newTrackEnv(t, store, clk, newRing(t), func(c *httpx.Config) {
			c.Tracking.MaxPerUser = 1
			c.Tracking.OnLimit = httpx.RefuseNewLogin
		})
		e.device(t, "192.0.2.10", "A").mustLogin("alice")
		if code, _ := e.device(t, "192.0.2.11", "B").login("alice"); code != http.StatusForbidden {
			t.Fatalf("second login under a limit of one: %d, want refused", code)
		}
		if err := e.m.LogoutAll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if l, err := e.m.Sessions(t.Context(), "alice"); err != nil || len(l) != 0 {
			t.Fatalf("Sessions after LogoutAll = %v, %v; want none", l, err)
		}
		e.device(t, "192.0.2.12", "C").mustLogin("alice")
		// A bump from outside the Manager, as sealctl bump does.
		if _, err := store.BumpEpoch(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		e.device(t, "192.0.2.13", "D").mustLogin("alice")
		if l, err := e.m.Sessions(t.Context(), "alice"); err != nil || len(l) != 1 {
			t.Fatalf("Sessions after a bump and a login = %v, %v; want one", l, err)
		}
	})
}
