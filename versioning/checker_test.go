package versioning_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/mock"
)

var t0 = time.UnixMilli(1_750_000_000_000)

type clock = testkit.Clock

func header(user string, epoch uint64) *codec.Header {
	id, _ := codec.NewSessionID()
	return &codec.Header{Version: codec.Version, ID: id, IssuedAt: t0, LastSeen: t0, UserID: user, UserEpoch: epoch}
}

func newChecker(t *testing.T, c *clock, o versioning.CheckerOptions) *versioning.Checker {
	t.Helper()
	ch, err := versioning.NewChecker(versioning.Policy{Now: c.Now}, o)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestPolicyDefaultsAndValidate(t *testing.T) {
	p := versioning.Policy{}.WithDefaults()
	if p.IdleTimeout != 30*time.Minute || p.AbsoluteTimeout != 24*time.Hour || p.RenewThreshold != time.Minute || p.ClockSkew != 30*time.Second || p.Now == nil {
		t.Fatalf("defaults = %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if err := (versioning.Policy{}).Validate(); !errors.Is(err, versioning.ErrInvalidPolicy) {
		t.Fatalf("zero Policy Validate = %v, want ErrInvalidPolicy", err)
	}
	bad := []versioning.Policy{
		{IdleTimeout: -time.Second},
		{IdleTimeout: time.Microsecond},
		{AbsoluteTimeout: -time.Second},
		{RenewThreshold: -time.Second},
		{RenewThreshold: 30 * time.Minute},
		{ClockSkew: -time.Second},
		{ClockSkew: 5*time.Minute + 1},
		{IdleTimeout: 48 * time.Hour}, // longer than the absolute timeout: would never apply
	}
	for _, b := range bad {
		if _, err := versioning.NewChecker(b, versioning.CheckerOptions{}); !errors.Is(err, versioning.ErrInvalidPolicy) {
			t.Errorf("NewChecker(%+v) = %v, want ErrInvalidPolicy", b, err)
		}
	}
	// 5 minutes of skew is the maximum; idle equal to absolute is allowed;
	// a short idle timeout gets a quarter of it as renew threshold.
	for _, ok := range []versioning.Policy{{IdleTimeout: 24 * time.Hour}, {ClockSkew: 5 * time.Minute}, {IdleTimeout: 2 * time.Second}} {
		if _, err := versioning.NewChecker(ok, versioning.CheckerOptions{}); err != nil {
			t.Errorf("NewChecker(%+v) = %v", ok, err)
		}
	}
	if got := (versioning.Policy{IdleTimeout: 2 * time.Minute}).WithDefaults().RenewThreshold; got != 30*time.Second {
		t.Errorf("RenewThreshold for a 2-minute idle timeout = %v, want 30s (idle/4)", got)
	}
	if _, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{OnStoreError: 7}); !errors.Is(err, versioning.ErrInvalidPolicy) {
		t.Errorf("unknown OnStoreError accepted: %v", err)
	}
}

func TestCheckTimeouts(t *testing.T) {
	c := testkit.NewClockAt(time.Time{})
	ch := newChecker(t, c, versioning.CheckerOptions{})
	tests := []struct {
		name     string
		now      time.Time
		issued   time.Duration // relative to t0
		lastSeen time.Duration
		verdict  versioning.Verdict
		err      error
	}{
		{"just issued", t0, 0, 0, versioning.Fresh, nil},
		{"within threshold", t0.Add(time.Minute), 0, 0, versioning.Fresh, nil},
		{"past threshold", t0.Add(time.Minute + time.Millisecond), 0, 0, versioning.Renew, nil},
		{"idle edge minus", t0.Add(30*time.Minute - time.Millisecond), 0, 0, versioning.Renew, nil},
		{"idle edge", t0.Add(30 * time.Minute), 0, 0, versioning.Rejected, versioning.ErrIdleExpired},
		{"active but absolute edge", t0.Add(24 * time.Hour), 0, 24*time.Hour - time.Minute, versioning.Rejected, versioning.ErrAbsoluteExpired},
		{"absolute beats idle", t0.Add(48 * time.Hour), 0, 0, versioning.Rejected, versioning.ErrAbsoluteExpired},
		{"skew tolerated", t0, 30 * time.Second, 30 * time.Second, versioning.Fresh, nil},
		{"issued in future", t0, 30*time.Second + time.Millisecond, 0, versioning.Rejected, versioning.ErrIssuedInFuture},
		{"last seen in future", t0, 0, 31 * time.Second, versioning.Rejected, versioning.ErrIssuedInFuture},
		// Near the absolute deadline the capped idle deadline cannot move:
		// no pointless renewal.
		{"no renew at absolute cap", t0.Add(24*time.Hour - 10*time.Minute), 0, 24*time.Hour - 15*time.Minute, versioning.Fresh, nil},
		// The capped deadline would move by only 30s, less than the
		// threshold, but re-issuing reaches the absolute deadline: renew,
		// or a busy session idles out before it.
		{"renew to reach absolute cap", t0.Add(24*time.Hour - 20*time.Minute), 0, 24*time.Hour - 30*time.Minute - 30*time.Second, versioning.Renew, nil},
		{"renew towards absolute cap", t0.Add(24*time.Hour - 30*time.Minute), 0, 24*time.Hour - 40*time.Minute, versioning.Renew, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.Set(tc.now)
			h := header("", 0)
			h.IssuedAt, h.LastSeen = t0.Add(tc.issued), t0.Add(tc.lastSeen)
			v, err := ch.Check(t.Context(), h)
			if v != tc.verdict || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Check = %v, %v; want %v, %v", v, err, tc.verdict, tc.err)
			}
		})
	}
}

