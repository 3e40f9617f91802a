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
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
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
	storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
		return openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), Now: now}, nil)
	})
}

// TestConformanceDirect runs the suite on stores without a cache, so every
// read takes the direct path.
func TestConformanceDirect(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
		s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), Now: now, CacheBytes: -1}, nil)
		if s.trusted(time.Now()) {
			t.Fatal("a store without a cache trusts it")
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
	for _, o := range []Options{{MaxStale: -1}, {HealthCheckInterval: time.Millisecond}, {MaxLag: time.Millisecond}, {Prefix: "app{x}:"}, {Prefix: "a{"}} {
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
	// A generous MaxLag: a loaded machine must not turn steady state into
	// direct reads by delaying a probe.
	s := openStore(t, c, &Options{Prefix: uniquePrefix(t), MaxLag: time.Minute}, nil)
	ctx := t.Context()

	users := []string{"alice", "bob", "carol"}
	ids := make([]codec.SessionID, 4)
	for i := range ids {
		ids[i] = codec.SessionID{byte(i + 1)}
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "alice", ids[0], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	settle(t, s, 2)
	// Warm-up: the first read of each user fills the cache with one HGET
	// of the user's field.
	for _, u := range users {
		if _, err := s.Lookup(ctx, u, ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	warm := counter.take()
	if slices.Index(warm, "hget") < 0 {
		t.Errorf("warm-up sent %v, expected HGET for the user misses", warm)
	}

	// The prover reads two counters every interval; those are not
	// per-request commands, so count only the others.
	before := serverCalls(t, srv)
	const rounds = 10_000
	for i := range rounds {
		u := users[i%len(users)]
		st, err := s.Lookup(ctx, u, ids[i%len(ids)])
		if err != nil {
			t.Fatal(err)
		}
		wantEpoch := uint64(0)
		if u == "alice" {
			wantEpoch = 1
		}
		if st.Epoch != wantEpoch || st.Revoked != (u == "alice" && i%len(ids) == 0) {
			t.Fatalf("Lookup(%s, %d) = %+v", u, i%len(ids), st)
		}
	}
	sent := slices.DeleteFunc(counter.take(), func(n string) bool { return n == "mget" })
	if len(sent) != 0 {
		t.Errorf("%d Lookup calls in steady state sent %d commands: %v", rounds, len(sent), sent[:min(len(sent), 10)])
	}
	probes := s.Stats()
	after := serverCalls(t, srv)
	t.Logf("%d Lookup calls after warm-up: 0 commands sent by the client for them; the server ran %d commands meanwhile (the prover's MGETs; %d resyncs)", rounds, after-before, probes.Resyncs)
}

// settle waits until s has applied the messages up to seq (its own writes
// come back as messages that drop the written user from its cache).
func settle(t testing.TB, s *Store, seq uint64) {
	t.Helper()
	if !waitUntil(5*time.Second, func() bool { return s.Stats().LastSeq >= seq }) {
		t.Fatalf("store did not apply message %d within 5s: %+v", seq, s.Stats())
	}
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
	var seen atomic.Uint64  // alice messages B applied
	var seenAt atomic.Int64 // unix ns when B applied the latest alice message
	b := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, func(m Message) {
		if m.Kind == KindUser && m.UserID == "alice" {
			seenAt.Store(time.Now().UnixNano())
			seen.Add(1)
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
		// B answers with the new epoch (refetched once, then cached).
		if got, err := b.Epoch(ctx, "alice"); err != nil || got != e {
			t.Fatalf("B.Epoch after bump %d = %d, %v", e, got, err)
		}
	}
	med, p99 := percentile(delays, 0.5), percentile(delays, 0.99)
	t.Logf("bump-to-visible on another instance over %d bumps (from the BumpEpoch call to B's cache invalidated): median %v, p99 %v, max %v; for comparison BumpEpoch's own round trip: median %v, p99 %v",
		n, med, p99, slices.Max(delays), percentile(acks, 0.5), percentile(acks, 0.99))
	if p99 > 500*time.Millisecond {
		t.Errorf("p99 bump-to-visible delay %v exceeds 500ms", p99)
	}

	// Revocations and global bumps propagate too.
	id := codec.SessionID{9}
	if st, err := b.Lookup(ctx, "alice", id); err != nil || st.Revoked {
		t.Fatal("revoked before Revoke", err)
	}
	if err := a.Revoke(ctx, "alice", id, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { st, _ := b.Lookup(ctx, "alice", id); return st.Revoked }) {
		t.Fatal("revocation not seen by B")
	}
	if err := a.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { e, _ := b.Epoch(ctx, "alice"); return e == n+1 }) {
		t.Fatal("global bump not seen by B")
	}
}

// TestStartWaitsForNoLoad: a new instance is ready after one command,
// whatever Redis holds, and fetches a user on demand with one round trip.
func TestStartWaitsForNoLoad(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	a := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	live, ended := codec.SessionID{1}, codec.SessionID{2}
	if err := a.Revoke(ctx, "alice", live, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "alice", ended, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}

	c := newClient(t, srv.Addr())
	counter := &cmdCounter{}
	c.AddHook(counter)
	clock := &fakeClock{}
	b := openStore(t, c, &Options{Prefix: prefix, Now: clock.Now, MaxLag: time.Minute}, nil)
	handshake := func(n string) bool { return n == "hello" || n == "client" || n == "ping" }
	if sent := slices.DeleteFunc(counter.take(), handshake); !slices.Equal(sent, []string{"mget"}) && !slices.Equal(sent, []string{"mget", "mget"}) {
		t.Errorf("start-up sent %v, want one MGET (of the sequence and global counters)", sent)
	}
	clock.Advance(2 * time.Minute) // ended is over, live is not
	// The clock's jump outdated the last proof: wait for the next one.
	if !waitUntil(5*time.Second, func() bool { ok, _ := b.Trusted(); return ok }) {
		t.Fatal("not trusted again after the clock moved")
	}
	counter.take()
	if st, err := b.Lookup(ctx, "alice", live); err != nil || !st.Revoked || st.Epoch != 1 {
		t.Errorf("Lookup(alice, live) on a new store = %+v, %v", st, err)
	}
	if sent := counter.take(); !slices.Equal(slices.DeleteFunc(sent, func(n string) bool { return n == "mget" || handshake(n) }), []string{"hget"}) {
		t.Errorf("the first Lookup of a user sent %v, want one HGET", sent)
	}
	if st, err := b.Lookup(ctx, "alice", ended); err != nil || st.Revoked {
		t.Errorf("Lookup(alice, ended) = %+v, %v", st, err)
	}
	if sent := slices.DeleteFunc(counter.take(), func(n string) bool { return n == "mget" || handshake(n) }); len(sent) != 0 {
		t.Errorf("a Lookup of a cached user sent %v", sent)
	}
	if e, err := b.Epoch(ctx, "nobody"); err != nil || e != 1 {
		t.Errorf("Epoch after a global bump = %d, %v; want 1", e, err)
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
	settle(t, s, 1)
	if e, _ := s.Epoch(ctx, "alice"); e != 1 {
		t.Fatalf("Epoch = %d, want 1", e)
	}
	// Change the counter behind the store's back, then publish garbage:
	// the store must drop its cached epoch and refetch.
	setUser(t, c, s, "alice", usertable.User{Epoch: 7})
	if e, _ := s.Epoch(ctx, "alice"); e != 1 {
		t.Fatalf("cached Epoch = %d, want 1 (cache should still be used)", e)
	}
	if err := c.Publish(ctx, s.Channel(), "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { e, _ := s.Epoch(ctx, "alice"); return e == 7 }) {
		t.Fatal("a malformed message did not flush the user cache")
	}
	if st := s.Stats(); st.BadMessages != 1 || st.MessagesApplied < 1 || st.CachedUsers != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestForgedEpochValues (issue 14, item 4): a forged message or a counter
// past the largest Redis integer never brings a logged-out session back.
func TestForgedEpochValues(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil { // force logout: cookies with epoch 0 are dead
		t.Fatal(err)
	}
	settle(t, s, 1)
	if e, _ := s.Epoch(ctx, "alice"); e != 1 {
		t.Fatalf("Epoch = %d, want 1", e)
	}
	seq := s.Stats().LastSeq
	for _, forged := range []string{
		"1 g 18446744073709551615",
		fmt.Sprintf("2 %d g 18446744073709551615", seq+1),
		fmt.Sprintf("2 %d g 9223372036854775808", seq+1),
	} {
		if err := c.Publish(ctx, s.Channel(), forged).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if !waitUntil(2*time.Second, func() bool { return s.Stats().BadMessages == 3 }) {
		t.Fatalf("forged messages not all refused: %+v", s.Stats())
	}
	for range 3 {
		st, err := s.Lookup(ctx, "alice", codec.SessionID{1})
		if err != nil || st.Epoch != 1 {
			t.Fatalf("after forged messages Lookup = %+v, %v; want epoch 1 (a wrapped sum would give 0)", st, err)
		}
	}
	// A counter past 2^63-1 in Redis itself: every read refuses, with a
	// typed error, whichever path it takes.
	if err := c.Set(ctx, s.globalKey, "18446744073709551615", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, s.Channel(), "garbage").Err(); err != nil { // flush alice
		t.Fatal(err)
	}
	// A new store cannot even start trusting (its first read of the
	// counters fails): it reads Redis directly.
	direct, err := New(c, &Options{Prefix: prefix, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	for _, st := range []*Store{direct} {
		_, err := st.Lookup(ctx, "alice", codec.SessionID{1})
		if !errors.Is(err, versioning.ErrEpochOverflow) || !errors.Is(err, versioning.ErrStoreUnavailable) {
			t.Errorf("Lookup with a global counter of 2^64-1 = %v, want ErrEpochOverflow and ErrStoreUnavailable", err)
		}
		if _, err := st.Epoch(ctx, "alice"); !errors.Is(err, versioning.ErrEpochOverflow) {
			t.Errorf("Epoch with a global counter of 2^64-1 = %v, want ErrEpochOverflow", err)
		}
	}
	// The cached store stops trusting itself (its probes fail) and then
	// refuses too; it never answers epoch 0.
	if !waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return !ok }) {
		t.Fatal("store still trusted with a corrupt global counter")
	}
	if st, err := s.Lookup(ctx, "alice", codec.SessionID{1}); !errors.Is(err, versioning.ErrEpochOverflow) {
		t.Errorf("Lookup on the untrusted store = %+v, %v; want ErrEpochOverflow", st, err)
	}
	// A bump of a counter at the limit fails and never wraps.
	setUser(t, c, s, "bob", usertable.User{Epoch: 9223372036854775807})
	if _, err := s.BumpEpoch(ctx, "bob"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch past 2^63-1 = %v, want an error", err)
	}
	if v, _ := c.HGet(ctx, s.bucketKey("bob"), "bob").Result(); v != "9223372036854775807:" {
		t.Errorf("bob's counter after a refused bump = %s", v)
	}
}

// TestChannelSeparatesDatabases (issue 14, item 3): two stores with the
// same prefix on two databases of one server do not hear each other.
func TestChannelSeparatesDatabases(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	client := func(db int) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: db, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	var applied0, applied5 atomic.Int64
	s0 := openStore(t, client(0), &Options{Prefix: prefix}, func(Message) { applied0.Add(1) })
	s5 := openStore(t, client(5), &Options{Prefix: prefix}, func(Message) { applied5.Add(1) })
	if s0.Channel() == s5.Channel() || !strings.HasSuffix(s5.Channel(), ":5") || !strings.HasPrefix(s5.Channel(), prefix) {
		t.Fatalf("channels %q and %q do not carry prefix and database", s0.Channel(), s5.Channel())
	}
	ctx := t.Context()
	if e, _ := s0.Epoch(ctx, "alice"); e != 0 {
		t.Fatal("fresh epoch not 0")
	}
	// A bump and a global bump on database 5, then a bump on database 0:
	// once s0 has its own message, any message of database 5 that reached
	// its connection would have arrived before it.
	if _, err := s5.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s5.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s0.BumpEpoch(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool { return applied0.Load() >= 1 && applied5.Load() >= 2 }) {
		t.Fatal("stores did not hear their own messages")
	}
	if n := applied0.Load(); n != 1 {
		t.Errorf("the store on database 0 applied %d messages, want 1 (its own): cross-talk", n)
	}
	if n := applied5.Load(); n != 2 {
		t.Errorf("the store on database 5 applied %d messages, want 2", n)
	}
	if e, err := s0.Epoch(ctx, "alice"); err != nil || e != 0 {
		t.Errorf("a bump on database 5 changed alice's epoch on database 0: %d, %v", e, err)
	}
	if e, err := s5.Epoch(ctx, "alice"); err != nil || e != 2 {
		t.Errorf("Epoch(alice) on database 5 = %d, %v; want 2", e, err)
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
	opts := &Options{Prefix: prefix, MaxStale: 10 * time.Second, HealthCheckInterval: 100 * time.Millisecond, Now: clock.Now}
	a := openStore(t, newClient(t, srv.Addr()), opts, nil)
	b := openStore(t, newClient(t, srv.Addr()), opts, nil)
	ctx := t.Context()

	before := codec.SessionID{1}
	if _, err := a.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "alice", before, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	settle(t, b, 2)
	if st, err := b.Lookup(ctx, "alice", before); err != nil || st.Epoch != 1 || !st.Revoked {
		t.Fatalf("B did not see A's bump and revocation: %+v, %v", st, err)
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
	if _, err := b.Lookup(ctx, "alice", codec.SessionID{2}); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Lookup while down = %v, want ErrStoreUnavailable", err)
	}
	if _, err := a.BumpEpoch(ctx, "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch while down = %v, want ErrStoreUnavailable", err)
	}
	if err := a.Revoke(ctx, "alice", codec.SessionID{3}, time.Now().Add(time.Hour)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Revoke while down = %v, want ErrStoreUnavailable", err)
	}
	if err := a.BumpGlobalEpoch(ctx); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpGlobalEpoch while down = %v, want ErrStoreUnavailable", err)
	}
	// Bounded staleness: the cache serves within MaxStale...
	if st, err := b.LookupStale(ctx, "alice", before, 0); err != nil || st.Epoch != 1 || !st.Revoked {
		t.Errorf("LookupStale within MaxStale = %+v, %v; want epoch 1, revoked", st, err)
	}
	if _, err := b.LookupStale(ctx, "never-cached", before, 0); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("LookupStale of an uncached user = %v, want ErrStoreUnavailable", err)
	}
	// ...and an explicit smaller bound is honoured...
	clock.Advance(2 * time.Second)
	if _, err := b.LookupStale(ctx, "alice", before, time.Second); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("LookupStale beyond an explicit 1s bound = %v, want ErrStoreUnavailable", err)
	}
	// ...and nothing is served beyond MaxStale.
	clock.Advance(opts.MaxStale)
	if _, err := b.LookupStale(ctx, "alice", before, 0); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("LookupStale beyond MaxStale = %v, want ErrStoreUnavailable", err)
	}

	srv.Restart()
	downAt := time.Now()
	// A revocation made by A as soon as Redis answers again, possibly before
	// B has resubscribed: B must see it (by message or by its resync).
	during := codec.SessionID{4}
	if !waitUntil(5*time.Second, func() bool { return a.Revoke(ctx, "alice", during, time.Now().Add(time.Hour)) == nil }) {
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
		if st, err := b.Lookup(ctx, "alice", tc.id); err != nil || !st.Revoked {
			t.Errorf("B.Lookup(%s) after recovery = %+v, %v; want revoked", tc.name, st, err)
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

// missedWrite changes alice's state behind the store's back, as a write
// whose message was lost would: a bump and a revocation of id.
func missedWrite(t *testing.T, c *redis.Client, s *Store, id codec.SessionID, bumpSeq bool) {
	t.Helper()
	ctx := t.Context()
	u := getUser(t, c, s, "alice")
	u.Epoch++
	u.Revs = append(u.Revs, usertable.Rev{ID: id, Until: time.Now().Add(time.Hour).UnixMilli()})
	setUser(t, c, s, "alice", u)
	if bumpSeq {
		if err := c.Incr(ctx, s.seqKey).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSubscriptionDropResyncs writes behind the store's back (no
// message), then kills only the subscriber's connection: the store must
// notice, resubscribe and resynchronise, and then see those writes.
func TestSubscriptionDropResyncs(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix, HealthCheckInterval: 100 * time.Millisecond}, nil)
	ctx := t.Context()
	id := codec.SessionID{0xaa}
	if st, err := s.Lookup(ctx, "alice", id); err != nil || st != (versioning.SessionState{}) {
		t.Fatal(st, err)
	}
	missedWrite(t, c, s, id, false)
	if st, _ := s.Lookup(ctx, "alice", id); st.Epoch != 0 || st.Revoked {
		t.Fatalf("Lookup = %+v before the drop; the test expects the cached zero state", st)
	}
	resyncs := s.resyncs.Load()
	if _, err := srv.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return ok && s.resyncs.Load() > resyncs }) {
		t.Fatal("store did not resubscribe and resync within 5s after its subscription was killed")
	}
	if st, err := s.Lookup(ctx, "alice", id); err != nil || st.Epoch != 1 || !st.Revoked {
		t.Errorf("Lookup after resync = %+v, %v; want epoch 1, revoked", st, err)
	}
}

// TestLagDetected: a message that never arrives (the sequence counter moved
// without it) is noticed by the prover, which flushes the cache.
func TestLagDetected(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix, HealthCheckInterval: 20 * time.Millisecond, MaxLag: 100 * time.Millisecond}, nil)
	ctx := t.Context()
	id := codec.SessionID{0xbb}
	if _, err := s.Lookup(ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	missedWrite(t, c, s, id, true)
	start := time.Now()
	if !waitUntil(5*time.Second, func() bool { st, _ := s.Lookup(ctx, "alice", id); return st.Epoch == 1 && st.Revoked }) {
		t.Fatalf("a lost message was not detected within 5s: %+v", s.Stats())
	}
	t.Logf("a lost message was detected and the cache flushed within %v (MaxLag 100ms)", time.Since(start))
	if st := s.Stats(); st.LagFlushes < 1 {
		t.Errorf("Stats = %+v, want a lag flush", st)
	}
	// A gap in the sequence numbers flushes at once.
	missedWrite(t, c, s, codec.SessionID{0xcc}, true)
	if _, err := s.BumpEpoch(ctx, "bob"); err != nil { // publishes seq+2 after the missing seq+1
		t.Fatal(err)
	}
	if !waitUntil(2*time.Second, func() bool {
		st, _ := s.Lookup(ctx, "alice", codec.SessionID{0xcc})
		return st.Epoch == 2 && st.Revoked
	}) {
		t.Fatalf("a gap in the sequence did not flush the cache: %+v", s.Stats())
	}
}

// TestAnonymousWritesNothing (issue 14, item 2): revoking anonymous
// sessions writes nothing to Redis and publishes nothing.
func TestAnonymousWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: uniquePrefix(t)}, nil)
	ctx := t.Context()
	keys0, _ := c.DBSize(ctx).Result()
	for range 2000 {
		id, _ := codec.NewSessionID()
		if err := s.Revoke(ctx, "", id, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if st, err := s.Lookup(ctx, "", id); err != nil || st != (versioning.SessionState{}) {
			t.Fatal(st, err)
		}
	}
	keys1, _ := c.DBSize(ctx).Result()
	if keys1 != keys0 || s.Stats().LastSeq != 0 || s.Stats().CachedUsers != 0 {
		t.Errorf("anonymous revocations wrote to Redis: keys %d -> %d, %+v", keys0, keys1, s.Stats())
	}
}

// redisSlot is the Cluster slot of key (CRC16/XMODEM of the hash tag).
func redisSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}

