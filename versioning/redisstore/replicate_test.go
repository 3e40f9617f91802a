package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
		if s, err := New(tc.client, &tc.o); !errors.Is(err, ErrInvalidOptions) {
			if s != nil {
				s.Close()
			}
			t.Errorf("New(%T, %+v) = %v, want ErrInvalidOptions", tc.client, tc.o, err)
		}
	}
	// The WAIT has a read deadline of its own: a WaitTimeout at or above
	// the client's ReadTimeout is accepted.
	for _, w := range []time.Duration{time.Second, 2 * time.Second} {
		s, err := New(c, &Options{MinReplicas: 1, WaitTimeout: w})
		if err != nil {
			t.Errorf("WaitTimeout %v with ReadTimeout 1s: %v", w, err)
			continue
		}
		s.Close()
	}
	s, err := New(slow, &Options{MinReplicas: 1})
	if err != nil {
		t.Fatalf("MinReplicas 1 with the default WaitTimeout: %v", err)
	}
	defer s.Close()
	if s.opts.WaitTimeout != DefaultWaitTimeout {
		t.Errorf("WaitTimeout = %v, want %v", s.opts.WaitTimeout, DefaultWaitTimeout)
	}
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
	if !waitUntil(10*time.Second, online) {
		t.Fatal("replica not online")
	}
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
			t.Fatalf("BumpEpoch = %d, %v\n%s", e, err, info)
		}
	}
	if err := s.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "alice", id, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{s.bucketKey("alice"), s.globalKey, s.seqKey, s.metaKey()} {
		if n, err := replica.Do("EXISTS", k); err != nil || n != "1" {
			t.Errorf("acknowledged write of %s not on the replica: %q, %v", k, n, err)
		}
	}

	replica.Kill()
	start := time.Now()
	_, err := s.BumpEpoch(ctx, "alice")
	took := time.Since(start)
	errG := s.BumpGlobalEpoch(ctx)
	errR := s.Revoke(ctx, "alice", codec.SessionID{2}, time.Now().Add(time.Minute))
	for name, err := range map[string]error{"BumpEpoch": err, "BumpGlobalEpoch": errG, "Revoke": errR} {
		if !errors.Is(err, ErrNotReplicated) || !errors.Is(err, versioning.ErrStoreUnavailable) {
			t.Errorf("%s without a replica = %v, want ErrNotReplicated and ErrStoreUnavailable", name, err)
		}
	}
	if took < wait || took > wait+time.Second {
		t.Errorf("unreplicated BumpEpoch took %v, want about WaitTimeout %v", took, wait)
	}
	// The write happened on the master: the cache may only go up.
	if e, err := s.Epoch(ctx, "alice"); err != nil || e != bumps+3 {
		t.Errorf("Epoch after the unconfirmed bumps = %d, %v; want %d (%d own + 2 global)", e, err, bumps+3, bumps+1)
	}

	replica.Restart()
	if !waitUntil(10*time.Second, online) {
		t.Fatal("replica not back online")
	}
	if e, err := s.BumpEpoch(ctx, "alice"); err != nil || e != bumps+4 {
		t.Errorf("BumpEpoch with the replica back = %d, %v; want %d", e, err, bumps+4)
	}
}