func TestCheckVersionAndZeroTimes(t *testing.T) {
	c := testkit.NewClockAt(t0)
	ch := newChecker(t, c, versioning.CheckerOptions{})
	h := header("", 0)
	h.Version = 0
	if v, err := ch.Check(t.Context(), h); v != versioning.Rejected || !errors.Is(err, versioning.ErrUnsupportedVersion) {
		t.Fatalf("version 0: %v, %v", v, err)
	}
	h = header("", 0)
	h.IssuedAt = time.Time{}
	if v, err := ch.Check(t.Context(), h); v != versioning.Rejected || !errors.Is(err, versioning.ErrAbsoluteExpired) {
		t.Fatalf("zero IssuedAt: %v, %v", v, err)
	}
}

func TestDeadlines(t *testing.T) {
	ch := newChecker(t, testkit.NewClockAt(t0), versioning.CheckerOptions{})
	h := header("", 0)
	if got := ch.AbsoluteDeadline(h); !got.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("AbsoluteDeadline = %v", got)
	}
	if got := ch.IdleDeadline(h); !got.Equal(t0.Add(30 * time.Minute)) {
		t.Errorf("IdleDeadline = %v", got)
	}
	h.LastSeen = t0.Add(24*time.Hour - time.Minute)
	if got := ch.IdleDeadline(h); !got.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("IdleDeadline not capped at the absolute deadline: %v", got)
	}
}

