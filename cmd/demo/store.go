package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// openStore opens the epoch and revocation store named by spec:
//
//	bolt:PATH            an embedded bbolt file (the default, in the data folder)
//	memory               in-process only; lost on restart
//	redis://host:port/db a Redis server (rediss:// for TLS); ?min_replicas=N
//	                     waits for N replicas after each write (Sentinel)
//
// An empty spec means bolt:<dataDir>/sessions.db. The returned close
// function closes the store and, for Redis, the client.
func openStore(spec, dataDir string) (versioning.Store, func() error, string, error) {
	if spec == "" {
		spec = "bolt:" + filepath.Join(dataDir, "sessions.db")
	}
	switch {
	case spec == "memory":
		s := memstore.New()
		return s, s.Close, "memory (lost on restart, not shared between processes)", nil
	case strings.HasPrefix(spec, "bolt:"):
		path := strings.TrimPrefix(spec, "bolt:")
		if path == "" {
			return nil, nil, "", fmt.Errorf("-store %q: bolt: needs a file path, e.g. bolt:./data/sessions.db", spec)
		}
		s, err := boltstore.Open(path, nil)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-store %q: %w", spec, err)
		}
		return s, s.Close, "bolt file " + path, nil
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		// min_replicas=N is ours (redisstore.Options.MinReplicas: WAIT for
		// N replicas after each write); the other query options are
		// go-redis's (dial_timeout, read_timeout, ...).
		spec, minReplicas, err := takeMinReplicas(spec)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-store: %w", err)
		}
		opts, err := redis.ParseURL(spec)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-store: bad Redis URL: %w", err)
		}
		if !strings.Contains(spec, "dial_timeout=") {
			// Fail fast while Redis is away: the store-down policy decides.
			opts.DialTimeout = 500 * time.Millisecond
		}
		client := redis.NewClient(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := client.Ping(ctx).Err(); err != nil {
			_ = client.Close()
			return nil, nil, "", fmt.Errorf("-store: Redis at %s does not answer: %w", opts.Addr, err)
		}
		s, err := redisstore.New(client, &redisstore.Options{MinReplicas: minReplicas})
		if err != nil {
			_ = client.Close()
			return nil, nil, "", fmt.Errorf("-store: %w", err)
		}
		if err := s.WaitReady(ctx); err != nil {
			_ = s.Close()
			_ = client.Close()
			return nil, nil, "", fmt.Errorf("-store: Redis store not ready: %w", err)
		}
		closeBoth := func() error {
			_ = s.Close()
			return client.Close()
		}
		return s, closeBoth, fmt.Sprintf("redis %s db %d", opts.Addr, opts.DB), nil
	default:
		return nil, nil, "", fmt.Errorf("-store %q: want bolt:PATH, memory, or redis://host:port/db", spec)
	}
}

// takeMinReplicas removes the min_replicas query parameter from a Redis
// URL and returns it.
func takeMinReplicas(spec string) (string, int, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return "", 0, fmt.Errorf("bad Redis URL: %w", err)
	}
	q := u.Query()
	v := q.Get("min_replicas")
	if v == "" {
		return spec, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("min_replicas=%q: want a whole number >= 0", v)
	}
	q.Del("min_replicas")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}
