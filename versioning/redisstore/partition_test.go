package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

// freezeProxy forwards loopback TCP connections to a target and can stop
// delivering bytes in both directions without closing anything: a silent
// network partition.
type freezeProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	conns  []net.Conn
}

func startFreezeProxy(t *testing.T, target string) *freezeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &freezeProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		p.setFrozen(false)
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			wg.Go(func() { p.pipe(up, c) })
			wg.Go(func() { p.pipe(c, up) })
		}
	})
	return p
}

func (p *freezeProxy) Addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) setFrozen(f bool) {
	p.mu.Lock()
	p.frozen = f
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			return
		}
	}
}

// cacheAliceAtEpoch1 bumps alice once on a fresh store and waits until
// the store's cache holds her epoch 1.
func cacheAliceAtEpoch1(t *testing.T, s *Store) {
	t.Helper()
	_, err := s.BumpEpoch(t.Context(), "alice")
	require.NoError(t, err)
	settle(t, s, 1)
	e, err := s.Epoch(t.Context(), "alice") // cached
	require.NoError(t, err)
	require.Equal(t, uint64(1), e)
}

// TestSilentPartition checks the health check: when the connection to Redis
// goes silent (no reset), the cache is marked stale within about two
// HealthCheckIntervals, reads fail closed, and everything recovers once
// traffic flows again.
func TestSilentPartition(t *testing.T) {
	srv := redistest.Start(t)
	proxy := startFreezeProxy(t, srv.Addr())
	const interval = 100 * time.Millisecond
	s := openStore(t, newClient(t, proxy.Addr()), &Options{Prefix: uniquePrefix(t), HealthCheckInterval: interval}, nil)
	ctx := t.Context()
	cacheAliceAtEpoch1(t, s)

	frozenAt := time.Now()
	proxy.setFrozen(true)
	require.True(t, waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return !ok }),
		"cache still trusted 5s into a silent partition")
	detected := time.Since(frozenAt)
	t.Logf("silent partition detected after %v (HealthCheckInterval %v)", detected, interval)
	assert.LessOrEqual(t, detected, 4*interval+200*time.Millisecond, "detection time, want about 2 x %v", interval)
	_, err := s.Epoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Epoch during a silent partition")
	st, err := s.LookupStale(ctx, "alice", [16]byte{}, 0)
	assert.NoError(t, err, "LookupStale during a silent partition")
	assert.Equal(t, uint64(1), st.Epoch, "LookupStale during a silent partition")

	proxy.setFrozen(false)
	require.True(t, waitUntil(10*time.Second, func() bool { ok, _ := s.Trusted(); return ok }),
		"store did not recover after the partition healed")
	e, err := s.Epoch(ctx, "alice")
	assert.NoError(t, err, "Epoch after the partition")
	assert.Equal(t, uint64(1), e, "Epoch after the partition")
}

// TestColdStartWhileDown creates a store while Redis is down: New succeeds,
// reads fail closed (and stale reads have nothing to serve), and the store
// becomes ready by itself once Redis starts.
func TestColdStartWhileDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	s, err := New(newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), HealthCheckInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	_, err = s.Epoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Epoch before Redis is up")
	_, err = s.LookupStale(ctx, "alice", [16]byte{}, time.Hour)
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale of a never-proven cache")
	srv.Restart()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, s.WaitReady(wctx), "WaitReady after Redis started")
	e, err := s.Epoch(ctx, "alice")
	assert.NoError(t, err, "Epoch once ready")
	assert.Zero(t, e, "Epoch once ready")
}

// TestStaleReadsSurviveReconnect: a reconnect flushes the cache for
// trusted reads, but a store that loses Redis right after it (a failover
// seen first by the subscriber) must still serve its users within
// MaxStale of the last proof before the flush: the flushed entries stay
// readable for LookupStale. A second flush retires them.
func TestStaleReadsSurviveReconnect(t *testing.T) {
	srv := redistest.Start(t)
	proxy := startFreezeProxy(t, srv.Addr())
	s := openStore(t, newClient(t, proxy.Addr()), &Options{Prefix: uniquePrefix(t), HealthCheckInterval: 50 * time.Millisecond}, nil)
	ctx := t.Context()
	cacheAliceAtEpoch1(t, s)

	resyncs := s.resyncs.Load()
	_, err := srv.Do("CLIENT", "KILL", "TYPE", "pubsub")
	require.NoError(t, err)
	require.True(t, waitUntil(5*time.Second, func() bool { return s.resyncs.Load() > resyncs }),
		"no resync within 5s after the subscription was killed")
	_, cached := s.cache.get("alice")
	require.False(t, cached, "the resync's flush left alice trusted")

	proxy.setFrozen(true)
	st, err := s.LookupStale(ctx, "alice", codec.SessionID{}, 0)
	require.NoError(t, err, "LookupStale right after a reconnect")
	assert.Equal(t, uint64(1), st.Epoch)

	// Another flush: what was cached before the first one is retired.
	s.syncMu.Lock()
	s.flushLocked()
	s.syncMu.Unlock()
	_, err = s.LookupStale(ctx, "alice", codec.SessionID{}, 0)
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "LookupStale of an entry two flushes old")
}