func TestCheckEpochsAndRevocation(t *testing.T) {
	c := testkit.NewClockAt(t0)
	s := memstore.New(memstore.WithClock(c.Now))
	ch := newChecker(t, c, versioning.CheckerOptions{Store: s})
	ctx := t.Context()

	// A missing epoch is 0: adopting epochs later logs nobody out.
	if v, err := ch.Check(ctx, header("alice", 0)); v != versioning.Fresh || err != nil {
		t.Fatalf("epoch 0, store missing: %v, %v", v, err)
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	v, err := ch.Check(ctx, header("alice", 0))
	var ee *versioning.EpochError
	if v != versioning.Rejected || !errors.Is(err, versioning.ErrEpochBumped) || !errors.As(err, &ee) || ee.Have != 0 || ee.Current != 1 || ee.UserID != "alice" {
		t.Fatalf("after bump: %v, %v", v, err)
	}
	if v, err := ch.Check(ctx, header("alice", 1)); v != versioning.Fresh || err != nil {
		t.Fatalf("current epoch: %v, %v", v, err)
	}
	// A session epoch above the store's means the store lost increments:
	// it can no longer vouch for the session, so it is refused.
	if v, err := ch.Check(ctx, header("alice", 7)); v != versioning.Rejected || !errors.Is(err, versioning.ErrEpochBumped) {
		t.Fatalf("epoch above store: %v, %v", v, err)
	}
	if v, err := ch.Check(ctx, header("bob", 0)); v != versioning.Fresh || err != nil {
		t.Fatalf("other user affected: %v, %v", v, err)
	}
	// A global bump logs out every authenticated session, not anonymous ones.
	if err := s.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Check(ctx, header("bob", 0)); !errors.Is(err, versioning.ErrEpochBumped) {
		t.Fatalf("global bump: %v", err)
	}
	if v, err := ch.Check(ctx, header("", 0)); v != versioning.Fresh || err != nil {
		t.Fatalf("anonymous after global bump: %v, %v", v, err)
	}

	// Revocation applies to authenticated sessions, per user.
	h := header("alice", 2)
	if err := s.Revoke(ctx, "alice", h.ID, ch.RevocationDeadline(h, c.Now())); err != nil {
		t.Fatal(err)
	}
	v, err = ch.Check(ctx, h)
	var re *versioning.RevokedError
	if v != versioning.Rejected || !errors.Is(err, versioning.ErrRevoked) || !errors.As(err, &re) || re.ID != h.ID {
		t.Fatalf("revoked: %v, %v", v, err)
	}
	// The same ID under another user is not revoked.
	other := *h
	other.UserID, other.UserEpoch = "bob", 1
	if v, err := ch.Check(ctx, &other); v != versioning.Fresh || err != nil {
		t.Fatalf("revocation leaked to another user: %v, %v", v, err)
	}
	// Anonymous sessions are never revoked: the store records nothing.
	anon := header("", 0)
	if err := s.Revoke(ctx, "", anon.ID, ch.RevocationDeadline(anon, c.Now())); err != nil {
		t.Fatal(err)
	}
	if v, err := ch.Check(ctx, anon); v != versioning.Fresh || err != nil {
		t.Fatalf("anonymous revocation took effect: %v, %v", v, err)
	}
}

func TestAnonymousNeverConsultsStore(t *testing.T) {
	c := testkit.NewClockAt(t0)
	s := &mock.Store{LookupFunc: func(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
		t.Error("Lookup called for an anonymous session")
		return versioning.SessionState{}, errDown
	}}
	ch := newChecker(t, c, versioning.CheckerOptions{Store: s})
	if v, err := ch.Check(t.Context(), header("", 0)); v != versioning.Fresh || err != nil {
		t.Fatalf("anonymous: %v, %v", v, err)
	}
}

func TestRevocationDeadline(t *testing.T) {
	c := testkit.NewClockAt(t0)
	ch := newChecker(t, c, versioning.CheckerOptions{})
	p := ch.Policy()
	h := header("alice", 0)
	// Early in the session: logout + idle + skew.
	now := t0.Add(time.Hour)
	if got, want := ch.RevocationDeadline(h, now), now.Add(p.IdleTimeout+p.ClockSkew); !got.Equal(want) {
		t.Errorf("RevocationDeadline = %v, want %v", got, want)
	}
	// Near the absolute deadline: the absolute deadline.
	now = t0.Add(p.AbsoluteTimeout - time.Minute)
	if got, want := ch.RevocationDeadline(h, now), ch.AbsoluteDeadline(h); !got.Equal(want) {
		t.Errorf("RevocationDeadline near the end = %v, want %v", got, want)
	}
	// No copy issued up to now passes Check after the deadline: the copy
	// with the latest possible last-seen (now + skew, from a clock ahead).
	now = t0.Add(time.Hour)
	d := ch.RevocationDeadline(h, now)
	cp := *h
	cp.LastSeen = now.Add(p.ClockSkew)
	c.Set(d)
	if v, err := ch.Check(t.Context(), &cp); v != versioning.Rejected || !errors.Is(err, versioning.ErrIdleExpired) {
		t.Errorf("a copy seen at logout+skew passes Check at the revocation deadline: %v, %v", v, err)
	}
	c.Set(d.Add(-time.Millisecond))
	if v, _ := ch.Check(t.Context(), &cp); v == versioning.Rejected {
		t.Error("the deadline is later than needed (the copy was already dead a millisecond before)")
	}
}

var errDown = errors.New("connection refused")

func TestStoreFailClosed(t *testing.T) {
	c := testkit.NewClockAt(t0)
	s := &mock.Store{LookupFunc: func(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
		return versioning.SessionState{}, errDown
	}}
	for _, policy := range []versioning.StoreFailurePolicy{versioning.FailClosed, versioning.ServeStale} {
		// ServeStale with a store that has no cache fails closed too.
		ch := newChecker(t, c, versioning.CheckerOptions{Store: s, OnStoreError: policy})
		v, err := ch.Check(t.Context(), header("alice", 0))
		var se *versioning.StoreError
		if v != versioning.Rejected || !errors.Is(err, versioning.ErrStoreUnavailable) || !errors.Is(err, errDown) || !errors.As(err, &se) || se.Op != "lookup" {
			t.Fatalf("%v: %v, %v", policy, v, err)
		}
	}
}

func TestEpochOverflowFailsClosed(t *testing.T) {
	c := testkit.NewClockAt(t0)
	if _, err := versioning.EffectiveEpoch(1, 1<<64-1); !errors.Is(err, versioning.ErrEpochOverflow) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("EffectiveEpoch overflow: %v", err)
	}
	if e, err := versioning.EffectiveEpoch(1<<63, 1<<63-1); err != nil || e != 1<<64-1 {
		t.Fatalf("EffectiveEpoch at the limit: %d, %v", e, err)
	}
	staleCalled := false
	s := &mock.StaleStore{
		Store: mock.Store{LookupFunc: func(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
			_, err := versioning.EffectiveEpoch(1, 1<<64-1)
			return versioning.SessionState{}, err
		}},
		LookupStaleFunc: func(context.Context, string, codec.SessionID, time.Duration) (versioning.SessionState, error) {
			staleCalled = true
			return versioning.SessionState{}, nil
		},
	}
	ch := newChecker(t, c, versioning.CheckerOptions{Store: s, OnStoreError: versioning.ServeStale})
	if v, err := ch.Check(t.Context(), header("alice", 0)); v != versioning.Rejected || !errors.Is(err, versioning.ErrEpochOverflow) {
		t.Fatalf("overflow: %v, %v", v, err)
	}
	if staleCalled {
		t.Error("an overflow was answered from the stale cache")
	}
}

