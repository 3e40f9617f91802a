package redisstore

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// haltClock is time.Now plus a skew, which can be halted (Now stays put)
// and resumed (from where it stood).
type haltClock struct {
	mu     sync.Mutex
	skew   time.Duration
	halted bool
	at     time.Time
}

func (c *haltClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted {
		return c.at
	}
	return time.Now().Add(c.skew)
}

func (c *haltClock) Halt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.halted {
		c.at, c.halted = time.Now().Add(c.skew), true
	}
}

func (c *haltClock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted {
		c.skew, c.halted = time.Until(c.at), false
	}
}

// fillEnded gives each of the n buckets of prefix per users with one
// revocation, which has ended by the time it returns. Returns the number
// of users.
func fillEnded(t *testing.T, c redis.UniversalClient, prefix string, n, per int) int {
	t.Helper()
	ctx := t.Context()
	s := &Store{opts: Options{Prefix: prefix, Buckets: n}}
	now, err := c.Time(ctx).Result()
	require.NoError(t, err)
	end := now.Add(50 * time.Millisecond)
	count := make([]int, n)
	users := 0
	for i := 0; users < n*per; i++ {
		u := scaleUser(i)
		b := bucketOf(u, n)
		if count[b] == per {
			continue
		}
		count[b]++
		users++
		require.NoError(t, c.HSet(ctx, s.bucketName(b), u, encodeValue(usertable.User{Revs: []usertable.Rev{{ID: codec.SessionID{byte(i)}, Until: end.UnixMilli()}}})).Err())
	}
	require.Eventually(t, func() bool {
		now, err := c.Time(ctx).Result()
		return err == nil && now.After(end)
	}, 5*time.Second, 5*time.Millisecond)
	return users
}

// pollClient returns a client for the test's own reads: the timeouts of
// newClient, which suit the stores, are too short on a loaded machine.
func pollClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sweepState is the shared sweep's state in Redis, and Redis's clock
// when it was read.
type sweepState struct {
	now                        time.Time
	start, next, pass, claimed int64
}

func readSweepState(t *testing.T, c redis.Cmdable, s *Store) sweepState {
	t.Helper()
	ctx := t.Context()
	p := c.TxPipeline()
	tm := p.Time(ctx)
	h := p.HMGet(ctx, s.sweepKey(), "start", "next", "pass", "claimed")
	_, err := p.Exec(ctx)
	require.NoError(t, err)
	st := sweepState{now: tm.Val()}
	for i, f := range []*int64{&st.start, &st.next, &st.pass, &st.claimed} {
		if v, ok := h.Val()[i].(string); ok {
			*f, err = strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
		}
	}
	return st
}

// evalCalls is the number of EVAL and EVALSHA calls Redis has run.
func evalCalls(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	require.NoError(t, err)
	var n int64
	for line := range strings.SplitSeq(info, "\r\n") {
		for _, cmd := range []string{"cmdstat_eval:", "cmdstat_evalsha:"} {
			if rest, ok := strings.CutPrefix(line, cmd+"calls="); ok {
				v, _, _ := strings.Cut(rest, ",")
				k, err := strconv.ParseInt(v, 10, 64)
				require.NoError(t, err)
				n += k
			}
		}
	}
	return n
}

// bucketsLeft returns the buckets of s that exist, among from..to-1.
func bucketsLeft(t *testing.T, c redis.Cmdable, s *Store, from, to int) []int {
	t.Helper()
	var left []int
	for b := from; b < to; b++ {
		n, err := c.Exists(t.Context(), s.bucketName(b)).Result()
		require.NoError(t, err)
		if n > 0 {
			left = append(left, b)
		}
	}
	return left
}

