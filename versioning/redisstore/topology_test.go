package redisstore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

// newClusterClient returns a UniversalClient for a Cluster, seeded with
// addrs only (it discovers the other nodes), closed when the test ends.
func newClusterClient(t testing.TB, addrs ...string) redis.UniversalClient {
	c := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         addrs,
		IsClusterMode: true,
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   2 * time.Second,
		WriteTimeout:  time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// slotOwner returns the node of cl that serves key (the others answer
// MOVED).
func slotOwner(t *testing.T, cl *redistest.Cluster, key string) *redistest.Server {
	t.Helper()
	var owner *redistest.Server
	for _, n := range cl.Nodes {
		if _, err := n.Do("EXISTS", key); err == nil {
			require.Nil(t, owner, "two nodes serve %q", key)
			owner = n
		} else {
			require.True(t, strings.HasPrefix(err.Error(), "MOVED"), "EXISTS %q on %s: %v", key, n.Addr(), err)
		}
	}
	require.NotNil(t, owner, "no node serves %q", key)
	return owner
}

// TestCluster runs the conformance suite through go-redis's
// UniversalClient in cluster mode against a 3-master Redis Cluster, checks
// the key layout (every key and the channel in one slot) and measures how
// fast a bump reaches instances seeded through other nodes.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starting a cluster takes seconds")
	}
	cl := redistest.StartCluster(t, 3)
	addrs := cl.Addrs()
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
			require.IsType(t, (*redis.ClusterClient)(nil), newClusterClient(t, addrs...), "UniversalClient with IsClusterMode is not a ClusterClient")
			return openStore(t, newClusterClient(t, addrs...), &Options{Prefix: uniquePrefix(t), Now: now}, nil)
		})
	})
	t.Run("Slots", func(t *testing.T) { testSlots(t, cl) })
	t.Run("Propagation", func(t *testing.T) { testClusterPropagation(t, cl) })
	t.Run("Sweep", func(t *testing.T) { testClusterSweep(t, cl) })
}

