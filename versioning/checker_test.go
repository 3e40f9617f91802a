package versioning_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	return ch
}

func TestPolicyDefaultsAndValidate(t *testing.T) {
	p := versioning.Policy{}.WithDefaults()
	require.Equal(t, 30*time.Minute, p.IdleTimeout, "defaults")
	require.Equal(t, 24*time.Hour, p.AbsoluteTimeout, "defaults")
	require.Equal(t, time.Minute, p.RenewThreshold, "defaults")
	require.Equal(t, 30*time.Second, p.ClockSkew, "defaults")
	require.NotNil(t, p.Now, "defaults")
	require.NoError(t, p.Validate(), "defaults invalid")
	require.ErrorIs(t, (versioning.Policy{}).Validate(), versioning.ErrInvalidPolicy, "zero Policy Validate")
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
		_, err := versioning.NewChecker(b, versioning.CheckerOptions{})
		assert.ErrorIs(t, err, versioning.ErrInvalidPolicy, "NewChecker(%+v)", b)
	}
	// 5 minutes of skew is the maximum; idle equal to absolute is allowed;
	// a short idle timeout gets a quarter of it as renew threshold.
	for _, ok := range []versioning.Policy{{IdleTimeout: 24 * time.Hour}, {ClockSkew: 5 * time.Minute}, {IdleTimeout: 2 * time.Second}} {
		_, err := versioning.NewChecker(ok, versioning.CheckerOptions{})
		assert.NoError(t, err, "NewChecker(%+v)", ok)
	}
	assert.Equal(t, 30*time.Second, (versioning.Policy{IdleTimeout: 2 * time.Minute}).WithDefaults().RenewThreshold,
		"RenewThreshold for a 2-minute idle timeout (idle/4)")
	_, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{OnStoreError: 7})
	assert.ErrorIs(t, err, versioning.ErrInvalidPolicy, "unknown OnStoreError accepted")
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
			require.Equal(t, tc.verdict, v, "Check verdict")
			require.ErrorIs(t, err, tc.err, "Check error")
		})
	}
}

func TestCheckVersionAndZeroTimes(t *testing.T) {
	c := testkit.NewClockAt(t0)
	ch := newChecker(t, c, versioning.CheckerOptions{})
	h := header("", 0)
	h.Version = 0
	v, err := ch.Check(t.Context(), h)
	require.Equal(t, versioning.Rejected, v, "version 0")
	require.ErrorIs(t, err, versioning.ErrUnsupportedVersion, "version 0")
	h = header("", 0)
	h.IssuedAt = time.Time{}
	v, err = ch.Check(t.Context(), h)
	assert.Equal(t, versioning.Rejected, v, "zero IssuedAt")
	assert.ErrorIs(t, err, versioning.ErrAbsoluteExpired, "zero IssuedAt")
}

func TestDeadlines(t *testing.T) {
	ch := newChecker(t, testkit.NewClockAt(t0), versioning.CheckerOptions{})
	h := header("", 0)
	got := ch.AbsoluteDeadline(h)
	assert.True(t, got.Equal(t0.Add(24*time.Hour)), "AbsoluteDeadline = %v", got)
	got = ch.IdleDeadline(h)
	assert.True(t, got.Equal(t0.Add(30*time.Minute)), "IdleDeadline = %v", got)
	h.LastSeen = t0.Add(24*time.Hour - time.Minute)
	got = ch.IdleDeadline(h)
	assert.True(t, got.Equal(t0.Add(24*time.Hour)), "IdleDeadline not capped at the absolute deadline: %v", got)
}

