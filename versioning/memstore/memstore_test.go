package memstore_test

import (
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) versioning.Store { return memstore.New() })
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestInjectedClockExpiry(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := memstore.New(memstore.WithClock(c.now))
	id, _ := codec.NewSessionID()
	if err := s.Revoke(t.Context(), id, c.t.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Hour - time.Nanosecond)
	if r, _ := s.IsRevoked(t.Context(), id); !r {
		t.Fatal("not revoked just before until")
	}
	c.t = c.t.Add(time.Nanosecond)
	if r, _ := s.IsRevoked(t.Context(), id); r {
		t.Fatal("still revoked at until")
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := memstore.New(memstore.WithClock(c.now))
	// 10 000 short revocations that all expire; the map must not grow past
	// the sweep bound.
	for i := range 10_000 {
		var id codec.SessionID
		id[0], id[1] = byte(i), byte(i>>8)
		if err := s.Revoke(t.Context(), id, c.t.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(time.Second) // each expires once the next is added
	}
	if n := s.Len(); n > 1024 {
		t.Fatalf("%d revocation entries held after 10000 expired ones; sweeping is not bounding memory", n)
	}
	if n := s.Sweep(); n != 0 {
		t.Fatalf("Sweep left %d entries, want 0", n)
	}
}

func BenchmarkEpoch(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	_, _ = s.BumpEpoch(ctx, "alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Epoch(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIsRevoked(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	for i := range 1000 {
		var id codec.SessionID
		id[0], id[1] = byte(i), byte(i>>8)
		_ = s.Revoke(ctx, id, time.Now().Add(time.Hour))
	}
	miss := codec.SessionID{0xff, 0xff, 0xff}
	b.ReportAllocs()
	for b.Loop() {
		if r, err := s.IsRevoked(ctx, miss); r || err != nil {
			b.Fatal(r, err)
		}
	}
}