// TestSweepShared: three instances with skewed clocks share the sweep:
// after a mass expiry every bucket is pruned once per pass by one of
// them, and the scripts run per pass are one per bucket (plus one small
// claim per instance and tick), not one per bucket and instance. Their
// clocks pace their ticks: halted, they claim nothing.
func TestSweepShared(t *testing.T) {
	srv := redistest.Start(t)
	c := pollClient(t, srv.Addr())
	const n, per, period = 256, 4, 2 * time.Second
	prefix := uniquePrefix(t)
	users := fillEnded(t, c, prefix, n, per)
	var stores []*Store
	var clocks []*haltClock
	for _, skew := range []time.Duration{-time.Hour, 0, 3 * time.Hour} {
		clock := &haltClock{skew: skew}
		clock.Halt()
		clocks = append(clocks, clock)
		stores = append(stores, openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix, Buckets: n, SweepPeriod: period, Now: clock.Now, MaxLag: time.Hour}, nil))
	}
	s := stores[0]
	calls0 := evalCalls(t, c)
	time.Sleep(3 * sweepTick(period))
	for i, st := range stores {
		assert.Zero(t, st.sweepClaims.Load(), "store %d claimed with its clock halted", i)
	}
	assert.Zero(t, c.Exists(t.Context(), s.sweepKey()).Val(), "sweep state written with every clock halted")

	began := time.Now()
	for _, clock := range clocks {
		clock.Resume()
	}
	require.Eventually(t, func() bool { return readSweepState(t, c, s).pass >= 3 }, 20*time.Second, 10*time.Millisecond)
	took := time.Since(began)
	for _, clock := range clocks {
		clock.Halt()
	}
	// Wait for the batches in flight.
	var swept, revs, claims int64
	require.Eventually(t, func() bool {
		swept, revs, claims = 0, 0, 0
		for _, st := range stores {
			swept += st.Stats().SweptBuckets
			revs += st.Stats().SweptRevs
			claims += st.sweepClaims.Load()
		}
		return swept == readSweepState(t, c, s).claimed
	}, 5*time.Second, 10*time.Millisecond)
	st := readSweepState(t, c, s)
	calls := evalCalls(t, c) - calls0
	assert.Equal(t, (st.pass-1)*n+st.next, st.claimed, "every bucket handed out once per pass")
	assert.Equal(t, int64(users), revs, "every ended revocation dropped once")
	assert.Empty(t, bucketsLeft(t, c, s, 0, n), "buckets left after the sweep")
	// A NOSCRIPT answer (the first run of each script) counts as a call.
	assert.InDelta(t, swept+claims, calls, 4, "EVAL/EVALSHA calls: %d, sweeps %d, claims %d", calls, swept, claims)
	participants := 0
	var each []string
	for i, st := range stores {
		if st.Stats().SweptBuckets > 0 {
			participants++
		}
		each = append(each, strconv.Itoa(i)+": "+strconv.FormatInt(st.Stats().SweptBuckets, 10)+" buckets in "+strconv.FormatInt(st.sweepClaims.Load(), 10)+" claims")
	}
	assert.GreaterOrEqual(t, participants, 2, "the sweep is shared: %v", each)
	t.Logf("3 instances, %d buckets, SweepPeriod %v: %d full passes and %d buckets of the next in %v: %d sweep scripts (%.2f per bucket and pass; %d if each instance swept alone), %d claims, %d EVAL/EVALSHA calls in all; %v",
		n, period, st.pass-1, st.next, took.Round(time.Millisecond), swept, float64(swept)/float64(st.claimed), 3*st.claimed, claims, calls, each)
}

// TestSweepSingleInstance: one instance alone completes each pass within
// the period (plus a tick), and the passes start a period apart (Redis
// time).
func TestSweepSingleInstance(t *testing.T) {
	srv := redistest.Start(t)
	c := pollClient(t, srv.Addr())
	const n, period = 256, 2 * time.Second
	s := openStore(t, c, &Options{Prefix: uniquePrefix(t), Buckets: n, SweepPeriod: period}, nil)
	var first, done sweepState
	require.Eventually(t, func() bool {
		st := readSweepState(t, c, s)
		if first.pass == 0 && st.pass == 1 {
			first = st
		}
		if st.pass == 1 && st.next == n && done.pass == 0 {
			done = st
		}
		return st.pass >= 2
	}, 10*time.Second, 2*time.Millisecond)
	second := readSweepState(t, c, s)
	require.Equal(t, int64(1), first.pass, "pass 1 not seen")
	require.Equal(t, int64(1), done.pass, "pass 1 not seen complete")
	took := time.Duration(done.now.UnixMilli()-first.start) * time.Millisecond
	tick := sweepTick(period)
	t.Logf("%d buckets, SweepPeriod %v, tick %v: pass 1 seen complete %v after its start; pass 2 started %dms after pass 1",
		n, period, tick, took, second.start-first.start)
	assert.LessOrEqual(t, took, period+tick+600*time.Millisecond, "a single instance completes a pass within the period and a tick")
	assert.Equal(t, period.Milliseconds(), second.start-first.start, "passes start a period apart")
	assert.GreaterOrEqual(t, s.Stats().SweptBuckets, int64(n))
}