func TestStoreServeStale(t *testing.T) {
	c := testkit.NewClockAt(t0)
	var gotAge time.Duration
	staleEpoch := uint64(3)
	var staleErr error
	s := &mock.StaleStore{
		Store: mock.Store{
			LookupFunc: func(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
				return versioning.SessionState{}, errDown
			},
		},
		LookupStaleFunc: func(_ context.Context, _ string, _ codec.SessionID, maxAge time.Duration) (versioning.SessionState, error) {
			gotAge = maxAge
			return versioning.SessionState{Epoch: staleEpoch}, staleErr
		},
	}
	ch := newChecker(t, c, versioning.CheckerOptions{Store: s, OnStoreError: versioning.ServeStale, MaxStale: 5 * time.Second})
	if v, err := ch.Check(t.Context(), header("alice", 3)); v != versioning.Fresh || err != nil {
		t.Fatalf("stale epoch served: %v, %v", v, err)
	}
	if gotAge != 5*time.Second {
		t.Errorf("maxAge passed = %v", gotAge)
	}
	if _, err := ch.Check(t.Context(), header("alice", 2)); !errors.Is(err, versioning.ErrEpochBumped) {
		t.Fatalf("stale epoch not enforced: %v", err)
	}
	staleErr = versioning.ErrStoreUnavailable
	if v, err := ch.Check(t.Context(), header("alice", 3)); v != versioning.Rejected || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("too-stale cache: %v, %v", v, err)
	}
	// FailClosed never consults the cache.
	staleErr = nil
	ch = newChecker(t, c, versioning.CheckerOptions{Store: s})
	if _, err := ch.Check(t.Context(), header("alice", 3)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("fail closed used the cache: %v", err)
	}
}

