package redisstore

import (
	"context"
	"fmt"
	"os"
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
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// The scale harness: N live revocations over N users in a real
// redis-server, then what a new instance costs. CI runs it small
// (TestScaleSmall); SEALEDSESSION_SCALE_N=1000000 go test -run TestScale
// -v ./versioning/redisstore/ is the manual big run (see BENCHMARKS.md,
// SCALE). Options.Buckets is sized for N as documented (the default at a
// million), unless SEALEDSESSION_SCALE_BUCKETS sets it. It measures:
//   - Redis memory per live revocation (INFO used_memory);
//   - a new instance: time from New to its first answered request, and to
//     a proven cache (WaitReady);
//   - the longest command Redis ran (SLOWLOG, threshold 1ms) while the
//     harness ran new instances, 4 simultaneous reconnects and a warm-up
//     of every user, and the time the 4 reconnected instances took to
//     trust their caches again;
//   - per-instance heap with every user active (each looked up once), and
//     the cache's own estimate and bound;
//   - Redis commands per request for cached users;
//   - a Checker read of a cached user, with N revocations in Redis against
//     an empty Redis.
type scaleResult struct {
	N                        int
	Buckets                  int           // Options.Buckets
	MaxBucketUsers           int           // users in the fullest bucket
	NonListpackBuckets       int           // buckets (of a sample of 1000) not listpack-encoded
	SweepScript              time.Duration // one bucket's sweep script, round trip included (mean of up to 1000)
	RedisBytesPerRevocation  float64       // used_memory growth / N
	RedisMarginalBytes       float64       // growth over the second half / (N/2): without fixed costs
	NewToFirstRequest        time.Duration
	NewToReady               time.Duration
	SlowlogMax               time.Duration
	SlowlogEntries           int
	SlowlogTop               string
	ReconnectTrustedAgain    time.Duration
	InstanceHeapMiB          float64
	CachedUsers              int
	CacheMiB                 float64
	CacheBoundMiB            float64
	CommandsPerCachedRequest float64
	CheckNsFull, CheckNsEmpt float64
}

func TestScaleSmall(t *testing.T) {
	n := 2000
	if v := os.Getenv("SEALEDSESSION_SCALE_N"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "SEALEDSESSION_SCALE_N=%q: want a number >= 100", v)
		require.GreaterOrEqual(t, n, 100, "SEALEDSESSION_SCALE_N=%q: want a number >= 100", v)
	}
	r := runScale(t, n)
	t.Logf("SCALE n=%d: %d buckets (fullest %d users, %d of a sample not listpack; sweep script %v); Redis %.0f B/revocation (%.0f B marginal); new instance: first request %v, ready %v; SLOWLOG max %v (%d entries >= 1ms; slowest: %s); 4 reconnects trusted again in %v; instance heap %.1f MiB with %d users active (%d cached, cache %.1f MiB of %.0f MiB bound); %.3f commands per cached request; Checker %.0f ns/op with %d revocations vs %.0f ns/op empty",
		r.N, r.Buckets, r.MaxBucketUsers, r.NonListpackBuckets, r.SweepScript, r.RedisBytesPerRevocation, r.RedisMarginalBytes, r.NewToFirstRequest, r.NewToReady, r.SlowlogMax, r.SlowlogEntries, r.SlowlogTop, r.ReconnectTrustedAgain,
		r.InstanceHeapMiB, r.N, r.CachedUsers, r.CacheMiB, r.CacheBoundMiB, r.CommandsPerCachedRequest, r.CheckNsFull, r.N, r.CheckNsEmpt)
	// What must hold at any size (timings are reported, not asserted: CI
	// machines are shared).
	assert.Zero(t, r.CommandsPerCachedRequest, "Redis commands per request for cached users")
	assert.LessOrEqual(t, r.RedisBytesPerRevocation, 120.0, "Redis bytes per revocation")
	assert.LessOrEqual(t, r.RedisMarginalBytes, 120.0, "Redis bytes per added revocation")
	assert.Zero(t, r.NonListpackBuckets, "buckets of a sample not listpack-encoded (fullest bucket: %d users)", r.MaxBucketUsers)
	assert.LessOrEqual(t, r.CacheMiB, r.CacheBoundMiB, "cache MiB above its bound")
}

func scaleUser(i int) string { return "user-" + strconv.Itoa(i) }