// TestSweepCloseAndCrash: an instance closed mid-pass stops sweeping and
// the other completes the pass on time; the buckets claimed by an
// instance that crashed before pruning them are pruned by the next pass,
// at their slot.
func TestSweepCloseAndCrash(t *testing.T) {
	srv := redistest.Start(t)
	c := pollClient(t, srv.Addr())
	const n, per, period = 128, 2, 2 * time.Second
	tick := sweepTick(period)
	prefix := uniquePrefix(t)
	fillEnded(t, c, prefix, n, per)
	o := &Options{Prefix: prefix, Buckets: n, SweepPeriod: period}
	a := openStore(t, newClient(t, srv.Addr()), o, nil)
	bclock := &haltClock{}
	ob := *o
	ob.Now = bclock.Now
	b := openStore(t, newClient(t, srv.Addr()), &ob, nil)
	require.Eventually(t, func() bool { st := readSweepState(t, c, a); return st.pass == 1 && st.next >= n/2 }, 10*time.Second, 2*time.Millisecond)
	require.NoError(t, a.Close())
	closedAt := a.Stats().SweptBuckets
	// A crashed instance: it claimed a batch of 8 and never pruned it (b
	// is held still meanwhile, so that 8 are due).
	bclock.Halt()
	time.Sleep(3 * tick)
	r, err := claimScript.Run(t.Context(), c, []string{a.sweepKey()}, n, period.Milliseconds(), 8).Int64Slice()
	bclock.Resume()
	require.NoError(t, err)
	require.Equal(t, int64(1), r[2], "pass 1 over before the crash")
	from, to := int(r[0]), int(r[1])
	require.Equal(t, 8, to-from, "crashed batch %d..%d", from, to)
	var start1 int64
	var done sweepState
	require.Eventually(t, func() bool {
		done = readSweepState(t, c, a)
		start1 = done.start
		return done.pass == 1 && done.next == n
	}, 5*time.Second, 2*time.Millisecond)
	took := time.Duration(done.now.UnixMilli()-start1) * time.Millisecond
	// b was held still for 3 ticks: an interruption of the sweep, which
	// the bound adds.
	assert.LessOrEqual(t, took, period+3*tick+tick+500*time.Millisecond, "pass 1 complete by b alone")
	// Once b starts pass 2 it has finished its batches of pass 1: what is
	// left is the crashed batch, and possibly the rest of a batch a was
	// closed on (contiguous, at most a burst).
	var left []int
	require.Eventually(t, func() bool {
		st := readSweepState(t, c, a)
		if st.pass < 2 {
			return false
		}
		left = bucketsLeft(t, c, a, 0, n)
		require.NotEmpty(t, left)
		require.LessOrEqual(t, readSweepState(t, c, a).next, int64(left[0]), "pass 2 reached a bucket left by pass 1 already")
		return true
	}, 5*time.Second, 2*time.Millisecond)
	assert.Subset(t, left, []int{from, from + 1, from + 2, from + 3, from + 4, from + 5, from + 6, from + 7}, "the crashed batch is left by pass 1")
	var closedOn []int
	for _, bk := range left {
		if bk < from || bk >= to {
			closedOn = append(closedOn, bk)
		}
	}
	if len(closedOn) > 0 {
		assert.Equal(t, len(closedOn)-1, closedOn[len(closedOn)-1]-closedOn[0], "buckets left by pass 1 besides the crashed batch: %v", closedOn)
		assert.LessOrEqual(t, len(closedOn), minSweepBurst)
	}
	assert.Equal(t, closedAt, a.Stats().SweptBuckets, "a closed store swept")
	// Pass 2 prunes them at their slots.
	var gone sweepState
	require.Eventually(t, func() bool {
		gone = readSweepState(t, c, a)
		return len(bucketsLeft(t, c, a, left[0], left[len(left)-1]+1)) == 0
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(2), gone.pass)
	assert.Equal(t, start1+period.Milliseconds(), gone.start)
	last := time.UnixMilli(gone.start + int64(left[len(left)-1])*period.Milliseconds()/n)
	assert.LessOrEqual(t, gone.now.Sub(last), tick+500*time.Millisecond, "buckets left by pass 1 pruned a tick after their slot in pass 2")
	t.Logf("closed a at bucket ~%d of pass 1 (a swept %d, b %d); pass 1 seen complete %v after its start; crashed batch %d..%d and %v (a's batch cut by Close) left by pass 1, pruned by pass 2 %v after the slot of the last",
		n/2, closedAt, b.Stats().SweptBuckets, took, from, to-1, closedOn, gone.now.Sub(last))
}

// testClusterSweep: on a Cluster the claim (in the {v} slot) and the
// buckets (spread over the slots) are separate commands; two instances
// seeded through different nodes share the sweep and prune every bucket
// once per pass.
func testClusterSweep(t *testing.T, cl *redistest.Cluster) {
	const n, per, period = 64, 2, time.Second
	prefix := uniquePrefix(t)
	c := newClusterClient(t, cl.Addrs()...)
	users := fillEnded(t, c, prefix, n, per)
	o := &Options{Prefix: prefix, Buckets: n, SweepPeriod: period}
	a := openStore(t, newClusterClient(t, cl.Addrs()[0]), o, nil)
	b := openStore(t, newClusterClient(t, cl.Addrs()[1]), o, nil)
	require.Eventually(t, func() bool { return len(bucketsLeft(t, c, a, 0, n)) == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return a.Stats().SweptRevs+b.Stats().SweptRevs == int64(users) }, 5*time.Second, 10*time.Millisecond)
	st := readSweepState(t, c, a)
	assert.LessOrEqual(t, st.claimed, st.pass*n, "a bucket handed out twice in a pass")
	t.Logf("Cluster: %d buckets pruned of %d ended revocations in pass %d (a swept %d buckets, b %d)", n, users, st.pass, a.Stats().SweptBuckets, b.Stats().SweptBuckets)
}

// TestClaimScript drives the claim script through its cases with states
// written relative to Redis's clock (100 buckets, a 10s period: a slot
// every 100ms; the offsets fall mid-slot).
func TestClaimScript(t *testing.T) {
	srv := redistest.Start(t)
	c := pollClient(t, srv.Addr())
	ctx := t.Context()
	s := &Store{opts: Options{Prefix: uniquePrefix(t)}}
	const n, period = 100, 10000
	claim := func(burst int) []int64 {
		t.Helper()
		r, err := claimScript.Run(ctx, c, []string{s.sweepKey()}, n, period, burst).Int64Slice()
		require.NoError(t, err)
		return r
	}
	set := func(startAgo int64, next any, pass int) {
		t.Helper()
		require.NoError(t, c.HSet(ctx, s.sweepKey(), "start", redisNow(t, c).UnixMilli()-startAgo, "next", next, "pass", pass).Err())
	}
	// No state: a pass starts now, and its first bucket is due.
	assert.Equal(t, []int64{0, 1, 1}, claim(1000))
	st := readSweepState(t, c, s)
	assert.InDelta(t, st.now.UnixMilli(), st.start, 1000)
	assert.Equal(t, int64(1), st.claimed)
	// Mid-pass: buckets up to the slot of now (51 at 5.05s), at most a burst.
	set(5050, 10, 1)
	assert.Equal(t, []int64{10, 18, 1}, claim(8))
	assert.Equal(t, []int64{18, 51, 1}, claim(1000))
	assert.Equal(t, []int64{51, 51, 1}, claim(1000), "nothing more is due")
	assert.Equal(t, int64(1+8+33), readSweepState(t, c, s).claimed)
	// A complete pass: nothing until its start plus the period.
	set(5050, n, 1)
	assert.Equal(t, []int64{n, n, 1}, claim(1000))
	// Completed less than a period late: the next pass starts a period
	// after the last, and is 5.05s in already.
	set(15050, n, 1)
	assert.Equal(t, []int64{0, 51, 2}, claim(1000))
	assert.InDelta(t, redisNow(t, c).UnixMilli()-5050, readSweepState(t, c, s).start, 1000)
	// Completed more than a period late: the next pass starts now.
	set(25050, n, 2)
	assert.Equal(t, []int64{0, 1, 3}, claim(1000))
	// Stalled mid-pass for more than a period: the rest is due, a burst
	// at a time.
	set(35050, 40, 3)
	assert.Equal(t, []int64{40, 50, 3}, claim(10))
	assert.Equal(t, []int64{50, n, 3}, claim(1000))
	// Redis's clock went back past the start: the pass goes on from where
	// it is, at its pace.
	set(-60000, 40, 3)
	assert.Equal(t, []int64{40, 41, 3}, claim(1000))
	assert.Equal(t, []int64{41, 41, 3}, claim(1000))
	// A state this package did not write: a new pass.
	set(5050, "x", 7)
	assert.Equal(t, []int64{0, 1, 8}, claim(1000))
	set(5050, n+1, 8)
	assert.Equal(t, []int64{0, 1, 9}, claim(1000))
}
