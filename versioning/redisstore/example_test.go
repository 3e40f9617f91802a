package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// The store takes any go-redis UniversalClient: here a single node. With
// Addrs listing several nodes, or MasterName set, NewUniversalClient
// returns a Cluster or Sentinel (failover) client instead.
func ExampleNew() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:       []string{"127.0.0.1:6379"},
		DialTimeout: 200 * time.Millisecond, // fail fast when Redis is down
		ReadTimeout: 500 * time.Millisecond,
	})
	defer client.Close()

	store, err := redisstore.New(client, &redisstore.Options{MaxStale: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	checker, err := versioning.NewChecker(versioning.Policy{}, versioning.CheckerOptions{
		Store:        store,
		OnStoreError: versioning.ServeStale, // or FailClosed, the default
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = checker

	// Log every session of a user out, on every instance.
	if _, err := store.BumpEpoch(context.Background(), "user-42"); err != nil {
		log.Printf("forced logout failed: %v", err) // matches versioning.ErrStoreUnavailable
	}
}

// Invalidation messages are plain text; ParseMessage reads them back.
func ExampleParseMessage() {
	m, err := redisstore.ParseMessage("2 17 u alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Seq, m.Kind == redisstore.KindUser, m.UserID)
	_, err = redisstore.ParseMessage("2 18 g 18446744073709551615") // above 2^63-1: forged
	fmt.Println(errors.Is(err, redisstore.ErrBadMessage))
	// Output:
	// 17 true alice
	// true
}

// Behind Sentinel, MinReplicas makes a forced logout wait until a replica
// holds it, so a failover right after cannot undo it. A bump that no
// replica confirmed in time returns ErrNotReplicated: report it as not
// done (or retry; bumping twice logs out just the same).
func ExampleOptions_minReplicas() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		MasterName:    "sealedsession",
		Addrs:         []string{"127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381"}, // sentinels
		DialTimeout:   200 * time.Millisecond,
		DialerRetries: 1,
		ReadTimeout:   time.Second, // the WAIT has its own deadline
	})
	defer client.Close()

	store, err := redisstore.New(client, &redisstore.Options{MinReplicas: 1, WaitTimeout: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_, err = store.BumpEpoch(context.Background(), "user-42")
	switch {
	case errors.Is(err, redisstore.ErrNotReplicated):
		log.Printf("forced logout not confirmed by a replica, retry: %v", err)
	case err != nil:
		log.Printf("forced logout failed: %v", err)
	}
}