func TestClosedAndCancelled(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t)}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.LookupStale(ctx, "alice", codec.SessionID{}, 0); !errors.Is(err, context.Canceled) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("LookupStale(cancelled) = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.LookupStale(t.Context(), "alice", codec.SessionID{}, 0)
	if !errors.Is(err, versioning.ErrClosed) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("LookupStale after Close = %v", err)
	}
	if err := s.WaitReady(t.Context()); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("WaitReady after Close = %v", err)
	}
	if _, err := s.BumpEpoch(t.Context(), strings.Repeat("x", 300)); err == nil {
		t.Error("BumpEpoch with a 300-byte user ID succeeded")
	}
}

func TestCacheBound(t *testing.T) {
	srv := redistest.Start(t)
	const bound = 64 * 400 // 400 bytes per shard: a few users each
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), CacheBytes: bound, MaxLag: time.Minute}, nil)
	for i := range 2000 {
		if _, err := s.Epoch(t.Context(), fmt.Sprint("user", i)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.CacheBytes > bound || st.CachedUsers > bound/entryOverhead || st.CachedUsers == 0 {
		t.Errorf("cache holds %d users, %d bytes; bound %d bytes", st.CachedUsers, st.CacheBytes, bound)
	}
	// The most recently used user is cached.
	if _, _, ok := s.cache.peekStale("user1999"); !ok {
		t.Error("the most recent user was evicted")
	}
}
