package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

var prefixSeq atomic.Int64

// uniquePrefix keeps stores of different tests apart on one server.
func uniquePrefix(t testing.TB) string {
	return "t" + strconv.FormatInt(prefixSeq.Add(1), 10) + ":"
}

// newClient returns a client for addr with short timeouts and no retries,
// closed when the test ends (after the stores using it).
func newClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		MaxRetries:   -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newStore returns a ready store, closed when the test ends.
func openStore(t testing.TB, c redis.UniversalClient, o *Options, hook func(Message)) *Store {
	t.Helper()
	s, err := newStore(c, o, hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) versioning.Store {
		return openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t)}, nil)
	})
}

// TestConformanceDirect runs the suite on stores that never trust their
// cache, so every read takes the direct path.
func TestConformanceDirect(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) versioning.Store {
		s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t)}, nil)
		s.cancel() // stop the subscriber
		<-s.done
		s.markStale(time.Now())
		if ok, _ := s.Trusted(); ok {
			t.Fatal("store still trusted")
		}
		return s
	})
}

func TestNewInvalid(t *testing.T) {
	if _, err := New(nil, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New(nil) = %v, want ErrInvalidOptions", err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []Options{{MaxStale: -1}, {HealthCheckInterval: time.Millisecond}, {MaxCachedUsers: -1}, {Prefix: "app{x}:"}, {Prefix: "a{"}} {
		if _, err := New(c, &o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}

// cmdCounter counts the commands a client sends, by name.
type cmdCounter struct {
	mu    sync.Mutex
	names []string
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		for _, cmd := range cmds {
			c.names = append(c.names, cmd.Name())
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *cmdCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = nil
	return n
}

// serverCalls sums the calls of every command the server executed except
// PING, INFO and the subscriber's own (from INFO commandstats).
func serverCalls(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	info, err := srv.Do("INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":calls=")
		if !ok || name == "cmdstat_ping" || name == "cmdstat_info" {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("commandstats line %q", line)
		}
		total += v
	}
	return total
}

func TestZeroRoundTripsInSteadyState(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	counter := &cmdCounter{}
	c.AddHook(counter)
	s := openStore(t, c, &Options{Prefix: uniquePrefix(t)}, nil)
	ctx := t.Context()

	users := []string{"alice", "bob", "carol"}
	ids := make([]codec.SessionID, 4)
	for i := range ids {
		ids[i] = codec.SessionID{byte(i + 1)}
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, ids[0], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Warm-up: the first read of each user fills the cache with one GET.
	for _, u := range users {
		if _, err := s.Epoch(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	warm := counter.take()
	if got := slices.Index(warm, "get"); got < 0 {
		t.Errorf("warm-up sent %v, expected GETs for the user misses", warm)
	}

	before := serverCalls(t, srv)
	const rounds = 10_000
	for i := range rounds {
		e, err := s.Epoch(ctx, users[i%len(users)])
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(0); users[i%len(users)] == "alice" {
			want = 1
			if e != want {
				t.Fatalf("Epoch(alice) = %d, want %d", e, want)
			}
		}
		r, err := s.IsRevoked(ctx, ids[i%len(ids)])
		if err != nil {
			t.Fatal(err)
		}
		if r != (i%len(ids) == 0) {
			t.Fatalf("IsRevoked(%d) = %v", i%len(ids), r)
		}
	}
	if sent := counter.take(); len(sent) != 0 {
		t.Errorf("%d Epoch + %d IsRevoked calls in steady state sent %d commands: %v", rounds, rounds, len(sent), sent[:min(len(sent), 10)])
	}
	if after := serverCalls(t, srv); after != before {
		t.Errorf("server executed %d commands during the steady-state reads", after-before)
	}
	t.Logf("%d Epoch + %d IsRevoked calls after warm-up: 0 commands sent by the client, 0 executed by the server", rounds, rounds)
}

// waitUntil polls cond every 200µs until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func TestPropagationDelay(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	a := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	var seen atomic.Uint64
	var seenAt atomic.Int64 // unix ns when B applied the latest alice message
	b := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, func(m Message) {
		if m.Kind == KindUser && m.UserID == "alice" {
			seenAt.Store(time.Now().UnixNano())
			seen.Store(m.Value)
		}
	})
	ctx := t.Context()
	if _, err := b.Epoch(ctx, "alice"); err != nil { // cache alice on B
		t.Fatal(err)
	}
	const n = 200
	delays := make([]time.Duration, 0, n)
	acks := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		e, err := a.BumpEpoch(ctx, "alice")
		acked := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if e != uint64(i+1) {
			t.Fatalf("bump %d returned %d", i+1, e)
		}
		if !waitUntil(2*time.Second, func() bool { return seen.Load() >= e }) {
			t.Fatalf("bump %d not seen by B within 2s", e)
		}
		at := time.Unix(0, seenAt.Load())
		delays = append(delays, at.Sub(start))
		acks = append(acks, acked.Sub(start))
		// B answers with the new epoch from its cache.
		if got, err := b.Epoch(ctx, "alice"); err != nil || got != e {
			t.Fatalf("B.Epoch after bump %d = %d, %v", e, got, err)
		}
	}
	med, p99 := percentile(delays, 0.5), percentile(delays, 0.99)
	t.Logf("bump-to-visible on another instance over %d bumps (from the BumpEpoch call to B's cache updated): median %v, p99 %v, max %v; for comparison BumpEpoch's own round trip: median %v, p99 %v",
		n, med, p99, slices.Max(delays), percentile(acks, 0.5), percentile(acks, 0.99))
	if p99 > 500*time.Millisecond {
		t.Errorf("p99 bump-to-visible delay %v exceeds 500ms", p99)
	}

	// Revocations and global bumps propagate too.
	id := codec.SessionID{9}
	if err := a.Revoke(ctx, id, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { r, _ := b.IsRevoked(ctx, id); return r }) {
		t.Fatal("revocation not seen by B")
	}
	if err := a.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { e, _ := b.Epoch(ctx, "alice"); return e == n+1 }) {
		t.Fatal("global bump not seen by B")
	}
}

func TestLoadOnStart(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	a := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	live, expired := codec.SessionID{1}, codec.SessionID{2}
	if err := a.Revoke(ctx, live, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, expired, time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := a.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)

	c := newClient(t, srv.Addr())
	counter := &cmdCounter{}
	c.AddHook(counter)
	b := openStore(t, c, &Options{Prefix: prefix}, nil)
	counter.take()
	if r, err := b.IsRevoked(ctx, live); err != nil || !r {
		t.Errorf("IsRevoked(live) on a new store = %v, %v", r, err)
	}
	if r, err := b.IsRevoked(ctx, expired); err != nil || r {
		t.Errorf("IsRevoked(expired) on a new store = %v, %v", r, err)
	}
	if sent := counter.take(); len(sent) != 0 {
		t.Errorf("IsRevoked on a freshly loaded store sent %v", sent)
	}
	if e, err := b.Epoch(ctx, "nobody"); err != nil || e != 1 {
		t.Errorf("Epoch after a global bump = %d, %v; want 1", e, err)
	}
	b.mu.RLock()
	_, has := b.revoked[expired]
	b.mu.RUnlock()
	if has {
		t.Error("expired revocation loaded into the mirror")
	}
}

func TestBadMessageFlushesCache(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	// Change the counter behind the store's back, then publish garbage:
	// the store must drop its cached epoch and refetch.
	if err := c.Set(ctx, prefix+"{v}:e:alice", "7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Epoch(ctx, "alice"); e != 1 {
		t.Fatalf("cached Epoch = %d, want 1 (cache should still be used)", e)
	}
	if err := c.Publish(ctx, prefix+"{v}:inval", "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { e, _ := s.Epoch(ctx, "alice"); return e == 7 }) {
		t.Fatal("a malformed message did not flush the user cache")
	}
	if st := s.Stats(); st.BadMessages != 1 || st.MessagesApplied < 1 || !st.Trusted || st.Reloads != 1 || st.CachedUsers != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// fakeClock is time.Now plus an adjustable offset.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

func TestOutageAndRecovery(t *testing.T) {
	// Persist every write so a restart keeps the epochs, as production
	// Redis must (see SPEC.md).
	srv := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	prefix := uniquePrefix(t)
	clock := &fakeClock{}
	opts := &Options{Prefix: prefix, MaxStale: 10 * time.Second, HealthCheckInterval: 200 * time.Millisecond, Now: clock.Now}
	a := openStore(t, newClient(t, srv.Addr()), opts, nil)
	b := openStore(t, newClient(t, srv.Addr()), opts, nil)
	ctx := t.Context()

	before := codec.SessionID{1}
	if _, err := a.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, before, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool {
		e, _ := b.Epoch(ctx, "alice")
		r, _ := b.IsRevoked(ctx, before)
		return e == 1 && r
	}) {
		t.Fatal("B did not see A's bump and revocation")
	}

	srv.Kill()
	if !waitUntil(5*time.Second, func() bool { ok, _ := b.Trusted(); return !ok }) {
		t.Fatal("B still trusts its cache 5s after Redis was killed")
	}
	// Fail closed: reads, bumps and revocations all refuse.
	readStart := time.Now()
	if _, err := b.Epoch(ctx, "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Epoch while down = %v, want ErrStoreUnavailable", err)
	}
	t.Logf("a read while Redis is down failed (closed) in %v", time.Since(readStart))
	if _, err := b.IsRevoked(ctx, codec.SessionID{2}); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("IsRevoked while down = %v, want ErrStoreUnavailable", err)
	}
	if _, err := a.BumpEpoch(ctx, "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch while down = %v, want ErrStoreUnavailable", err)
	}
	if err := a.Revoke(ctx, codec.SessionID{3}, time.Now().Add(time.Hour)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Revoke while down = %v, want ErrStoreUnavailable", err)
	}
	if err := a.BumpGlobalEpoch(ctx); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpGlobalEpoch while down = %v, want ErrStoreUnavailable", err)
	}
	// Bounded staleness: the cache serves within MaxStale...
	if e, err := b.EpochStale(ctx, "alice", 0); err != nil || e != 1 {
		t.Errorf("EpochStale within MaxStale = %d, %v; want 1", e, err)
	}
	if r, err := b.IsRevokedStale(ctx, before, 0); err != nil || !r {
		t.Errorf("IsRevokedStale within MaxStale = %v, %v; want true", r, err)
	}
	if _, err := b.EpochStale(ctx, "never-cached", 0); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("EpochStale of an uncached user = %v, want ErrStoreUnavailable", err)
	}
	// ...and an explicit smaller bound is honoured...
	clock.Advance(2 * time.Second)
	if _, err := b.EpochStale(ctx, "alice", time.Second); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("EpochStale beyond an explicit 1s bound = %v, want ErrStoreUnavailable", err)
	}
	// ...and nothing is served beyond MaxStale.
	clock.Advance(opts.MaxStale)
	if _, err := b.EpochStale(ctx, "alice", 0); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("EpochStale beyond MaxStale = %v, want ErrStoreUnavailable", err)
	}
	if _, err := b.IsRevokedStale(ctx, before, 0); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("IsRevokedStale beyond MaxStale = %v, want ErrStoreUnavailable", err)
	}

	srv.Restart()
	downAt := time.Now()
	// A revocation made by A as soon as Redis answers again, possibly before
	// B has resubscribed: B must see it (by message or by its reload).
	during := codec.SessionID{4}
	if !waitUntil(5*time.Second, func() bool { return a.Revoke(ctx, during, time.Now().Add(time.Hour)) == nil }) {
		t.Fatal("A cannot revoke 5s after Redis restarted")
	}
	if !waitUntil(10*time.Second, func() bool { ok, _ := b.Trusted(); return ok }) {
		t.Fatal("B did not trust its cache again within 10s of the restart")
	}
	t.Logf("B trusted its cache again %v after redis-server answered", time.Since(downAt))
	for _, tc := range []struct {
		id   codec.SessionID
		name string
	}{{before, "revoked before the outage"}, {during, "revoked right after the restart"}} {
		if r, err := b.IsRevoked(ctx, tc.id); err != nil || !r {
			t.Errorf("B.IsRevoked(%s) after recovery = %v, %v; want true", tc.name, r, err)
		}
	}
	if e, err := b.Epoch(ctx, "alice"); err != nil || e != 1 {
		t.Errorf("B.Epoch(alice) after recovery = %d, %v; want 1", e, err)
	}
	// Propagation works again.
	if _, err := a.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { e, _ := b.Epoch(ctx, "alice"); return e == 2 }) {
		t.Fatal("a bump after recovery did not reach B")
	}
}