func TestCheckEpochsAndRevocation(t *testing.T) {
	c := testkit.NewClockAt(t0)
	s := memstore.New(&memstore.Options{Now: c.Now})
	ch := newChecker(t, c, versioning.CheckerOptions{Store: s})
	ctx := t.Context()

	// A missing epoch is 0: adopting epochs later logs nobody out.
	v, err := ch.Check(ctx, header("alice", 0))
	require.Equal(t, versioning.Fresh, v, "epoch 0, store missing")
	require.NoError(t, err, "epoch 0, store missing")
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	v, err = ch.Check(ctx, header("alice", 0))
	var ee *versioning.EpochError
	require.Equal(t, versioning.Rejected, v, "after bump")
	require.ErrorIs(t, err, versioning.ErrEpochBumped, "after bump")
	require.ErrorAs(t, err, &ee, "after bump")
	require.Equal(t, versioning.EpochError{UserID: "alice", Have: 0, Current: 1}, *ee, "after bump")
	v, err = ch.Check(ctx, header("alice", 1))
	require.Equal(t, versioning.Fresh, v, "current epoch")
	require.NoError(t, err, "current epoch")
	// A session epoch above the store's means the store lost increments:
	// it can no longer vouch for the session, so it is refused.
	v, err = ch.Check(ctx, header("alice", 7))
	require.Equal(t, versioning.Rejected, v, "epoch above store")
	require.ErrorIs(t, err, versioning.ErrEpochBumped, "epoch above store")
	v, err = ch.Check(ctx, header("bob", 0))
	require.Equal(t, versioning.Fresh, v, "other user affected")
	require.NoError(t, err, "other user affected")
	// A global bump logs out every authenticated session, not anonymous ones.
	require.NoError(t, s.BumpGlobalEpoch(ctx))
	_, err = ch.Check(ctx, header("bob", 0))
	require.ErrorIs(t, err, versioning.ErrEpochBumped, "global bump")
	v, err = ch.Check(ctx, header("", 0))
	require.Equal(t, versioning.Fresh, v, "anonymous after global bump")
	require.NoError(t, err, "anonymous after global bump")

	// Revocation applies to authenticated sessions, per user.
	h := header("alice", 2)
	require.NoError(t, s.Revoke(ctx, "alice", h.ID, ch.RevocationDeadline(h, c.Now())))
	v, err = ch.Check(ctx, h)
	var re *versioning.RevokedError
	require.Equal(t, versioning.Rejected, v, "revoked")
	require.ErrorIs(t, err, versioning.ErrRevoked, "revoked")
	require.ErrorAs(t, err, &re, "revoked")
	require.Equal(t, h.ID, re.ID, "revoked")
	// The same ID under another user is not revoked.
	other := *h
	other.UserID, other.UserEpoch = "bob", 1
	v, err = ch.Check(ctx, &other)
	require.Equal(t, versioning.Fresh, v, "revocation leaked to another user")
	require.NoError(t, err, "revocation leaked to another user")
	// Anonymous sessions are never revoked: the store records nothing.
	anon := header("", 0)
	require.NoError(t, s.Revoke(ctx, "", anon.ID, ch.RevocationDeadline(anon, c.Now())))
	v, err = ch.Check(ctx, anon)
	assert.Equal(t, versioning.Fresh, v, "anonymous revocation took effect")
	assert.NoError(t, err, "anonymous revocation took effect")
}

func TestAnonymousNeverConsultsStore(t *testing.T) {
	c := testkit.NewClockAt(t0)
	s := &mock.Store{LookupFunc: func(context.Context, string, codec.SessionID) (versioning.SessionState, error) {
		assert.Fail(t, "Lookup called for an anonymous session")
		return versioning.SessionState{}, errDown
	}}
	ch := newChecker(t, c, versioning.CheckerOptions{Store: s})
	v, err := ch.Check(t.Context(), header("", 0))
	assert.Equal(t, versioning.Fresh, v, "anonymous")
	assert.NoError(t, err, "anonymous")
}

func TestRevocationDeadline(t *testing.T) {
	c := testkit.NewClockAt(t0)
	ch := newChecker(t, c, versioning.CheckerOptions{})
	p := ch.Policy()
	h := header("alice", 0)
	// Early in the session: logout + idle + skew.
	now := t0.Add(time.Hour)
	got, want := ch.RevocationDeadline(h, now), now.Add(p.IdleTimeout+p.ClockSkew)
	assert.True(t, got.Equal(want), "RevocationDeadline = %v, want %v", got, want)
	// Near the absolute deadline: the absolute deadline.
	now = t0.Add(p.AbsoluteTimeout - time.Minute)
	got, want = ch.RevocationDeadline(h, now), ch.AbsoluteDeadline(h)
	assert.True(t, got.Equal(want), "RevocationDeadline near the end = %v, want %v", got, want)
	// No copy issued up to now passes Check after the deadline: the copy
	// with the latest possible last-seen (now + skew, from a clock ahead).
	now = t0.Add(time.Hour)
	d := ch.RevocationDeadline(h, now)
	cp := *h
	cp.LastSeen = now.Add(p.ClockSkew)
	c.Set(d)
	v, err := ch.Check(t.Context(), &cp)
	assert.Equal(t, versioning.Rejected, v, "a copy seen at logout+skew passes Check at the revocation deadline")
	assert.ErrorIs(t, err, versioning.ErrIdleExpired, "a copy seen at logout+skew passes Check at the revocation deadline")
	c.Set(d.Add(-time.Millisecond))
	v, _ = ch.Check(t.Context(), &cp)
	assert.NotEqual(t, versioning.Rejected, v, "the deadline is later than needed (the copy was already dead a millisecond before)")
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
		require.Equal(t, versioning.Rejected, v, "%v", policy)
		require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "%v", policy)
		require.ErrorIs(t, err, errDown, "%v", policy)
		require.ErrorAs(t, err, &se, "%v", policy)
		require.Equal(t, "lookup", se.Op, "%v", policy)
	}
}