// testSlots checks the key layout rule: each user's state is in its
// bucket, and the buckets spread over the slots (CLUSTER KEYSLOT); a
// user's tracker keys share one slot whatever the user ID holds (braces
// included); the global and sequence counters, the bucket count and the
// channel share the {v} slot.
func testSlots(t *testing.T, cl *redistest.Cluster) {
	prefix := uniquePrefix(t)
	s := openStore(t, newClusterClient(t, cl.Addrs()[0]), &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	users := []string{"alice", "a{b}c", "}{", "{", "user with spaces", strings.Repeat("x", maxUserIDLen)}
	for i := range 20 {
		users = append(users, fmt.Sprint("user", i))
	}
	for _, u := range users {
		_, err := s.BumpEpoch(ctx, u)
		require.NoError(t, err)
		require.NoError(t, s.Revoke(ctx, u, codec.SessionID{0xab, 0xcd}, time.Now().Add(time.Minute)))
	}
	require.NoError(t, s.BumpGlobalEpoch(ctx))
	slot := func(k string) string {
		got, err := cl.Nodes[0].Do("CLUSTER", "KEYSLOT", k)
		require.NoError(t, err)
		return got
	}
	v := slot(s.globalKey)
	for _, k := range []string{s.seqKey, s.channel, s.metaKey(), s.sweepKey()} {
		assert.Equal(t, v, slot(k), "CLUSTER KEYSLOT %q, want the slot of the global key", k)
	}
	slots := map[string]bool{}
	buckets := map[string]bool{}
	for _, u := range users {
		bk := s.bucketKey(u)
		buckets[bk] = true
		slots[slot(bk)] = true
		field, err := s.client.HGet(ctx, bk, u).Result()
		assert.NoError(t, err, "user %q: field in %s", u, bk)
		assert.True(t, strings.HasPrefix(field, "1:"), "user %q: field in %s = %q; want epoch 1", u, bk, field)
		tk := s.trackKeys(u)
		us := slot(tk[0])
		for _, k := range tk[1:] {
			assert.Equal(t, us, slot(k), "user %q: tracker key %q, want the slot of %q", u, k, tk[0])
		}
	}
	assert.GreaterOrEqual(t, len(slots), len(users)/2, "slots used by %d users: users do not spread", len(users))
	// Every bucket's slot as the cluster computes it, for a sample.
	for b := 0; b < DefaultBuckets; b += 997 {
		assert.Equal(t, strconv.Itoa(redisSlot(s.bucketName(b))), slot(s.bucketName(b)), "CLUSTER KEYSLOT %s against redisSlot", s.bucketName(b))
	}
	count := 0
	for _, n := range cl.Nodes {
		keys, err := n.Do("KEYS", prefix+"*")
		require.NoError(t, err)
		for k := range strings.SplitSeq(keys, "\n") {
			if k != "" {
				count++
			}
		}
	}
	assert.Equal(t, len(buckets)+3, count, "keys with the prefix: the users' %d buckets, g, seq, buckets", len(buckets))
	t.Logf("%d users in %d slots; %d keys", len(users), len(slots), count)
}

// testClusterPropagation: store A is seeded with one node, store B with
// another; bumps and revocations made through A reach B's cache. The
// subscription of B lands on the slot owner (the channel carries the hash
// tag), and plain SUBSCRIBE connections to every node show that classic
// pub/sub delivers the message through any node.
func testClusterPropagation(t *testing.T, cl *redistest.Cluster) {
	addrs := cl.Addrs()
	prefix := uniquePrefix(t)
	a := openStore(t, newClusterClient(t, addrs[0]), &Options{Prefix: prefix}, nil)
	var seen atomic.Uint64
	var seenAt atomic.Int64
	b := openStore(t, newClusterClient(t, addrs[2]), &Options{Prefix: prefix}, func(m Message) {
		if m.Kind == KindUser && m.UserID == "alice" {
			seenAt.Store(time.Now().UnixNano())
			seen.Add(1)
		}
	})
	ctx := t.Context()
	owner := slotOwner(t, cl, a.globalKey)
	// B's subscriber is on the slot owner: PUBSUB NUMSUB counts the
	// subscribers connected to the node asked.
	for _, n := range cl.Nodes {
		r, err := n.Do("PUBSUB", "NUMSUB", b.channel)
		require.NoError(t, err)
		wantSubs := "0"
		if n == owner {
			wantSubs = "2" // stores A and B
		}
		assert.True(t, strings.HasSuffix(r, "\n"+wantSubs), "PUBSUB NUMSUB on %s = %q, want %s subscribers", n.Addr(), r, wantSubs)
	}

	// One raw subscriber per node, to see the broadcast through every node.
	type raw struct {
		node  string
		owner bool
		at    atomic.Int64 // unix ns of the latest alice message
		value atomic.Uint64
	}
	raws := make([]*raw, len(cl.Nodes))
	for i, n := range cl.Nodes {
		r := &raw{node: n.Addr(), owner: n == owner}
		raws[i] = r
		c := newClient(t, n.Addr())
		ps := c.Subscribe(ctx, b.channel)
		_, err := ps.Receive(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ps.Close() })
		go func() {
			for m := range ps.Channel() {
				if msg, err := ParseMessage(m.Payload); err == nil && msg.UserID == "alice" {
					r.at.Store(time.Now().UnixNano())
					r.value.Add(1)
				}
			}
		}()
	}

	_, err := b.Epoch(ctx, "alice")
	require.NoError(t, err)
	const n = 100
	var storeDelays []time.Duration
	rawDelays := make([][]time.Duration, len(raws))
	for i := range n {
		start := time.Now()
		e, err := a.BumpEpoch(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), e, "bump %d", i+1)
		ok := waitUntil(2*time.Second, func() bool {
			if seen.Load() < e {
				return false
			}
			for _, r := range raws {
				if r.value.Load() < e {
					return false
				}
			}
			return true
		})
		require.True(t, ok, "bump %d not seen by B and every node's subscriber within 2s", e)
		storeDelays = append(storeDelays, time.Unix(0, seenAt.Load()).Sub(start))
		for j, r := range raws {
			rawDelays[j] = append(rawDelays[j], time.Unix(0, r.at.Load()).Sub(start))
		}
		got, err := b.Epoch(ctx, "alice")
		require.NoError(t, err, "B.Epoch after bump %d", e)
		require.Equal(t, e, got, "B.Epoch after bump %d", e)
	}
	t.Logf("cluster bump-to-visible on store B (seeded with another node) over %d bumps: median %v, p99 %v, max %v",
		n, percentile(storeDelays, 0.5), percentile(storeDelays, 0.99), slices.Max(storeDelays))
	for j, r := range raws {
		role := "other node (cluster-bus broadcast)"
		if r.owner {
			role = "slot owner"
		}
		t.Logf("  plain SUBSCRIBE on %s, %s: median %v, p99 %v", r.node, role,
			percentile(rawDelays[j], 0.5), percentile(rawDelays[j], 0.99))
	}
	assert.LessOrEqual(t, percentile(storeDelays, 0.99), 500*time.Millisecond, "p99 bump-to-visible exceeds 500ms")

	id := codec.SessionID{7}
	require.NoError(t, a.Revoke(ctx, "alice", id, time.Now().Add(time.Minute)))
	requireRevokedSoon(t, b, "alice", id, "revocation not seen by B")
	require.NoError(t, b.BumpGlobalEpoch(ctx))
	requireEpochSoon(t, a, "alice", n+1, "global bump made through B not seen by A")
}

// TestSentinel runs the conformance suite through go-redis's
// UniversalClient in failover mode, with and without MinReplicas (the
// failover itself is TestFailover).
func TestSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starting sentinels takes seconds")
	}
	st := redistest.StartSentinel(t)
	for _, minReplicas := range []int{0, 1} {
		name := "Plain"
		if minReplicas > 0 {
			name = "MinReplicas1"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
				c := st.Client(t)
				require.IsType(t, (*redis.Client)(nil), c, "UniversalClient with MasterName: want a failover *redis.Client")
				return openStore(t, c, &Options{Prefix: uniquePrefix(t), Now: now, MinReplicas: minReplicas, WaitTimeout: 500 * time.Millisecond}, nil)
			})
		})
	}
	// With MinReplicas the write is on the replica when it is acknowledged.
	s := openStore(t, st.Client(t), &Options{Prefix: uniquePrefix(t), MinReplicas: 1, WaitTimeout: 500 * time.Millisecond}, nil)
	ctx := t.Context()
	for i := range 20 {
		e, err := s.BumpEpoch(ctx, "alice")
		require.NoError(t, err)
		got, err := st.Replica.Do("HGET", s.bucketKey("alice"), "alice")
		require.NoError(t, err, "HGET on the replica after bump %d", i+1)
		require.Equal(t, uint64(i+1), e, "bump %d acknowledged", i+1)
		require.Equal(t, strconv.FormatUint(e, 10)+":", got, "bump %d: the replica's field", i+1)
	}
}