func TestNoStore(t *testing.T) {
	ch := newChecker(t, testkit.NewClockAt(t0), versioning.CheckerOptions{})
	if v, err := ch.Check(t.Context(), header("alice", 0)); v != versioning.Fresh || err != nil {
		t.Fatalf("%v, %v", v, err)
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[versioning.Verdict]string{versioning.Fresh: "fresh", versioning.Renew: "renew", versioning.Rejected: "rejected", 9: "Verdict(9)"} {
		if v.String() != want {
			t.Errorf("%d.String() = %q", v, v.String())
		}
	}
	if versioning.ServeStale.String() != "serve-stale" || versioning.FailClosed.String() != "fail-closed" {
		t.Error("StoreFailurePolicy strings")
	}
}

func benchCheck(b *testing.B, user string) {
	s := memstore.New()
	ctx := context.Background()
	if user != "" {
		if _, err := s.BumpEpoch(ctx, user); err != nil {
			b.Fatal(err)
		}
	}
	// A few revocations so the revocation map is not trivially empty.
	for range 100 {
		id, _ := codec.NewSessionID()
		_ = s.Revoke(ctx, "user-1234", id, time.Now().Add(time.Hour))
	}
	ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	if err != nil {
		b.Fatal(err)
	}
	h := header(user, 1)
	h.IssuedAt, h.LastSeen = time.Now(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := ch.Check(ctx, h); v != versioning.Fresh || err != nil {
			b.Fatal(v, err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	b.Run("authenticated", func(b *testing.B) { benchCheck(b, "user-1234") })
	b.Run("anonymous", func(b *testing.B) { benchCheck(b, "") })
}

// BenchmarkCheckAt is Check without reading the clock, as the HTTP layer
// calls it (it reads the clock once per request for its own use).
func BenchmarkCheckAt(b *testing.B) {
	for _, user := range []string{"user-1234", ""} {
		name := "authenticated"
		if user == "" {
			name = "anonymous"
		}
		b.Run(name, func(b *testing.B) {
			s := memstore.New()
			ctx := context.Background()
			_, _ = s.BumpEpoch(ctx, "user-1234")
			for range 100 {
				id, _ := codec.NewSessionID()
				_ = s.Revoke(ctx, "user-1234", id, time.Now().Add(time.Hour))
			}
			ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			h := header(user, 1)
			h.IssuedAt, h.LastSeen = now, now
			b.ReportAllocs()
			for b.Loop() {
				if v, err := ch.CheckAt(ctx, h, now); v != versioning.Fresh || err != nil {
					b.Fatal(v, err)
				}
			}
		})
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	_, _ = s.BumpEpoch(ctx, "alice")
	_ = s.Revoke(ctx, "alice", codec.SessionID{1}, time.Now().Add(time.Hour))
	ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", ""} {
		h := header(user, 1)
		h.IssuedAt, h.LastSeen = time.Now(), time.Now().Add(-5*time.Minute)
		allocs := testing.AllocsPerRun(100, func() {
			if v, err := ch.Check(ctx, h); v != versioning.Renew || err != nil {
				t.Fatal(v, err)
			}
		})
		if allocs != 0 {
			t.Errorf("Check (user %q) allocates %v times per call, want 0", user, allocs)
		}
	}
	// Timeout rejections do not allocate either (cheap to refuse floods of
	// stale cookies).
	h := header("alice", 1)
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ch.Check(ctx, h) }); allocs != 0 {
		t.Errorf("an expired session allocates %v times per Check", allocs)
	}
}
