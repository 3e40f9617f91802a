package reliability

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
)

// phaseStats counts answers during one phase of a fault test.
type phaseStats struct {
	mu        sync.Mutex
	codes     map[int]int
	authOK    int // /api/session said authenticated
	authLost  int // a logged-in reader was anonymous
	transport int
}

func newPhase() *phaseStats { return &phaseStats{codes: map[int]int{}} }

func (p *phaseStats) add(code int, auth, wantAuth bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.transport++
		return
	}
	p.codes[code]++
	if wantAuth {
		if auth {
			p.authOK++
		} else {
			p.authLost++
		}
	}
}

// TestRedisKilledUnderLoad: two demos share a redis-server with AOF
// (appendfsync always). Readers (logged-in, GET /api/session) and writers
// (POST /cart/clear) hammer both while redis is killed with SIGKILL for 5 s
// and restarted. Fail-closed: once the store has noticed the outage (its
// health check, about 2 s), the logged-in readers are
// served as anonymous (store_unavailable, cookie kept), nothing answers 500
// or panics; after the restart every reader is logged in again without a
// demo restart, and the cookies revoked and bumped before the crash stay
// refused.
func TestRedisKilledUnderLoad(t *testing.T) {
	rs := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	keys := newKeys(t)
	store := "redis://" + rs.Addr() + "/0"
	demos := []*demo{startDemo(t, demoOpts{keys: keys, store: store}), startDemo(t, demoOpts{keys: keys, store: store})}

	// State that must survive the crash: a revoked and a bumped cookie.
	rv := newClient(t, demos[0].url)
	rv.login(admin, adminPassword)
	revoked := cookieHeaderOf(rv.snapshot())
	rv.must("POST", "/logout", nil, http.StatusSeeOther)
	bv := newClient(t, demos[1].url)
	bv.login(alice, alicePassword)
	bumped := cookieHeaderOf(bv.snapshot())
	ad := newClient(t, demos[1].url)
	ad.login(admin, adminPassword)
	ad.must("POST", "/admin/force-logout", url.Values{"user": {alice}}, http.StatusSeeOther)

	const readers, writers = 8, 4
	var (
		phase   atomic.Pointer[phaseStats]
		stop    atomic.Bool
		wg      sync.WaitGroup
		clients []*client
	)
	phase.Store(newPhase())
	before := phase.Load()
	for i := range readers {
		c := newClient(t, demos[i%2].url)
		c.login(admin, adminPassword)
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				si, err := c.sessionWith(nil)
				phase.Load().add(http.StatusOK, si.Authenticated, true, err)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	for i := range writers {
		c := newClient(t, demos[i%2].url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, _, err := c.do("POST", "/cart/clear", nil, nil)
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				phase.Load().add(code, false, false, err)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	detect := newPhase()
	phase.Store(detect)
	rs.Kill()
	killed := time.Now()
	// The store trusts its cache until its health check misses an answer
	// (HealthCheckInterval 1s, then a timeout): no bump or revocation can
	// be written meanwhile, so that is safe. Past that, fail closed.
	time.Sleep(3 * time.Second)
	outage := newPhase()
	phase.Store(outage)
	time.Sleep(2 * time.Second)
	after := newPhase()
	phase.Store(after)
	rs.Restart()
	restarted := time.Now()

	// Every reader must be logged in again, by itself.
	var recovered time.Duration
	for _, c := range clients {
		for {
			si, err := c.sessionWith(nil)
			if err == nil && si.Authenticated {
				break
			}
			require.LessOrEqual(t, time.Since(restarted), 15*time.Second, "a reader is still not logged in after redis came back: %+v %v", si, err)
			time.Sleep(20 * time.Millisecond)
		}
	}
	recovered = time.Since(restarted)
	settled := newPhase()
	phase.Store(settled)
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	for name, p := range map[string]*phaseStats{"before": before, "detect": detect, "outage": outage, "restart": after, "settled": settled} {
		t.Logf("%-8s codes %v, logged-in answers %d, anonymous for a logged-in reader %d, transport errors %d", name, p.codes, p.authOK, p.authLost, p.transport)
		for code, n := range p.codes {
			assert.True(t, code < 500 || code == http.StatusServiceUnavailable, "%s: %d answers with status %d", name, n, code)
		}
		assert.Zero(t, p.transport, "%s: transport errors", name)
	}
	assert.Zero(t, before.authLost, "logged-in readers lost their session with redis up (before)")
	assert.Zero(t, settled.authLost, "logged-in readers lost their session with redis up (settled)")
	// Fail closed: nothing can be checked, so nothing is current.
	assert.Zero(t, outage.authOK, "logged-in answers 3-5 s into the redis outage (fail closed)")
	assert.NotZero(t, outage.authLost, "no request reached the demos during the outage")
	t.Logf("redis killed for %v; all %d readers logged in again %v after the restart", restarted.Sub(killed).Round(time.Millisecond), readers, recovered.Round(time.Millisecond))

	for i, d := range demos {
		c := newClient(t, d.url)
		m := d.mark()
		refused(t, c, revoked, "revoked before the crash")
		refused(t, c, bumped, "bumped before the crash")
		wantReasons(t, d, m, map[string]int{"revoked": 1, "epoch_bumped": 1})
		assert.NotEmpty(t, reasonStoreRE.FindAllString(d.log.String(), -1), "demo %d logged no store_unavailable rejection", i)
		d.alive()
	}
}

var reasonStoreRE = reasonRegexp("store_unavailable")

// TestBoltUnwritable: the demo's bbolt file and folder made read-only while
// it runs. The demo holds the file open read-write, and root ignores the
// modes, so this is recorded, not a fault: every request still answers
// 2xx/3xx or a clean 503, and nothing panics. The real unwritable store is
// TestBoltReadOnlyStore.
func TestBoltUnwritable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	d := startDemo(t, demoOpts{store: "bolt:" + path})
	c := newClient(t, d.url)
	c.login(alice, alicePassword)
	chmod(t, path, 0o400)
	chmod(t, dir, 0o500)
	t.Cleanup(func() { chmod(t, dir, 0o700); chmod(t, path, 0o600) })
	resp, _, err := c.do("POST", "/logout-everywhere", nil, nil)
	require.NoError(t, err, "log out everywhere with a read-only bolt file")
	require.Contains(t, []int{http.StatusSeeOther, http.StatusServiceUnavailable}, resp.StatusCode, "log out everywhere with a read-only bolt file: status")
	t.Logf("log out everywhere on a chmod 0400 file (uid %d): status %d", uidOf(), resp.StatusCode)
	c.login(alice, alicePassword)
	resp, _, err = c.do("POST", "/logout", nil, nil)
	require.NoError(t, err, "logout")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "logout: status")
	d.alive()
}

// TestBoltReadOnlyStore: a bbolt store that cannot write (opened read-only,
// so every write fails like a full or read-only disk) behind the
// middleware. Reads keep working (sessions stay current); logout cannot
// revoke and answers an error page from the handler; ForceLogout fails
// with ErrStoreUnavailable and a 503; nothing panics.
func TestBoltReadOnlyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	rw, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	_, err = rw.BumpEpoch(context.Background(), "carol")
	require.NoError(t, err)
	require.NoError(t, rw.Close())
	ro, err := boltstore.Open(path, &boltstore.Options{ReadOnly: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ro.Close() })
	x := newHX(t, httpx.Config{Keys: testRing(t), Store: ro})
	jar := map[string]string{}
	u, r, code := x.call(t, "/login?user=alice", jar)
	require.Equal(t, "alice", u, "login on a read-only store (reason %q, status %d)", r, code)
	require.Equal(t, http.StatusOK, code, "login on a read-only store: status")
	u, _, _ = x.call(t, "/hit", jar)
	require.Equal(t, "alice", u, "session not current on a read-only store")
	captured := copyJar(jar)
	_, _, code = x.call(t, "/logout", jar)
	require.Equal(t, http.StatusServiceUnavailable, code, "logout on a read-only store: want the handler's 503")
	err = x.m.ForceLogout(context.Background(), "alice")
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "ForceLogout on a read-only store")
	// The revocation could not be written: the captured cookie still works.
	// This is what a failed logout means; the handler must say so.
	u, _, _ = x.call(t, "/", copyJar(captured))
	assert.Equal(t, "alice", u, "captured cookie after the failed logout")
}

