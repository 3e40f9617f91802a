package redisstore

import (
	"context"
	"fmt"
	"slices"
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

// openStore returns a ready store, closed when the test ends.
func openStore(t testing.TB, c redis.UniversalClient, o *Options, hook func(Message)) *Store {
	t.Helper()
	s, err := newStore(c, o, hook)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.WaitReady(ctx), "WaitReady")
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
		require.False(t, s.trusted(time.Now()), "a store without a cache trusts it")
		return s
	})
}

func TestNewInvalid(t *testing.T) {
	_, err := New(nil, nil)
	assert.ErrorIs(t, err, ErrInvalidOptions, "New(nil)")
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []Options{{MaxStale: -1}, {HealthCheckInterval: time.Millisecond}, {MaxLag: time.Millisecond}, {Prefix: "app{x}:"}, {Prefix: "a{"}} {
		_, err := New(c, &o)
		assert.ErrorIs(t, err, ErrInvalidOptions, "New(%+v)", o)
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
	require.NoError(t, err)
	total := 0
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":calls=")
		if !ok || name == "cmdstat_ping" || name == "cmdstat_info" {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.Atoi(n)
		require.NoError(t, err, "commandstats line %q", line)
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
	_, err := s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, s.Revoke(ctx, "alice", ids[0], time.Now().Add(time.Hour)))
	settle(t, s, 2)
	// Warm-up: the first read of each user fills the cache with one HGET
	// of the user's field.
	for _, u := range users {
		_, err := s.Lookup(ctx, u, ids[0])
		require.NoError(t, err)
	}
	warm := counter.take()
	assert.Contains(t, warm, "hget", "warm-up: expected HGET for the user misses")

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
	assert.Empty(t, sent[:min(len(sent), 10)], "%d Lookup calls in steady state sent %d commands (the first 10 shown)", rounds, len(sent))
	probes := s.Stats()
	after := serverCalls(t, srv)
	t.Logf("%d Lookup calls after warm-up: 0 commands sent by the client for them; the server ran %d commands meanwhile (the prover's MGETs; %d resyncs)", rounds, after-before, probes.Resyncs)
}

// settle waits until s has applied the messages up to seq (its own writes
// come back as messages that drop the written user from its cache).
func settle(t testing.TB, s *Store, seq uint64) {
	t.Helper()
	require.True(t, waitUntil(5*time.Second, func() bool { return s.Stats().LastSeq >= seq }),
		"store did not apply message %d within 5s: %+v", seq, s.Stats())
}

// requireEpochSoon requires that s answers want as user's epoch within 2s.
func requireEpochSoon(t testing.TB, s *Store, user string, want uint64, msg string) {
	t.Helper()
	require.True(t, waitUntil(2*time.Second, func() bool { e, _ := s.Epoch(t.Context(), user); return e == want }), msg)
}

// requireRevokedSoon requires that s sees user's session id revoked
// within 2s.
func requireRevokedSoon(t testing.TB, s *Store, user string, id codec.SessionID, msg string) {
	t.Helper()
	require.True(t, waitUntil(2*time.Second, func() bool { st, _ := s.Lookup(t.Context(), user, id); return st.Revoked }), msg)
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
	_, err := b.Epoch(ctx, "alice") // cache alice on B
	require.NoError(t, err)
	const n = 200
	delays := make([]time.Duration, 0, n)
	acks := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		e, err := a.BumpEpoch(ctx, "alice")
		acked := time.Now()
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), e, "bump %d", i+1)
		require.True(t, waitUntil(2*time.Second, func() bool { return seen.Load() >= e }), "bump %d not seen by B within 2s", e)
		at := time.Unix(0, seenAt.Load())
		delays = append(delays, at.Sub(start))
		acks = append(acks, acked.Sub(start))
		// B answers with the new epoch (refetched once, then cached).
		got, err := b.Epoch(ctx, "alice")
		require.NoError(t, err, "B.Epoch after bump %d", e)
		require.Equal(t, e, got, "B.Epoch after bump %d", e)
	}
	med, p99 := percentile(delays, 0.5), percentile(delays, 0.99)
	t.Logf("bump-to-visible on another instance over %d bumps (from the BumpEpoch call to B's cache invalidated): median %v, p99 %v, max %v; for comparison BumpEpoch's own round trip: median %v, p99 %v",
		n, med, p99, slices.Max(delays), percentile(acks, 0.5), percentile(acks, 0.99))
	assert.LessOrEqual(t, p99, 500*time.Millisecond, "p99 bump-to-visible delay exceeds 500ms")

	// Revocations and global bumps propagate too.
	id := codec.SessionID{9}
	st, err := b.Lookup(ctx, "alice", id)
	require.NoError(t, err)
	require.False(t, st.Revoked, "revoked before Revoke")
	require.NoError(t, a.Revoke(ctx, "alice", id, time.Now().Add(time.Minute)))
	requireRevokedSoon(t, b, "alice", id, "revocation not seen by B")
	require.NoError(t, a.BumpGlobalEpoch(ctx))
	requireEpochSoon(t, b, "alice", n+1, "global bump not seen by B")
}

