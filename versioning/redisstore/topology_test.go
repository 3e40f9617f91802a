package redisstore

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

// TestCluster runs the conformance suite through a ClusterClient against a
// 3-master Redis Cluster (the hash tag keeps every script's keys in one
// slot), and checks that a bump made through a client routed to one node
// reaches a store subscribed through another.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starting a cluster takes seconds")
	}
	cl := redistest.StartCluster(t, 3)
	newCluster := func(t *testing.T) *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:       cl.Addrs(),
			DialTimeout: 500 * time.Millisecond,
			ReadTimeout: time.Second,
		})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) versioning.Store {
			return openStore(t, newCluster(t), &Options{Prefix: uniquePrefix(t)}, nil)
		})
	})
	t.Run("Propagation", func(t *testing.T) {
		prefix := uniquePrefix(t)
		a := openStore(t, newCluster(t), &Options{Prefix: prefix}, nil)
		b := openStore(t, newCluster(t), &Options{Prefix: prefix}, nil)
		ctx := t.Context()
		if _, err := b.Epoch(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := a.BumpEpoch(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if !waitUntil(2*time.Second, func() bool { e, _ := b.Epoch(ctx, "alice"); return e == 1 }) {
			t.Fatal("bump not seen by the other store")
		}
		t.Logf("cluster bump-to-visible: %v", time.Since(start))
		id := codec.SessionID{7}
		if err := a.Revoke(ctx, id, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if !waitUntil(2*time.Second, func() bool { r, _ := b.IsRevoked(ctx, id); return r }) {
			t.Fatal("revocation not seen by the other store")
		}
	})
}

// TestSentinel runs the conformance suite through a Sentinel failover
// client (no failover here; that is issue 10's test).
func TestSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starting sentinels takes seconds")
	}
	st := redistest.StartSentinel(t)
	storetest.Run(t, func(t *testing.T) versioning.Store {
		c := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    st.MasterName,
			SentinelAddrs: st.SentinelAddrs(),
			DialTimeout:   500 * time.Millisecond,
			ReadTimeout:   time.Second,
		})
		t.Cleanup(func() { _ = c.Close() })
		return openStore(t, c, &Options{Prefix: uniquePrefix(t)}, nil)
	})
}
