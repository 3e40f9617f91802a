package reliability

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/internal/redistest"
)

// opsPerLogin is how many cart and session requests a soak client makes
// per login: a login costs a bcrypt hash (tens of milliseconds of CPU), so
// it must be the rarer request for the soak to load the session path.
const opsPerLogin = 40

// soakConfig reads SEALEDSESSION_SOAK (duration, default 10s) and
// SEALEDSESSION_SOAK_CLIENTS (default 50).
func soakConfig(t *testing.T) (time.Duration, int) {
	dur, clients := 10*time.Second, 50
	if v := os.Getenv("SEALEDSESSION_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "SEALEDSESSION_SOAK=%q", v)
		dur = d
	}
	if v := os.Getenv("SEALEDSESSION_SOAK_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "SEALEDSESSION_SOAK_CLIENTS=%q", v)
		require.GreaterOrEqual(t, n, 1, "SEALEDSESSION_SOAK_CLIENTS=%q", v)
		clients = n
	}
	return dur, clients
}

// issued is an alice cookie and when its login finished.
type issued struct {
	header string
	at     time.Time
}

// soakStats are the soak's counters.
type soakStats struct {
	requests, logins, status5xx, transport atomic.Int64
	replays, replayLate, violations        atomic.Int64
	forceLogouts, logouts, everywhere      atomic.Int64
	mu                                     sync.Mutex
	codes                                  map[int]int64
	firstErr                               string
}

func (s *soakStats) note(code int, err error) {
	s.requests.Add(1)
	if err != nil {
		s.transport.Add(1)
		s.mu.Lock()
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
		s.mu.Unlock()
		return
	}
	if code >= 500 {
		s.status5xx.Add(1)
	}
	s.mu.Lock()
	s.codes[code]++
	s.mu.Unlock()
}

