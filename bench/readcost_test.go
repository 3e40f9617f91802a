package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning/mock"
)

// readCostVariant is the middleware's read-only request with some of its
// per-request checks switched off through the public API, to show what
// each costs against the open+decode contender measured in the same run.
// None of them is a setting we recommend: they measure.
type readCostVariant struct {
	name string
	// noBinding: no client binding (hashing the client's network prefix
	// and User-Agent and comparing them with the session's).
	noBinding bool
	// fixedClock: no clock read (a function returning a constant).
	fixedClock bool
	// noStore: no epoch and revocation lookup (the project's mock.Store,
	// which answers epoch 0, not revoked, for everyone, instead of the
	// in-memory store).
	noStore bool
}

// readCostVariants are the defaults, each check off alone, and all three
// off: what is left then is the plumbing (cookie scan, the request and
// context the handler gets, Vary and Cache-Control, the save decision)
// and the harness.
var readCostVariants = []readCostVariant{
	{name: "defaults"},
	{name: "no-binding", noBinding: true},
	{name: "fixed-clock", fixedClock: true},
	{name: "no-store", noStore: true},
	{name: "none", noBinding: true, fixedClock: true, noStore: true},
}

// config is the benchmarks' configuration (NewManager's) with the
// variant's checks off.
func (v readCostVariant) config() httpx.Config {
	cfg := httpx.Config{Keys: Keyring(), Cookie: httpx.CookieConfig{MaxHeaderBytes: RaisedMaxHeaderBytes}}
	if v.noBinding {
		cfg.Binding.OnChange = httpx.ClientChangeIgnore
	}
	if v.fixedClock {
		t := time.Now()
		cfg.Policy.Now = func() time.Time { return t }
	}
	if v.noStore {
		cfg.Store = &mock.Store{}
	}
	return cfg
}

// newContender sets up sealedsession's middleware as the variant says,
// with session s.
func (v readCostVariant) newContender(s Session) (*Contender, error) {
	m, err := httpx.New(v.config())
	if err != nil {
		return nil, err
	}
	return newSealedSession(m, s, nil)
}

// readCostBatch is the number of requests each variant serves in a row
// before the next takes over: long enough (about 0.2 ms) that the two
// clock reads around a batch cost nothing measurable, short enough that a
// change in the machine's speed hits every variant alike.
const readCostBatch = 100

// BenchmarkReadCost measures the read-only request of the typical payload
// with each of the middleware's per-request checks switched off in turn,
// next to the open+decode contender, interleaved: each iteration serves a
// batch of every variant in turn, so all of them see the same machine.
// It reports each variant's time per request ("<variant>-ns/req") and its
// ratio to open+decode ("<variant>/codec"); bench/cmd/report turns them
// into the table of what each check costs. The benchmark's own ns/op is
// the time of one round of batches and means nothing by itself.
func BenchmarkReadCost(b *testing.B) {
	s := Typical(time.Now())
	od, err := NewOpenDecode(s)
	require.NoError(b, err)
	type runner struct {
		name  string
		batch func()
		total time.Duration
	}
	runners := []*runner{{name: "codec", batch: func() {
		for range readCostBatch {
			if _, _, err := od.Read(); err != nil {
				panic(err) // the same text opened a moment ago
			}
		}
	}}}
	for _, v := range readCostVariants {
		c, err := v.newContender(s)
		require.NoError(b, err)
		h, tmpl, w := c.Read, NewRequest(c.Cookie), NewWriter()
		Serve(h, tmpl, w)
		require.Contains(b, []int{0, http.StatusOK}, w.Code, "%s: status", v.name)
		runners = append(runners, &runner{name: v.name, batch: func() {
			for range readCostBatch {
				Serve(h, tmpl, w)
			}
		}})
	}
	for b.Loop() {
		for _, r := range runners {
			start := time.Now()
			r.batch()
			r.total += time.Since(start)
		}
	}
	n := float64(b.N * readCostBatch)
	codec := float64(runners[0].total) / n
	for _, r := range runners {
		per := float64(r.total) / n
		b.ReportMetric(per, r.name+"-ns/req")
		if r != runners[0] {
			b.ReportMetric(per/codec, r.name+"/codec")
		}
	}
}

// TestReadCostVariants checks that every variant serves the session (a
// variant that refused it would measure the refusal) and switches off
// exactly what it says: the binding (a client from another network raises
// no anomaly), the clock (it stands still) or the store (the in-memory
// one is not used).
func TestReadCostVariants(t *testing.T) {
	s := Typical(time.Now())
	for _, v := range readCostVariants {
		t.Run(v.name, func(t *testing.T) {
			var anomalies atomic.Int32
			cfg := v.config()
			cfg.Observer = httpx.ObserverFunc(func(_ context.Context, e httpx.Event) {
				if e.Kind == httpx.EventAnomaly {
					anomalies.Add(1)
				}
			})
			m, err := httpx.New(cfg)
			require.NoError(t, err)
			var got []CartItem
			c, err := newSealedSession(m, s, func(uid string, cart []CartItem) {
				assert.Equal(t, s.UserID, uid)
				got = cart
			})
			require.NoError(t, err)
			serve := func(remote string) {
				got = nil
				r := NewRequest(c.Cookie)
				r.RemoteAddr = remote
				w := NewWriter()
				Serve(c.Read, r, w)
				require.Contains(t, []int{0, http.StatusOK}, w.Code, "status")
				require.Equal(t, s.Cart, got, "the cart the handler read")
			}
			serve("192.0.2.1:1234") // where the benchmark's session logged in
			require.Zero(t, anomalies.Load(), "an anomaly from the login's own client")
			serve("198.51.100.7:1234")
			assert.Equal(t, !v.noBinding, anomalies.Load() > 0, "anomaly from another network")

			t0 := m.Policy().Now()
			time.Sleep(2 * time.Millisecond)
			assert.Equal(t, v.fixedClock, m.Policy().Now().Equal(t0), "the clock stands still")

			_, mocked := m.Store().(*mock.Store)
			assert.Equal(t, v.noStore, mocked, "the store knows no user")
		})
	}
}
