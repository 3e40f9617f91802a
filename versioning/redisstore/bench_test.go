package redisstore

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

// benchStore returns a warm store: one cached user, one live revocation.
func benchStore(b *testing.B) *Store {
	srv := redistest.Start(b)
	s := openStore(b, newClient(b, srv.Addr()), &Options{Prefix: uniquePrefix(b)}, nil)
	_, err := s.BumpEpoch(b.Context(), "alice")
	require.NoError(b, err)
	require.NoError(b, s.Revoke(b.Context(), "alice", codec.SessionID{1}, time.Now().Add(time.Hour)))
	_, err = s.Epoch(b.Context(), "alice")
	require.NoError(b, err)
	return s
}

// BenchmarkEpoch measures Epoch in steady state (trusted cache, user cached).
func BenchmarkEpoch(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if e, err := s.Epoch(ctx, "alice"); err != nil || e != 1 {
			b.Fatal(e, err)
		}
	}
}

// BenchmarkLookup measures Lookup in steady state, for an ID that is not
// revoked (the common case) and one that is.
func BenchmarkLookup(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	for _, tc := range []struct {
		name string
		id   codec.SessionID
		want bool
	}{{"live", codec.SessionID{2}, false}, {"revoked", codec.SessionID{1}, true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if st, err := s.Lookup(ctx, "alice", tc.id); err != nil || st.Revoked != tc.want {
					b.Fatal(st, err)
				}
			}
		})
	}
}

// BenchmarkEpochParallel measures Epoch from every P at once (read lock
// contention).
func BenchmarkEpochParallel(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer() // benchStore started a redis-server
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Epoch(ctx, "alice"); err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
		}
	})
}

// BenchmarkCheck measures the full freshness check (versioning.Checker)
// of an authenticated session against the Redis store in steady state.
func BenchmarkCheck(b *testing.B) {
	s := benchStore(b)
	c, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	require.NoError(b, err)
	now := time.Now()
	h := &codec.Header{Version: codec.Version, ID: codec.SessionID{2}, IssuedAt: now, LastSeen: now, UserID: "alice", UserEpoch: 1}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := c.Check(ctx, h); err != nil || v == versioning.Rejected {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkClaim measures the shared sweep's claim script (default
// Buckets and SweepPeriod; most claims hand out nothing or a bucket, as
// with many instances), and reports Redis's own time per call.
func BenchmarkClaim(b *testing.B) {
	srv := redistest.Start(b)
	c := newClient(b, srv.Addr())
	s := &Store{opts: Options{Prefix: uniquePrefix(b)}}
	ctx := b.Context()
	keys := []string{s.sweepKey()}
	args := []any{DefaultBuckets, DefaultSweepPeriod.Milliseconds(), 146}
	require.NoError(b, claimScript.Run(ctx, c, keys, args...).Err())
	usec := func() float64 {
		info, err := c.Info(ctx, "commandstats").Result()
		require.NoError(b, err)
		for line := range strings.SplitSeq(info, "\r\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
				for f := range strings.SplitSeq(rest, ",") {
					if v, ok := strings.CutPrefix(f, "usec="); ok {
						n, _ := strconv.ParseFloat(v, 64)
						return n
					}
				}
			}
		}
		return 0
	}
	u0 := usec()
	b.ReportAllocs()
	for b.Loop() {
		if err := claimScript.Run(ctx, c, keys, args...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((usec()-u0)/float64(b.N), "redis-µs/op")
}
