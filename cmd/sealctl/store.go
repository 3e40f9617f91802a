package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// defaultStore is the demo's default store when run from the repository root.
const defaultStore = "bolt:./data/sessions.db"

func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", defaultStore, "the application's store: bolt:PATH, redis://host:port/db, or memory (only useful for tests)")
}

// errStoreUsage marks a -store value that cannot name a store.
var errStoreUsage = errors.New("bad -store")

// openStore opens the store named by spec (the demo's -store syntax). A
// bolt file must exist already: sealctl never creates one by accident.
func openStore(spec string) (versioning.Store, func() error, error) {
	switch {
	case spec == "memory":
		s := memstore.New()
		return s, s.Close, nil
	case strings.HasPrefix(spec, "bolt:"):
		path := strings.TrimPrefix(spec, "bolt:")
		if path == "" {
			return nil, nil, fmt.Errorf("%w %q: bolt: needs a file path", errStoreUsage, spec)
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no store file at %s (check -store; the demo creates it on first start)", path)
		}
		s, err := boltstore.Open(path, &boltstore.Options{Timeout: 2 * time.Second})
		if err != nil {
			return nil, nil, fmt.Errorf("%w\nThe bolt file is locked while the application runs: stop it first, or use a redis:// store", err)
		}
		return s, s.Close, nil
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		opts, err := redis.ParseURL(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: bad Redis URL: %v", errStoreUsage, err)
		}
		client := redis.NewClient(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := client.Ping(ctx).Err(); err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("redis at %s does not answer: %w", opts.Addr, err)
		}
		s, err := redisstore.New(client, nil)
		if err != nil {
			_ = client.Close()
			return nil, nil, err
		}
		return s, func() error { _ = s.Close(); return client.Close() }, nil
	default:
		return nil, nil, fmt.Errorf("%w %q: want bolt:PATH, redis://host:port/db or memory", errStoreUsage, spec)
	}
}

// withStore opens -store, runs fn and closes the store, turning errors into
// exit codes.
func withStore(name, spec string, stderr interface{ Write([]byte) (int, error) }, fn func(context.Context, versioning.Store) error) int {
	s, closeStore, err := openStore(spec)
	if err != nil {
		fmt.Fprintf(stderr, "sealctl %s: %v\n", name, err)
		if errors.Is(err, errStoreUsage) {
			return exitUsage
		}
		return exitFailure
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = fn(ctx, s)
	if cerr := closeStore(); err == nil && cerr != nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sealctl %s: %v\n", name, err)
		return exitFailure
	}
	return exitOK
}
