package redisstore

import (
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

// benchStore returns a warm store: one cached user, one live revocation.
func benchStore(b *testing.B) *Store {
	srv := redistest.Start(b)
	s := openStore(b, newClient(b, srv.Addr()), &Options{Prefix: uniquePrefix(b)}, nil)
	if _, err := s.BumpEpoch(b.Context(), "alice"); err != nil {
		b.Fatal(err)
	}
	if err := s.Revoke(b.Context(), "alice", codec.SessionID{1}, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Epoch(b.Context(), "alice"); err != nil {
		b.Fatal(err)
	}
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
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheck measures the full freshness check (versioning.Checker)
// of an authenticated session against the Redis store in steady state.
func BenchmarkCheck(b *testing.B) {
	s := benchStore(b)
	c, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	if err != nil {
		b.Fatal(err)
	}
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
