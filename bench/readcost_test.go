package bench

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// readCostVariants are the middleware's read-only request with its
// per-request checks switched off one at a time, through the public API,
// to show what each costs against the open+decode contender measured in
// the same run. None of them is a setting we recommend: they measure.
var readCostVariants = []struct {
	name string
	set  func(*httpx.Config)
}{
	{"defaults", func(*httpx.Config) {}},
	// The client binding: hashing the client's network prefix and
	// User-Agent and comparing them with the session's.
	{"no-binding", func(c *httpx.Config) { c.Binding.OnChange = httpx.ClientChangeIgnore }},
	// The clock read (a function returning a constant instead).
	{"fixed-clock", func(c *httpx.Config) { c.Policy.Now = fixedClock(time.Now()) }},
	// The epoch and revocation lookup: a store that knows no user
	// instead of the in-memory one.
	{"no-store", func(c *httpx.Config) { c.Store = emptyStore{} }},
	// All three: what is left is the plumbing (cookie scan, the request
	// and context the handler gets, Vary and Cache-Control, the save
	// decision) and the harness.
	{"none", func(c *httpx.Config) {
		c.Binding.OnChange = httpx.ClientChangeIgnore
		c.Policy.Now = fixedClock(time.Now())
		c.Store = emptyStore{}
	}},
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// emptyStore is a versioning.Store that knows no user: every lookup
// answers epoch 0, not revoked, without a lock or a map. It records
// nothing, so it is only fit for measuring what a real store's lookup
// costs.
type emptyStore struct{}

var errEmptyStore = errors.New("bench: the empty store records nothing")

func (emptyStore) Epoch(context.Context, string) (uint64, error)     { return 0, nil }
func (emptyStore) BumpEpoch(context.Context, string) (uint64, error) { return 0, errEmptyStore }
func (emptyStore) BumpGlobalEpoch(context.Context) error             { return errEmptyStore }
func (emptyStore) Revoke(context.Context, string, codec.SessionID, time.Time) error {
	return errEmptyStore
}
func (emptyStore) Lookup(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
	return versioning.SessionState{}, nil
}
func (emptyStore) Close() error { return nil }

// readCostConfig is the benchmarks' configuration (NewManager's) changed
// by set.
func readCostConfig(set func(*httpx.Config)) httpx.Config {
	cfg := httpx.Config{Keys: Keyring(), Cookie: httpx.CookieConfig{MaxHeaderBytes: RaisedMaxHeaderBytes}}
	set(&cfg)
	return cfg
}

// newReadCostContender sets up sealedsession's middleware, changed by set,
// with session s.
func newReadCostContender(s Session, set func(*httpx.Config)) (*Contender, error) {
	m, err := httpx.New(readCostConfig(set))
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
		c, err := newReadCostContender(s, v.set)
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
			cfg := readCostConfig(v.set)
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
			noBinding := v.name == "no-binding" || v.name == "none"
			assert.Equal(t, !noBinding, anomalies.Load() > 0, "anomaly from another network")

			fixed := v.name == "fixed-clock" || v.name == "none"
			t0 := m.Policy().Now()
			time.Sleep(2 * time.Millisecond)
			assert.Equal(t, fixed, m.Policy().Now().Equal(t0), "the clock stands still")

			_, empty := m.Store().(emptyStore)
			assert.Equal(t, v.name == "no-store" || v.name == "none", empty, "the store knows no user")
		})
	}
}