// TestStartWaitsForNoLoad: a new instance is ready after one command,
// whatever Redis holds, and fetches a user on demand with one round trip.
func TestStartWaitsForNoLoad(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	a := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	live, ended := codec.SessionID{1}, codec.SessionID{2}
	require.NoError(t, a.Revoke(ctx, "alice", live, time.Now().Add(time.Hour)))
	require.NoError(t, a.Revoke(ctx, "alice", ended, time.Now().Add(time.Minute)))
	require.NoError(t, a.BumpGlobalEpoch(ctx))

	c := newClient(t, srv.Addr())
	counter := &cmdCounter{}
	c.AddHook(counter)
	clock := &fakeClock{}
	b := openStore(t, c, &Options{Prefix: prefix, Now: clock.Now, MaxLag: time.Minute}, nil)
	handshake := func(n string) bool { return n == "hello" || n == "client" || n == "ping" }
	assert.Contains(t, [][]string{{"mget"}, {"mget", "mget"}}, slices.DeleteFunc(counter.take(), handshake),
		"start-up: want one MGET (of the sequence and global counters)")
	clock.Advance(2 * time.Minute) // ended is over, live is not
	// The clock's jump outdated the last proof: wait for the next one.
	require.True(t, waitUntil(5*time.Second, func() bool { ok, _ := b.Trusted(); return ok }),
		"not trusted again after the clock moved")
	counter.take()
	st, err := b.Lookup(ctx, "alice", live)
	assert.NoError(t, err, "Lookup(alice, live) on a new store")
	assert.Equal(t, versioning.SessionState{Epoch: 1, Revoked: true}, st, "Lookup(alice, live) on a new store")
	assert.Equal(t, []string{"hget"}, slices.DeleteFunc(counter.take(), func(n string) bool { return n == "mget" || handshake(n) }),
		"the first Lookup of a user: want one HGET")
	st, err = b.Lookup(ctx, "alice", ended)
	assert.NoError(t, err, "Lookup(alice, ended)")
	assert.False(t, st.Revoked, "Lookup(alice, ended)")
	assert.Empty(t, slices.DeleteFunc(counter.take(), func(n string) bool { return n == "mget" || handshake(n) }),
		"a Lookup of a cached user sent commands")
	e, err := b.Epoch(ctx, "nobody")
	assert.NoError(t, err, "Epoch after a global bump")
	assert.Equal(t, uint64(1), e, "Epoch after a global bump")
}

func TestBadMessageFlushesCache(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	_, err := s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	settle(t, s, 1)
	e, _ := s.Epoch(ctx, "alice")
	require.Equal(t, uint64(1), e, "Epoch")
	// Change the counter behind the store's back, then publish garbage:
	// the store must drop its cached epoch and refetch.
	setUser(t, c, s, "alice", usertable.User{Epoch: 7})
	e, _ = s.Epoch(ctx, "alice")
	require.Equal(t, uint64(1), e, "cached Epoch (cache should still be used)")
	require.NoError(t, c.Publish(ctx, s.Channel(), "garbage").Err())
	requireEpochSoon(t, s, "alice", 7, "a malformed message did not flush the user cache")
	st := s.Stats()
	assert.Equal(t, int64(1), st.BadMessages, "BadMessages; Stats = %+v", st)
	assert.GreaterOrEqual(t, st.MessagesApplied, int64(1), "MessagesApplied; Stats = %+v", st)
	assert.Equal(t, 1, st.CachedUsers, "CachedUsers; Stats = %+v", st)
}

