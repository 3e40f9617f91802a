package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

func TestMinReplicasOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ReadTimeout: time.Second})
	defer c.Close()
	slow := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ReadTimeout: 3 * time.Second})
	defer slow.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	for _, tc := range []struct {
		client redis.UniversalClient
		o      Options
	}{
		{c, Options{MinReplicas: -1}},
		{c, Options{MinReplicas: 1, WaitTimeout: -time.Second}},
		{c, Options{MinReplicas: 1, WaitTimeout: time.Microsecond}},
		{ring, Options{MinReplicas: 1}}, // WAIT needs one connection to the master
	} {
		s, err := New(tc.client, &tc.o)
		if !assert.ErrorIs(t, err, ErrInvalidOptions, "New(%T, %+v)", tc.client, tc.o) && s != nil {
			s.Close()
		}
	}
	// The WAIT has a read deadline of its own: a WaitTimeout at or above
	// the client's ReadTimeout is accepted.
	for _, w := range []time.Duration{time.Second, 2 * time.Second} {
		s, err := New(c, &Options{MinReplicas: 1, WaitTimeout: w})
		if !assert.NoError(t, err, "WaitTimeout %v with ReadTimeout 1s", w) {
			continue
		}
		s.Close()
	}
	s, err := New(slow, &Options{MinReplicas: 1})
	require.NoError(t, err, "MinReplicas 1 with the default WaitTimeout")
	defer s.Close()
	assert.Equal(t, DefaultWaitTimeout, s.opts.WaitTimeout)
}

// TestNotReplicated: with a replica the writes are acknowledged and on the
// replica; with the replica gone every write returns an error matching
// ErrNotReplicated and ErrStoreUnavailable after WaitTimeout (the change
// is on the master and raised the local cache, which is safe), and works
// again once the replica is back.
func TestNotReplicated(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, redistest.WithArgs("--replicaof", "127.0.0.1", strconv.Itoa(master.Port())))
	online := func() bool {
		info, _ := master.Do("INFO", "replication")
		return strings.Contains(info, "state=online")
	}
	require.True(t, waitUntil(10*time.Second, online), "replica not online")
	// Above newClient's 500 ms ReadTimeout on purpose: the WAIT has a read
	// deadline of its own, so an unconfirmed write ends as ErrNotReplicated,
	// never as the client's i/o timeout.
	const wait = 700 * time.Millisecond
	s := openStore(t, newClient(t, master.Addr()), &Options{Prefix: uniquePrefix(t), MinReplicas: 1, WaitTimeout: wait}, nil)
	ctx := t.Context()
	id := codec.SessionID{1}
	// The first acknowledged write may race the replica's first ACK on a
	// loaded machine: retry a bounded number of times (each retry bumps).
	var bumps uint64
	for i := 0; ; i++ {
		e, err := s.BumpEpoch(ctx, "alice")
		bumps++
		if err == nil && e == bumps {
			break
		}
		if i == 4 || !errors.Is(err, ErrNotReplicated) {
			info, _ := master.Do("INFO", "replication")
			require.Failf(t, "BumpEpoch not acknowledged", "BumpEpoch = %d, %v\n%s", e, err, info)
		}
	}
	require.NoError(t, s.BumpGlobalEpoch(ctx))
	require.NoError(t, s.Revoke(ctx, "alice", id, time.Now().Add(time.Minute)))
	for _, k := range []string{s.bucketKey("alice"), s.globalKey, s.seqKey, s.metaKey()} {
		n, err := replica.Do("EXISTS", k)
		assert.NoError(t, err, "EXISTS %s on the replica", k)
		assert.Equal(t, "1", n, "acknowledged write of %s not on the replica", k)
	}

	replica.Kill()
	start := time.Now()
	_, err := s.BumpEpoch(ctx, "alice")
	took := time.Since(start)
	errG := s.BumpGlobalEpoch(ctx)
	errR := s.Revoke(ctx, "alice", codec.SessionID{2}, time.Now().Add(time.Minute))
	for name, err := range map[string]error{"BumpEpoch": err, "BumpGlobalEpoch": errG, "Revoke": errR} {
		assert.ErrorIs(t, err, ErrNotReplicated, "%s without a replica", name)
		assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "%s without a replica", name)
	}
	assert.GreaterOrEqual(t, took, wait, "unreplicated BumpEpoch, want about WaitTimeout")
	assert.LessOrEqual(t, took, wait+time.Second, "unreplicated BumpEpoch, want about WaitTimeout %v", wait)
	// The write happened on the master: the cache may only go up.
	e, err := s.Epoch(ctx, "alice")
	assert.NoError(t, err, "Epoch after the unconfirmed bumps")
	assert.Equal(t, bumps+3, e, "Epoch after the unconfirmed bumps: want %d own + 2 global", bumps+1)

	replica.Restart()
	require.True(t, waitUntil(10*time.Second, online), "replica not back online")
	e, err = s.BumpEpoch(ctx, "alice")
	assert.NoError(t, err, "BumpEpoch with the replica back")
	assert.Equal(t, bumps+4, e, "BumpEpoch with the replica back")
}