func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(t.Context(), "memory").Result()
	require.NoError(t, err)
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	require.Fail(t, "no used_memory in INFO")
	return 0
}

func runScale(t *testing.T, n int) scaleResult {
	r := scaleResult{N: n}
	srv := redistest.Start(t, redistest.WithArgs("--slowlog-log-slower-than", "1000", "--slowlog-max-len", "1024"))
	prefix := DefaultPrefix // the key lengths of a default deployment
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	// Clients with patient timeouts: the big runs share a loaded machine,
	// and an i/o timeout would end the run, not measure the store.
	newClient := func(_ testing.TB, addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// Buckets sized as documented (about 16 users per bucket): the
	// default at a million users.
	// SEALEDSESSION_SCALE_BUCKETS overrides it.
	buckets := max(1, DefaultBuckets*n/1_000_000)
	if v := os.Getenv("SEALEDSESSION_SCALE_BUCKETS"); v != "" {
		var err error
		buckets, err = strconv.Atoi(v)
		require.NoError(t, err, "SEALEDSESSION_SCALE_BUCKETS=%q: want a number >= 1", v)
		require.GreaterOrEqual(t, buckets, 1, "SEALEDSESSION_SCALE_BUCKETS=%q: want a number >= 1", v)
	}
	r.Buckets = buckets
	opts := func(o Options) *Options {
		o.Prefix, o.Buckets = prefix, buckets
		return &o
	}
	writer := openStore(t, newClient(t, srv.Addr()), opts(Options{}), nil)

	// N users, one live revocation each, in the store's layout. Written
	// with pipelines of HSET (what the revoke script ends with), to
	// populate quickly.
	mem0 := usedMemory(t, c)
	until := time.Now().Add(time.Hour).UnixMilli()
	batch := min(2000, n/10)
	var memHalf int64
	afterHalf := 0 // revocations written after memHalf
	for start := 0; start < n; start += batch {
		if start >= n/2 && memHalf == 0 {
			memHalf = usedMemory(t, c)
			afterHalf = n - start
		}
		p := c.Pipeline()
		for i := start; i < min(start+batch, n); i++ {
			var id codec.SessionID
			id[0], id[1], id[2], id[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
			u := scaleUser(i)
			p.HSet(ctx, writer.bucketKey(u), u, encodeValue(usertable.User{Revs: []usertable.Rev{{ID: id, Until: until}}}))
		}
		_, err := p.Exec(ctx)
		require.NoError(t, err)
	}
	memFull := usedMemory(t, c)
	r.RedisBytesPerRevocation = float64(memFull-mem0) / float64(n)
	r.RedisMarginalBytes = float64(memFull-memHalf) / float64(afterHalf)
	// A few through the real script, to check the layout matches.
	for i := range 10 {
		require.NoError(t, writer.Revoke(ctx, scaleUser(i), codec.SessionID{0xee, byte(i)}, time.Now().Add(time.Hour)))
	}
	require.NoError(t, c.Do(ctx, "SLOWLOG", "RESET").Err())
	perBucket := make([]int, buckets)
	for i := range n {
		perBucket[bucketOf(scaleUser(i), buckets)]++
	}
	r.MaxBucketUsers = slices.Max(perBucket)
	sample := min(buckets, 1000)
	sweepStart := time.Now()
	for b := range sample {
		if err := sweepScript.Run(ctx, c, []string{writer.bucketName(b)}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r.SweepScript = time.Since(sweepStart) / time.Duration(sample)
	for b := range sample {
		if enc, err := c.ObjectEncoding(ctx, writer.bucketName(b)).Result(); err == nil && enc != "listpack" {
			r.NonListpackBuckets++
		}
	}

	// A new instance: time to the first answered request and to ready.
	start := time.Now()
	fresh, err := New(newClient(t, srv.Addr()), opts(Options{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = fresh.Close() })
	st, err := fresh.Lookup(ctx, scaleUser(n/2), codec.SessionID{byte(n / 2)})
	r.NewToFirstRequest = time.Since(start)
	require.NoError(t, err)
	_ = st
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	require.NoError(t, fresh.WaitReady(rctx))
	cancel()
	r.NewToReady = time.Since(start)

	// Four instances reconnecting at once.
	var four []*Store
	for range 4 {
		four = append(four, openStore(t, newClient(t, srv.Addr()), opts(Options{}), nil))
	}
	resyncs := make([]int64, 4)
	for i, s := range four {
		resyncs[i] = s.resyncs.Load()
	}
	killAt := time.Now()
	require.NoError(t, c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
	ok := waitUntil(10*time.Second, func() bool {
		for i, s := range four {
			if good, _ := s.Trusted(); !good || s.resyncs.Load() == resyncs[i] {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "the 4 instances did not resync within 10s")
	r.ReconnectTrustedAgain = time.Since(killAt)

	// Every user active on one instance (looked up once, 8 at a time).
	inst := openStore(t, newClient(t, srv.Addr()), opts(Options{MaxLag: time.Minute}), nil)
	heap0 := testkit.LiveHeap()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := inst.Lookup(ctx, scaleUser(i), codec.SessionID{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	r.InstanceHeapMiB = float64(int64(testkit.LiveHeap())-int64(heap0)) / (1 << 20)
	stats := inst.Stats()
	r.CachedUsers, r.CacheMiB = stats.CachedUsers, float64(stats.CacheBytes)/(1<<20)
	r.CacheBoundMiB = float64(inst.opts.CacheBytes) / (1 << 20)

	entries, err := c.SlowLogGet(ctx, 1024).Result()
	require.NoError(t, err)
	r.SlowlogEntries = len(entries)
	slices.SortFunc(entries, func(a, b redis.SlowLog) int { return int(b.Duration - a.Duration) })
	var top []string
	for i, e := range entries {
		r.SlowlogMax = max(r.SlowlogMax, e.Duration)
		if i < 3 {
			top = append(top, fmt.Sprintf("%s %v", slowName(e.Args), e.Duration))
		}
	}
	r.SlowlogTop = strings.Join(top, ", ")

	// Commands per request for cached users: the most recent users are
	// cached whatever the bound.
	cc := newClient(t, srv.Addr())
	counter := &cmdCounter{}
	cc.AddHook(counter)
	hot := openStore(t, cc, opts(Options{MaxLag: time.Minute}), nil)
	users := min(n, 1000)
	for i := range users {
		_, err := hot.Lookup(ctx, scaleUser(i), codec.SessionID{})
		require.NoError(t, err)
	}
	counter.take()
	const requests = 100_000
	for i := range requests {
		if _, err := hot.Lookup(ctx, scaleUser(i%users), codec.SessionID{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	sent := 0
	for _, name := range counter.take() {
		if name != "mget" && name != "ping" { // the prover's, not per request
			sent++
		}
	}
	r.CommandsPerCachedRequest = float64(sent) / requests

	// A Checker read of a cached user: N revocations in Redis against none
	// (interleaved, best of 5 each, to cancel the machine's noise).
	empty := redistest.Start(t)
	emptyStore := openStore(t, newClient(t, empty.Addr()), opts(Options{MaxLag: time.Minute}), nil)
	for range 5 {
		full, none := checkNs(t, hot, scaleUser(1)), checkNs(t, emptyStore, scaleUser(1))
		if r.CheckNsFull == 0 || full < r.CheckNsFull {
			r.CheckNsFull = full
		}
		if r.CheckNsEmpt == 0 || none < r.CheckNsEmpt {
			r.CheckNsEmpt = none
		}
	}
	return r
}

// slowName names a SLOWLOG entry: the command, and the script for EVALSHA.
func slowName(args []string) string {
	if len(args) == 0 {
		return "?"
	}
	if strings.EqualFold(args[0], "evalsha") && len(args) > 1 {
		for name, sc := range map[string]*redis.Script{"sweep": sweepScript, "revoke": revokeScript, "bump": bumpScript, "global": globalScript, "announce": announceScript} {
			if args[1] == sc.Hash() {
				return "evalsha (" + name + ")"
			}
		}
	}
	return args[0]
}

// checkNs measures versioning.Checker.CheckAt of a cached user's session.
func checkNs(t *testing.T, s *Store, user string) float64 {
	t.Helper()
	ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	require.NoError(t, err)
	now := time.Now()
	h := &codec.Header{Version: codec.Version, ID: codec.SessionID{0xfe}, IssuedAt: now, LastSeen: now, UserID: user}
	ctx := context.Background()
	_, err = ch.CheckAt(ctx, h, now)
	require.NoError(t, err)
	res := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := ch.CheckAt(ctx, h, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	return float64(res.T.Nanoseconds()) / float64(res.N)
}