// TestForgedEpochValues (issue 14, item 4): a forged message or a counter
// past the largest Redis integer never brings a logged-out session back.
func TestForgedEpochValues(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	c := newClient(t, srv.Addr())
	s := openStore(t, c, &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	_, err := s.BumpEpoch(ctx, "alice") // force logout: cookies with epoch 0 are dead
	require.NoError(t, err)
	settle(t, s, 1)
	e, _ := s.Epoch(ctx, "alice")
	require.Equal(t, uint64(1), e, "Epoch")
	seq := s.Stats().LastSeq
	for _, forged := range []string{
		"1 g 18446744073709551615",
		fmt.Sprintf("2 %d g 18446744073709551615", seq+1),
		fmt.Sprintf("2 %d g 9223372036854775808", seq+1),
	} {
		require.NoError(t, c.Publish(ctx, s.Channel(), forged).Err())
	}
	require.True(t, waitUntil(2*time.Second, func() bool { return s.Stats().BadMessages == 3 }),
		"forged messages not all refused: %+v", s.Stats())
	for range 3 {
		st, err := s.Lookup(ctx, "alice", codec.SessionID{1})
		require.NoError(t, err, "Lookup after forged messages")
		require.Equal(t, uint64(1), st.Epoch, "Lookup after forged messages: want epoch 1 (a wrapped sum would give 0)")
	}
	// A counter past 2^63-1 in Redis itself: every read refuses, with a
	// typed error, whichever path it takes.
	require.NoError(t, c.Set(ctx, s.globalKey, "18446744073709551615", 0).Err())
	require.NoError(t, c.Publish(ctx, s.Channel(), "garbage").Err()) // flush alice
	// A new store cannot even start trusting (its first read of the
	// counters fails): it reads Redis directly.
	direct, err := New(c, &Options{Prefix: prefix, CacheBytes: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = direct.Close() })
	for _, st := range []*Store{direct} {
		_, err := st.Lookup(ctx, "alice", codec.SessionID{1})
		assert.ErrorIs(t, err, versioning.ErrEpochOverflow, "Lookup with a global counter of 2^64-1")
		assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Lookup with a global counter of 2^64-1")
		_, err = st.Epoch(ctx, "alice")
		assert.ErrorIs(t, err, versioning.ErrEpochOverflow, "Epoch with a global counter of 2^64-1")
	}
	// The cached store stops trusting itself (its probes fail) and then
	// refuses too; it never answers epoch 0.
	require.True(t, waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return !ok }),
		"store still trusted with a corrupt global counter")
	st, err := s.Lookup(ctx, "alice", codec.SessionID{1})
	assert.ErrorIs(t, err, versioning.ErrEpochOverflow, "Lookup on the untrusted store = %+v", st)
	// A bump of a counter at the limit fails and never wraps.
	setUser(t, c, s, "bob", usertable.User{Epoch: 9223372036854775807})
	_, err = s.BumpEpoch(ctx, "bob")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "BumpEpoch past 2^63-1")
	v, _ := c.HGet(ctx, s.bucketKey("bob"), "bob").Result()
	assert.Equal(t, "9223372036854775807:", v, "bob's counter after a refused bump")
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
	require.NotEqual(t, s0.Channel(), s5.Channel(), "the channels of databases 0 and 5")
	require.True(t, strings.HasSuffix(s5.Channel(), ":5") && strings.HasPrefix(s5.Channel(), prefix),
		"channel %q does not carry prefix %q and database 5", s5.Channel(), prefix)
	ctx := t.Context()
	e, _ := s0.Epoch(ctx, "alice")
	require.Zero(t, e, "fresh epoch")
	// A bump and a global bump on database 5, then a bump on database 0:
	// once s0 has its own message, any message of database 5 that reached
	// its connection would have arrived before it.
	_, err := s5.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, s5.BumpGlobalEpoch(ctx))
	_, err = s0.BumpEpoch(ctx, "carol")
	require.NoError(t, err)
	require.True(t, waitUntil(2*time.Second, func() bool { return applied0.Load() >= 1 && applied5.Load() >= 2 }),
		"stores did not hear their own messages")
	assert.Equal(t, int64(1), applied0.Load(), "messages the store on database 0 applied (want only its own): cross-talk")
	assert.Equal(t, int64(2), applied5.Load(), "messages the store on database 5 applied")
	e, err = s0.Epoch(ctx, "alice")
	assert.NoError(t, err, "Epoch(alice) on database 0")
	assert.Equal(t, uint64(0), e, "a bump on database 5 changed alice's epoch on database 0")
	e, err = s5.Epoch(ctx, "alice")
	assert.NoError(t, err, "Epoch(alice) on database 5")
	assert.Equal(t, uint64(2), e, "Epoch(alice) on database 5")
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
	_, err := a.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, a.Revoke(ctx, "alice", before, time.Now().Add(time.Hour)))
	settle(t, b, 2)
	st, err := b.Lookup(ctx, "alice", before)
	require.NoError(t, err)
	require.Equal(t, versioning.SessionState{Epoch: 1, Revoked: true}, st, "B did not see A's bump and revocation")

	srv.Kill()
	require.True(t, waitUntil(5*time.Second, func() bool { ok, _ := b.Trusted(); return !ok }),
		"B still trusts its cache 5s after Redis was killed")
	// Fail closed: reads, bumps and revocations all refuse.
	readStart := time.Now()
	_, err = b.Epoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Epoch while down")
	t.Logf("a read while Redis is down failed (closed) in %v", time.Since(readStart))
	_, err = b.Lookup(ctx, "alice", codec.SessionID{2})
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Lookup while down")
	_, err = a.BumpEpoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "BumpEpoch while down")
	assert.ErrorIs(t, a.Revoke(ctx, "alice", codec.SessionID{3}, time.Now().Add(time.Hour)), versioning.ErrStoreUnavailable, "Revoke while down")
	assert.ErrorIs(t, a.BumpGlobalEpoch(ctx), versioning.ErrStoreUnavailable, "BumpGlobalEpoch while down")
	// Bounded staleness: the cache serves within MaxStale...
	st, err = b.LookupStale(ctx, "alice", before, 0)
	assert.NoError(t, err, "LookupStale within MaxStale")
	assert.Equal(t, versioning.SessionState{Epoch: 1, Revoked: true}, st, "LookupStale within MaxStale")
	_, err = b.LookupStale(ctx, "never-cached", before, 0)
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale of an uncached user")
	// ...and an explicit smaller bound is honoured...
	clock.Advance(2 * time.Second)
	_, err = b.LookupStale(ctx, "alice", before, time.Second)
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale beyond an explicit 1s bound")
	// ...and nothing is served beyond MaxStale.
	clock.Advance(opts.MaxStale)
	_, err = b.LookupStale(ctx, "alice", before, 0)
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale beyond MaxStale")

	srv.Restart()
	downAt := time.Now()
	// A revocation made by A as soon as Redis answers again, possibly before
	// B has resubscribed: B must see it (by message or by its resync).
	during := codec.SessionID{4}
	require.True(t, waitUntil(5*time.Second, func() bool { return a.Revoke(ctx, "alice", during, time.Now().Add(time.Hour)) == nil }),
		"A cannot revoke 5s after Redis restarted")
	require.True(t, waitUntil(10*time.Second, func() bool { ok, _ := b.Trusted(); return ok }),
		"B did not trust its cache again within 10s of the restart")
	t.Logf("B trusted its cache again %v after redis-server answered", time.Since(downAt))
	for _, tc := range []struct {
		id   codec.SessionID
		name string
	}{{before, "revoked before the outage"}, {during, "revoked right after the restart"}} {
		st, err := b.Lookup(ctx, "alice", tc.id)
		assert.NoError(t, err, "B.Lookup(%s) after recovery", tc.name)
		assert.True(t, st.Revoked, "B.Lookup(%s) after recovery: want revoked", tc.name)
	}
	e, err := b.Epoch(ctx, "alice")
	assert.NoError(t, err, "B.Epoch(alice) after recovery")
	assert.Equal(t, uint64(1), e, "B.Epoch(alice) after recovery")
	// Propagation works again.
	_, err = a.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	requireEpochSoon(t, b, "alice", 2, "a bump after recovery did not reach B")
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
		require.NoError(t, c.Incr(ctx, s.seqKey).Err())
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
	st, err := s.Lookup(ctx, "alice", id)
	require.NoError(t, err)
	require.Zero(t, st)
	missedWrite(t, c, s, id, false)
	st, _ = s.Lookup(ctx, "alice", id)
	require.Zero(t, st, "Lookup before the drop; the test expects the cached zero state")
	resyncs := s.resyncs.Load()
	_, err = srv.Do("CLIENT", "KILL", "TYPE", "pubsub")
	require.NoError(t, err)
	require.True(t, waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return ok && s.resyncs.Load() > resyncs }),
		"store did not resubscribe and resync within 5s after its subscription was killed")
	st, err = s.Lookup(ctx, "alice", id)
	assert.NoError(t, err, "Lookup after resync")
	assert.Equal(t, versioning.SessionState{Epoch: 1, Revoked: true}, st, "Lookup after resync")
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
	_, err := s.Lookup(ctx, "alice", id)
	require.NoError(t, err)
	missedWrite(t, c, s, id, true)
	start := time.Now()
	require.True(t, waitUntil(5*time.Second, func() bool { st, _ := s.Lookup(ctx, "alice", id); return st.Epoch == 1 && st.Revoked }),
		"a lost message was not detected within 5s: %+v", s.Stats())
	t.Logf("a lost message was detected and the cache flushed within %v (MaxLag 100ms)", time.Since(start))
	st := s.Stats()
	assert.GreaterOrEqual(t, st.LagFlushes, int64(1), "want a lag flush; Stats = %+v", st)
	// A gap in the sequence numbers flushes at once.
	missedWrite(t, c, s, codec.SessionID{0xcc}, true)
	_, err = s.BumpEpoch(ctx, "bob") // publishes seq+2 after the missing seq+1
	require.NoError(t, err)
	require.True(t, waitUntil(2*time.Second, func() bool {
		st, _ := s.Lookup(ctx, "alice", codec.SessionID{0xcc})
		return st.Epoch == 2 && st.Revoked
	}), "a gap in the sequence did not flush the cache: %+v", s.Stats())
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
		require.NoError(t, s.Revoke(ctx, "", id, time.Now().Add(time.Hour)))
		st, err := s.Lookup(ctx, "", id)
		require.NoError(t, err)
		require.Zero(t, st)
	}
	keys1, _ := c.DBSize(ctx).Result()
	st := s.Stats()
	assert.Equal(t, keys0, keys1, "anonymous revocations wrote keys to Redis")
	assert.Zero(t, st.LastSeq, "anonymous revocations published: %+v", st)
	assert.Zero(t, st.CachedUsers, "anonymous revocations cached users: %+v", st)
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
	_, err := s.LookupStale(ctx, "alice", codec.SessionID{}, 0)
	assert.ErrorIs(t, err, context.Canceled, "LookupStale(cancelled)")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale(cancelled)")
	require.NoError(t, s.Close())
	_, err = s.LookupStale(t.Context(), "alice", codec.SessionID{}, 0)
	assert.ErrorIs(t, err, versioning.ErrClosed, "LookupStale after Close")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale after Close")
	assert.ErrorIs(t, s.WaitReady(t.Context()), versioning.ErrStoreUnavailable, "WaitReady after Close")
	_, err = s.BumpEpoch(t.Context(), strings.Repeat("x", 300))
	assert.Error(t, err, "BumpEpoch with a 300-byte user ID succeeded")
}

func TestCacheBound(t *testing.T) {
	srv := redistest.Start(t)
	const bound = 64 * 400 // 400 bytes per shard: a few users each
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), CacheBytes: bound, MaxLag: time.Minute}, nil)
	for i := range 2000 {
		_, err := s.Epoch(t.Context(), fmt.Sprint("user", i))
		require.NoError(t, err)
	}
	st := s.Stats()
	assert.LessOrEqual(t, st.CacheBytes, int64(bound), "cache bytes above the bound")
	assert.LessOrEqual(t, st.CachedUsers, bound/entryOverhead, "cached users above what the bound holds")
	assert.NotZero(t, st.CachedUsers, "cached users")
	// The most recently used user is cached.
	_, _, ok := s.cache.peekStale("user1999")
	assert.True(t, ok, "the most recent user was evicted")
}
