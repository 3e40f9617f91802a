package versioning_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

func ExampleChecker_Check() {
	store := memstore.New(nil)
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	checker, err := versioning.NewChecker(versioning.Policy{
		IdleTimeout: 30 * time.Minute,
		Now:         func() time.Time { return now },
	}, versioning.CheckerOptions{Store: store})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	h := &codec.Header{
		Version:  codec.Version,
		IssuedAt: now.Add(-2 * time.Hour),
		LastSeen: now.Add(-10 * time.Minute),
		UserID:   "alice",
	}
	v, err := checker.Check(ctx, h)
	fmt.Println(v, err)

	// Log alice out everywhere: her earlier cookies are no longer current.
	if _, err := store.BumpEpoch(ctx, "alice"); err != nil {
		panic(err)
	}
	v, err = checker.Check(ctx, h)
	fmt.Println(v, errors.Is(err, versioning.ErrEpochBumped))

	h.UserEpoch = 1 // a session issued after the bump
	h.LastSeen = now.Add(-31 * time.Minute)
	v, err = checker.Check(ctx, h)
	fmt.Println(v, errors.Is(err, versioning.ErrIdleExpired))
	// Output:
	// renew <nil>
	// rejected true
	// rejected true
}

func ExampleMigrations() {
	var m versioning.Migrations
	// Suppose version 0 payloads differed only in their version byte.
	err := m.Register(0, func(old []byte) ([]byte, error) {
		b := append([]byte(nil), old...)
		b[0] = 1
		return b, nil
	})
	if err != nil {
		panic(err)
	}
	b, err := m.Upgrade([]byte{0, 42})
	fmt.Println(b, err)
	_, err = m.Upgrade([]byte{9})
	fmt.Println(errors.Is(err, versioning.ErrUnsupportedVersion))
	// Output:
	// [1 42] <nil>
	// true
}