// TestKeyRotationUnderLoad: 32 clients hammer a Manager over loopback
// while the key ring is rotated twice; every request is served as the
// client's own logged-in user, and every client ends with a cookie sealed
// by the newest key (re-sealed on its next response).
func TestKeyRotationUnderLoad(t *testing.T) {
	ring := testRing(t)
	var resealed atomic.Int64
	rec := httpx.ObserverFunc(func(_ context.Context, e httpx.Event) {
		if e.Kind == httpx.EventResealed {
			resealed.Add(1)
		}
	})
	m, err := httpx.New(httpx.Config{Keys: ring, Observer: rec})
	require.NoError(t, err)
	srv := httptest.NewServer(m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if u := r.URL.Query().Get("login"); u != "" {
			if err := s.Login(u); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		n, _ := userKey.Get(s)
		_ = userKey.Set(s, n+1)
		w.Header().Set("X-User", s.UserID())
	})))
	t.Cleanup(srv.Close)

	const clients = 32
	var (
		stop     atomic.Bool
		requests atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
		cs       []*client
	)
	for i := range clients {
		c := newClient(t, srv.URL)
		user := "u" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		resp, _, err := c.do("GET", "/?login="+url.QueryEscape(user), nil, nil)
		require.NoError(t, err, "login %s", user)
		require.Equal(t, user, resp.Header.Get("X-User"), "login %s", user)
		cs = append(cs, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, _, err := c.do("GET", "/", nil, nil)
				requests.Add(1)
				if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-User") != user {
					failures.Add(1)
				}
			}
		}()
	}
	var newest *sealed.Key
	for range 2 {
		time.Sleep(500 * time.Millisecond)
		k, err := sealed.GenerateKey()
		require.NoError(t, err)
		require.NoError(t, ring.Rotate(k))
		newest = k
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	require.Zero(t, failures.Load(), "requests failed across two rotations (of %d)", requests.Load())
	for i, c := range cs {
		v := c.snapshot()[cookieName]
		raw, err := base64.RawURLEncoding.DecodeString(v)
		require.NoError(t, err, "client %d: cookie %q", i, v)
		require.GreaterOrEqual(t, len(raw), 5, "client %d: cookie %q", i, v)
		assert.Equal(t, newest.ID(), sealed.KeyID(binary.BigEndian.Uint32(raw[1:5])), "client %d still holds a cookie of an older key", i)
	}
	t.Logf("%d requests by %d clients across 2 rotations: 0 failed, %d re-sealed", requests.Load(), clients, resealed.Load())
}
