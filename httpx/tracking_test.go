package httpx_test

import (
	"context"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.WaitReady(ctx))
	return s
}

func uniqueRedisPrefix() string {
	return "track" + strconv.FormatInt(redisPrefixSeq.Add(1), 10) + ":"
}

func trackStores(t *testing.T) []trackStore {
	srv := redistest.Start(t) // one server for the whole test
	return []trackStore{
		{"memstore", func(t *testing.T, clk *clock) versioning.Store {
			return memstore.New(&memstore.Options{Now: clk.Now})
		}},
		{"boltstore", func(t *testing.T, clk *clock) versioning.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), &boltstore.Options{Now: clk.Now})
			require.NoError(t, err)
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
	require.NoError(t, err)
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
	t      testing.TB
	c      *client
	ip, ua string
}

func (e *trackEnv) device(t testing.TB, ip, ua string) *device {
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
	require.NoError(d.t, err)
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Test-IP", d.ip)
	req.Header.Set("User-Agent", d.ua)
	resp, err := d.c.c.Do(req)
	require.NoError(d.t, err)
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
	code, body := d.login(user)
	require.Equal(d.t, 200, code, "login of %s from %s: %s", user, d.ip, body)
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
	require.NoError(t, err, "Sessions(%s)", user)
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
		require.Len(t, l, 2, "Sessions(alice)")
		a, p := l[0], l[1]
		require.Equal(t, laptop.id(), a.ID.String(), "Sessions IDs: want the laptop's then the phone's")
		require.Equal(t, phone.id(), p.ID.String(), "Sessions IDs: want the laptop's then the phone's")
		assert.True(t, a.Created.Equal(loginA), "created: %+v", a)
		assert.True(t, a.LastSeen.Equal(loginA), "last seen: %+v", a)
		assert.True(t, p.Created.Equal(loginA.Add(time.Minute)), "created: %+v", p)
		assert.True(t, a.Expires.Equal(loginA.Add(24*time.Hour)), "Expires %v, want the absolute deadline %v", a.Expires, loginA.Add(24*time.Hour))
		assert.Equal(t, "192.0.2.0/24", a.Network, "network")
		assert.Equal(t, "2001:db8:7::/48", p.Network, "network")
		assert.Equal(t, "Firefox/140 (X11; Linux)", a.Client, "client")
		assert.Equal(t, "Safari/18 (iPhone)", p.Client, "client")
		assert.Len(t, sessionsOf(t, e.m, "bob"), 1, "bob's sessions")
		assert.Empty(t, sessionsOf(t, e.m, "nobody"), "unknown user")

		// Activity past the renewal threshold moves LastSeen.
		clk.Advance(5 * time.Minute)
		require.Equal(t, "user=alice", laptop.whoami(), "laptop")
		l = sessionsOf(t, e.m, "alice")
		assert.True(t, l[0].LastSeen.Equal(clk.Now()), "after the laptop's renewal: last seen %v, want %v", l[0].LastSeen, clk.Now())
		assert.True(t, l[1].LastSeen.Equal(loginA.Add(time.Minute)), "after the laptop's renewal: last seen %v, want it unchanged", l[1].LastSeen)

		// Logging out forgets the entry.
		code, _ := phone.do("POST", "/logout", "")
		require.Equal(t, 200, code, "logout failed")
		if l := sessionsOf(t, e.m, "alice"); assert.Len(t, l, 1, "after the phone logged out") {
			assert.Equal(t, a.ID, l[0].ID, "after the phone logged out")
		}
		// Entries end with the absolute timeout.
		clk.Advance(24 * time.Hour)
		assert.Empty(t, sessionsOf(t, e.m, "alice"), "after the absolute timeout")
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
		require.Len(t, l, 2, "sessions")
		phoneID, err := codec.ParseSessionID(phone.id())
		require.NoError(t, err)
		e.rec.reset()
		require.NoError(t, e.m.RevokeSession(t.Context(), "alice", phoneID))
		require.Equal(t, "user=", phone.whoami(), "revoked phone still logged in")
		assert.Equal(t, []string{"revoked"}, e.rec.reasons(), "reject reasons")
		require.Equal(t, "user=alice", laptop.whoami(), "the other device was logged out too")
		if l := sessionsOf(t, e.m, "alice"); assert.Len(t, l, 1, "after RevokeSession") {
			assert.Equal(t, "Firefox/140", l[0].Client, "after RevokeSession")
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
		require.Equal(t, "user=", devs[0].whoami(), "the oldest device survived the limit")
		assert.Equal(t, []string{"revoked"}, e.rec.reasons(), "reject reasons")
		for _, d := range devs[1:] {
			assert.Equal(t, "user=alice", d.whoami(), d.ua)
		}
		l := sessionsOf(t, e.m, "alice")
		if assert.Len(t, l, 2, "Sessions after eviction") {
			assert.Equal(t, "Browser/1", l[0].Client, "Sessions after eviction")
			assert.Equal(t, "Browser/2", l[1].Client, "Sessions after eviction")
		}
		// Other users have their own limit.
		e.device(t, "192.0.2.10", "B").mustLogin("bob")
		assert.Equal(t, "user=alice", devs[1].whoami(), "bob's login evicted alice")
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
		code, _ := c.login("alice")
		require.Equal(t, http.StatusForbidden, code, "third login: want refused")
		select {
		case err := <-e.loginErr:
			require.ErrorIs(t, err, versioning.ErrTooManySessions, "Login error")
		default:
			require.Fail(t, "no Login error recorded")
		}
		assert.Equal(t, "user=", c.whoami(), "refused device is logged in")
		for _, d := range []*device{a, b} {
			assert.Equal(t, "user=alice", d.whoami(), "existing session %s after a refused login", d.ua)
		}
		assert.Len(t, sessionsOf(t, e.m, "alice"), 2, "sessions after a refused login")
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
		require.NoError(t, e.m.ForceLogout(t.Context(), "alice"))
		assert.Empty(t, sessionsOf(t, e.m, "alice"), "Sessions after ForceLogout lists sessions that can no longer be used")
		code, body := e.device(t, "192.0.2.10", "C").login("alice")
		assert.Equal(t, 200, code, "login after ForceLogout refused: %s", body)
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
		require.Equal(t, "user=", old.whoami(), "idle session still served")
		code, body := e.device(t, "192.0.2.10", "B").login("alice")
		assert.Equal(t, 200, code, "login refused because of a session that idled out an hour ago: %s", body)
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
				require.Equal(t, http.StatusForbidden, code, "third login across instances: want refused")
				require.ErrorIs(t, <-inst[0].loginErr, versioning.ErrTooManySessions, "Login error")
			case httpx.EvictOldest:
				require.Equal(t, 200, code, "third login")
				// The oldest, logged in on instance 0, is refused on
				// instance 1 once the revocation has propagated.
				onOther := a.on(inst[1])
				deadline := time.Now().Add(2 * time.Second)
				for onOther.whoami() != "user=" {
					require.False(t, time.Now().After(deadline), "instance 1 still accepts the evicted session")
					time.Sleep(5 * time.Millisecond)
				}
			}
			for i, e := range inst {
				assert.Len(t, sessionsOf(t, e.m, "alice"), 2, "sessions instance %d sees", i)
			}

			// Concurrent logins through both instances: the limit holds.
			const workers = 8
			var wg sync.WaitGroup
			var ok atomic.Int64
			for i := range workers {
				d := inst[i%2].device(goroutineT{t}, "192.0.2.10", "W"+strconv.Itoa(i)) // used by a worker
				wg.Go(func() {
					if code, _ := d.login("carol"); code == 200 {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if action == httpx.RefuseNewLogin {
				assert.Equal(t, int64(2), ok.Load(), "concurrent logins accepted across two instances")
			}
			assert.Len(t, sessionsOf(t, inst[1].m, "carol"), 2, "carol's tracked sessions")
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
			require.Empty(t, e.rec.simultaneous(), "same network")
			e.device(t, "198.51.100.7", "C").mustLogin("alice")
			a := e.rec.simultaneous()
			require.Len(t, a, 1, "another network within the window")
			require.Contains(t, a[0], "192.0.2.0/24 and 198.51.100.0/24", "another network within the window")
			// Outside the window (no activity for longer) nothing is raised.
			e.rec.reset()
			clk.Advance(11 * time.Minute)
			e.device(t, "203.0.113.9", "D").mustLogin("alice")
			require.Empty(t, e.rec.simultaneous(), "after the window")
		})
		t.Run("Locate", func(t *testing.T) {
			clk := newClock()
			e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) { c.Tracking.Locate = locate })
			e.device(t, "192.0.2.10", "A").mustLogin("alice")
			e.device(t, "198.51.100.7", "B").mustLogin("alice") // Versailles: 17 km
			require.Empty(t, e.rec.simultaneous(), "near networks raised an anomaly")
			e.device(t, "203.0.113.9", "C").mustLogin("alice") // Tokyo
			a := e.rec.simultaneous()
			require.Len(t, a, 1, "distant networks")
			require.Contains(t, a[0], "203.0.113.0/24", "distant networks")
			// The anomaly is reported, not enforced: every session works.
			assert.Len(t, sessionsOf(t, e.m, "alice"), 3, "sessions")
		})
	})
}