// TestSubscriptionDropMarksStale writes behind the store's back (no
// message), then kills only the subscriber's connection: the store must
// notice, resubscribe and reload, and then see those writes.
func TestSubscriptionDropMarksStale(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix, HealthCheckInterval: 100 * time.Millisecond}, nil)
	ctx := t.Context()
	if _, err := s.Epoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	// Missed writes: a bump and a revocation whose messages never came.
	id := codec.SessionID{0xaa}
	until := time.Now().Add(time.Hour).UnixMilli()
	hexID := "aa000000000000000000000000000000"
	if err := c.Incr(ctx, prefix+"{v}:e:alice").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ZAdd(ctx, prefix+"{v}:ri", redis.Z{Score: float64(until), Member: hexID}).Err(); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Epoch(ctx, "alice"); e != 0 {
		t.Fatalf("Epoch = %d before the drop; the test expects the cached 0", e)
	}
	if r, _ := s.IsRevoked(ctx, id); r {
		t.Fatal("IsRevoked = true before the drop; the test expects the cached false")
	}
	reloads := s.reloads.Load()
	if _, err := srv.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return ok && s.reloads.Load() > reloads }) {
		t.Fatal("store did not resubscribe and reload within 5s after its subscription was killed")
	}
	if e, err := s.Epoch(ctx, "alice"); err != nil || e != 1 {
		t.Errorf("Epoch after reload = %d, %v; want 1", e, err)
	}
	if r, err := s.IsRevoked(ctx, id); err != nil || !r {
		t.Errorf("IsRevoked after reload = %v, %v; want true", r, err)
	}
}

func TestClosedAndCancelled(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t)}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.EpochStale(ctx, "alice", 0); !errors.Is(err, context.Canceled) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("EpochStale(cancelled) = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.IsRevokedStale(t.Context(), codec.SessionID{}, 0)
	if !errors.Is(err, versioning.ErrClosed) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("IsRevokedStale after Close = %v", err)
	}
	if err := s.WaitReady(t.Context()); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("WaitReady after Close = %v", err)
	}
	if _, err := s.BumpEpoch(t.Context(), strings.Repeat("x", 300)); err == nil {
		t.Error("BumpEpoch with a 300-byte user ID succeeded")
	}
}

func TestMaxCachedUsers(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), MaxCachedUsers: 10}, nil)
	for i := range 100 {
		if _, err := s.Epoch(t.Context(), fmt.Sprint("user", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.RLock()
	n := len(s.users)
	s.mu.RUnlock()
	if n > 10 {
		t.Errorf("user cache holds %d entries, bound 10", n)
	}
}