func TestEpochOverflowFailsClosed(t *testing.T) {
	c := testkit.NewClockAt(t0)
	_, err := versioning.EffectiveEpoch(1, 1<<64-1)
	require.ErrorIs(t, err, versioning.ErrEpochOverflow, "EffectiveEpoch overflow")
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "EffectiveEpoch overflow")
	e, err := versioning.EffectiveEpoch(1<<63, 1<<63-1)
	require.NoError(t, err, "EffectiveEpoch at the limit")
	require.Equal(t, uint64(1<<64-1), e, "EffectiveEpoch at the limit")
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
	v, err := ch.Check(t.Context(), header("alice", 0))
	require.Equal(t, versioning.Rejected, v, "overflow")
	require.ErrorIs(t, err, versioning.ErrEpochOverflow, "overflow")
	assert.False(t, staleCalled, "an overflow was answered from the stale cache")
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
	v, err := ch.Check(t.Context(), header("alice", 3))
	require.Equal(t, versioning.Fresh, v, "stale epoch served")
	require.NoError(t, err, "stale epoch served")
	assert.Equal(t, 5*time.Second, gotAge, "maxAge passed")
	_, err = ch.Check(t.Context(), header("alice", 2))
	require.ErrorIs(t, err, versioning.ErrEpochBumped, "stale epoch not enforced")
	staleErr = versioning.ErrStoreUnavailable
	v, err = ch.Check(t.Context(), header("alice", 3))
	require.Equal(t, versioning.Rejected, v, "too-stale cache")
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "too-stale cache")
	// FailClosed never consults the cache.
	staleErr = nil
	ch = newChecker(t, c, versioning.CheckerOptions{Store: s})
	_, err = ch.Check(t.Context(), header("alice", 3))
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "fail closed used the cache")
}

func TestNoStore(t *testing.T) {
	ch := newChecker(t, testkit.NewClockAt(t0), versioning.CheckerOptions{})
	v, err := ch.Check(t.Context(), header("alice", 0))
	assert.Equal(t, versioning.Fresh, v)
	assert.NoError(t, err)
}

func TestStrings(t *testing.T) {
	for v, want := range map[versioning.Verdict]string{versioning.Fresh: "fresh", versioning.Renew: "renew", versioning.Rejected: "rejected", 9: "Verdict(9)"} {
		assert.Equal(t, want, v.String(), "%d.String()", v)
	}
	assert.Equal(t, "serve-stale", versioning.ServeStale.String(), "StoreFailurePolicy strings")
	assert.Equal(t, "fail-closed", versioning.FailClosed.String(), "StoreFailurePolicy strings")
}

func benchCheck(b *testing.B, user string) {
	s := memstore.New(nil)
	ctx := context.Background()
	if user != "" {
		_, err := s.BumpEpoch(ctx, user)
		require.NoError(b, err)
	}
	// A few revocations so the revocation map is not trivially empty.
	for range 100 {
		id, _ := codec.NewSessionID()
		_ = s.Revoke(ctx, "user-1234", id, time.Now().Add(time.Hour))
	}
	ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	require.NoError(b, err)
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
			s := memstore.New(nil)
			ctx := context.Background()
			_, _ = s.BumpEpoch(ctx, "user-1234")
			for range 100 {
				id, _ := codec.NewSessionID()
				_ = s.Revoke(ctx, "user-1234", id, time.Now().Add(time.Hour))
			}
			ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
			require.NoError(b, err)
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
	s := memstore.New(nil)
	ctx := context.Background()
	_, _ = s.BumpEpoch(ctx, "alice")
	_ = s.Revoke(ctx, "alice", codec.SessionID{1}, time.Now().Add(time.Hour))
	ch, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{Store: s})
	require.NoError(t, err)
	for _, user := range []string{"alice", ""} {
		h := header(user, 1)
		h.IssuedAt, h.LastSeen = time.Now(), time.Now().Add(-5*time.Minute)
		allocs := testing.AllocsPerRun(100, func() {
			if v, err := ch.Check(ctx, h); v != versioning.Renew || err != nil {
				t.Fatal(v, err)
			}
		})
		assert.Zero(t, allocs, "Check (user %q) allocates per call", user)
	}
	// Timeout rejections do not allocate either (cheap to refuse floods of
	// stale cookies).
	h := header("alice", 1)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = ch.Check(ctx, h) }), "an expired session allocates per Check")
}