func TestTrackingNeedsConfig(t *testing.T) {
	clk := newClock()
	m, err := httpx.New(httpx.Config{Keys: newRing(t), Store: memstore.New(nil), Policy: versioning.Policy{Now: clk.Now}})
	require.NoError(t, err)
	_, err = m.Sessions(t.Context(), "alice")
	assert.ErrorIs(t, err, httpx.ErrNoTracking, "Sessions without TrackSessions")
	assert.ErrorIs(t, m.RevokeSession(t.Context(), "alice", [16]byte{1}), httpx.ErrNoTracking, "RevokeSession without TrackSessions")
	_, err = httpx.New(httpx.Config{Keys: newRing(t), Tracking: &httpx.Tracking{MaxPerUser: -1}})
	assert.ErrorIs(t, err, httpx.ErrConfig, "negative Tracking.MaxPerUser")
	_, err = httpx.New(httpx.Config{Keys: newRing(t), Store: noTracker{memstore.New(nil)}, Tracking: &httpx.Tracking{}})
	assert.ErrorIs(t, err, httpx.ErrConfig, "Tracking with a store that cannot track")
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
		code, _ := e.device(t, "192.0.2.11", "B").login("alice")
		require.Equal(t, http.StatusForbidden, code, "second login under a limit of one: want refused")
		require.NoError(t, e.m.LogoutAll(t.Context()))
		l, err := e.m.Sessions(t.Context(), "alice")
		require.NoError(t, err, "Sessions after LogoutAll")
		require.Empty(t, l, "Sessions after LogoutAll: want none")
		e.device(t, "192.0.2.12", "C").mustLogin("alice")
		// A bump from outside the Manager, as sealctl bump does.
		_, err = store.BumpEpoch(t.Context(), "alice")
		require.NoError(t, err)
		e.device(t, "192.0.2.13", "D").mustLogin("alice")
		l, err = e.m.Sessions(t.Context(), "alice")
		require.NoError(t, err, "Sessions after a bump and a login")
		require.Len(t, l, 1, "Sessions after a bump and a login: want one")
	})
}