// TestSoak runs concurrent clients against two demos sharing a real
// redis-server: each cycle logs in (alice or admin, on a random instance),
// reads and fills the cart on both instances, then logs out, logs out
// everywhere, or (admin) force-logs-out alice, and replays what it held
// before: every replay must be refused. Zero 5xx, zero transport errors,
// zero accepted replays; the demos' peak RSS is reported and bounded.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak; -short")
	}
	dur, nclients := soakConfig(t)
	rs := redistest.Start(t)
	keys := newKeys(t)
	store := "redis://" + rs.Addr() + "/0"
	demos := []*demo{startDemo(t, demoOpts{keys: keys, store: store}), startDemo(t, demoOpts{keys: keys, store: store})}
	st := &soakStats{codes: map[int]int64{}}

	var (
		ringMu sync.Mutex
		ring   []issued // recent alice cookies
	)
	remember := func(h string) {
		ringMu.Lock()
		ring = append(ring, issued{h, time.Now()})
		if len(ring) > 64 {
			ring = ring[len(ring)-64:]
		}
		ringMu.Unlock()
	}
	before := func(t0 time.Time) []string {
		ringMu.Lock()
		defer ringMu.Unlock()
		var out []string
		for _, is := range ring {
			if is.at.Before(t0) {
				out = append(out, is.header)
			}
		}
		if len(out) > 4 {
			out = out[len(out)-4:]
		}
		return out
	}

	// replay checks that a cookie header that must be refused is refused
	// on instance d. Revocations and bumps reach the other instance by
	// pub/sub; an acceptance is retried for up to 200 ms (the propagation
	// window) and only then counted as a violation.
	replay := func(c *client, d *demo, header string) {
		st.replays.Add(1)
		probe := &client{t: t, base: d.url, hc: c.hc, cookies: map[string]string{}}
		for i := 0; ; i++ {
			si, err := probe.sessionWith(&header)
			st.note(http.StatusOK, err)
			if err != nil || !si.Authenticated {
				if i > 0 {
					st.replayLate.Add(1)
				}
				return
			}
			if i == 10 {
				st.violations.Add(1)
				assert.Fail(t, "a cookie that must be refused is still accepted after 200ms", "on %s: %+v", d.url, si)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	rss0 := make([]int, len(demos))
	for i, d := range demos {
		rss0[i], _ = d.memory()
	}
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i := range nclients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			for time.Now().Before(deadline) {
				d := demos[rnd.IntN(2)]
				other := demos[0]
				if d == demos[0] {
					other = demos[1]
				}
				c := newClient(t, d.url)
				user, pw := alice, alicePassword
				if rnd.IntN(3) == 0 {
					user, pw = admin, adminPassword
				}
				resp, _, err := c.do("POST", "/login", url.Values{"user": {user}, "password": {pw}}, nil)
				st.note(code(resp), err)
				if err != nil || resp.StatusCode != http.StatusSeeOther {
					continue
				}
				st.logins.Add(1)
				if user == alice {
					remember(cookieHeaderOf(c.snapshot()))
				}
				for k := 0; k < opsPerLogin && time.Now().Before(deadline); k++ {
					c.base = demos[k%2].url
					switch k % 4 {
					case 0:
						if k%16 == 12 {
							resp, _, err = c.do("POST", "/cart/clear", nil, nil)
							break
						}
						fallthrough
					case 2:
						resp, _, err = c.do("POST", "/cart/add", url.Values{"count": {strconv.Itoa(1 + rnd.IntN(3))}}, nil)
					case 1:
						resp, _, err = c.do("GET", "/cart", nil, nil)
					case 3:
						resp, _, err = c.do("GET", "/api/session", nil, nil)
					}
					st.note(code(resp), err)
				}
				held := cookieHeaderOf(c.snapshot())
				c.base = d.url
				switch {
				case user == admin && rnd.IntN(2) == 0:
					start := time.Now()
					resp, _, err = c.do("POST", "/admin/force-logout", url.Values{"user": {alice}}, nil)
					st.note(code(resp), err)
					// 303 to /admin is done; 303 to /login means this
					// admin was logged out meanwhile (another admin client
					// logged out everywhere): nothing was bumped.
					if err == nil && resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/admin" {
						st.forceLogouts.Add(1)
						for _, h := range before(start) {
							replay(c, other, h)
						}
					}
				case rnd.IntN(4) == 0:
					resp, _, err = c.do("POST", "/logout-everywhere", nil, nil)
					st.note(code(resp), err)
					if err == nil && resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/?msg=bye-all" {
						st.everywhere.Add(1)
						replay(c, other, held)
					}
				default:
					resp, _, err = c.do("POST", "/logout", nil, nil)
					st.note(code(resp), err)
					if err == nil && resp.StatusCode == http.StatusSeeOther {
						st.logouts.Add(1)
						replay(c, other, held)
						replay(c, d, held)
					}
				}
			}
		}()
	}
	// Sample RSS while it runs.
	peakRSS := make([]int, len(demos))
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			for i, d := range demos {
				r, _ := d.memory()
				peakRSS[i] = max(peakRSS[i], r)
			}
		}
	}
	elapsed := dur
	for i, d := range demos {
		d.alive()
		_, hwm := d.memory()
		t.Logf("demo %d: RSS %d KiB at start, peak sampled %d KiB, VmHWM %d KiB", i, rss0[i], peakRSS[i], hwm)
		assert.LessOrEqual(t, hwm, 512<<10, "demo %d peak RSS (KiB)", i)
	}
	st.mu.Lock()
	t.Logf("soak %v, %d clients, 2 demos on redis: %d requests (%.0f/s), codes %v, %d logins, %d logouts, %d log-out-everywhere, %d force-logouts; %d replays refused (%d only after a retry), %d accepted; %d 5xx, %d transport errors %s",
		elapsed, nclients, st.requests.Load(), float64(st.requests.Load())/elapsed.Seconds(), st.codes, st.logins.Load(), st.logouts.Load(), st.everywhere.Load(), st.forceLogouts.Load(),
		st.replays.Load()-st.violations.Load(), st.replayLate.Load(), st.violations.Load(), st.status5xx.Load(), st.transport.Load(), st.firstErr)
	st.mu.Unlock()
	require.Zero(t, st.status5xx.Load(), "5xx answers (%d transport errors, %d accepted replays)", st.transport.Load(), st.violations.Load())
	require.Zero(t, st.transport.Load(), "transport errors (%d accepted replays)", st.violations.Load())
	require.Zero(t, st.violations.Load(), "accepted replays")
	require.NotZero(t, st.replays.Load(), "the soak did nothing: no replays")
	require.NotZero(t, st.logins.Load(), "the soak did nothing: no logins")
}

func code(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
