// Package storespec opens the epoch and revocation store named by a
// command-line -store value, the one syntax shared by cmd/demo and
// cmd/sealctl:
//
//	memory                      in-process only; lost on exit
//	bolt:PATH                   an embedded bbolt file
//	redis://host:port/db[?...]  a Redis server (rediss:// for TLS)
//
// A Redis URL takes go-redis's query options (dial_timeout, read_timeout,
// ...) and one of ours, min_replicas=N (redisstore.Options.MinReplicas:
// WAIT for N replicas after each write). Without dial_timeout the client
// fails fast (500 ms), since while Redis is away the store-down policy
// decides, not the dialer.
package storespec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// ErrUsage marks a -store value that does not name a store (a usage
// error, as opposed to a store that cannot be reached).
var ErrUsage = errors.New("bad -store")

// Options adjusts Open.
type Options struct {
	// BoltMustExist refuses a bolt file that does not exist yet instead of
	// creating it (operator tools must not create one by accident).
	BoltMustExist bool
	// BoltTimeout is how long to wait for the bolt file's lock (another
	// process holds it while it runs). Default 1 s.
	BoltTimeout time.Duration
	// Ready bounds the Redis ping and the store's first load. Default 3 s.
	Ready time.Duration
}

// Open opens the store named by spec. close releases it (and the Redis
// client); desc describes it for a log line, without secrets.
func Open(spec string, o Options) (s versioning.Store, close func() error, desc string, err error) {
	if o.Ready == 0 {
		o.Ready = 3 * time.Second
	}
	switch {
	case spec == "memory":
		m := memstore.New()
		return m, m.Close, "memory (lost on exit, not shared between processes)", nil
	case strings.HasPrefix(spec, "bolt:"):
		return openBolt(spec, o)
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		return openRedis(spec, o)
	}
	return nil, nil, "", fmt.Errorf("%w %q: want bolt:PATH, memory, or redis://host:port/db", ErrUsage, spec)
}

func openBolt(spec string, o Options) (versioning.Store, func() error, string, error) {
	path := strings.TrimPrefix(spec, "bolt:")
	if path == "" {
		return nil, nil, "", fmt.Errorf("%w %q: bolt: needs a file path, e.g. bolt:./data/sessions.db", ErrUsage, spec)
	}
	if o.BoltMustExist {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, "", fmt.Errorf("no store file at %s (check -store; the demo creates it on first start)", path)
		}
	}
	b, err := boltstore.Open(path, &boltstore.Options{Timeout: o.BoltTimeout})
	if err != nil {
		return nil, nil, "", fmt.Errorf("-store %q: %w (the file is locked while the application runs: stop it first, or use a redis:// store)", spec, err)
	}
	return b, b.Close, "bolt file " + path, nil
}

func openRedis(spec string, o Options) (versioning.Store, func() error, string, error) {
	spec, minReplicas, err := takeMinReplicas(spec)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", ErrUsage, err)
	}
	opts, err := redis.ParseURL(spec)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: bad Redis URL: %v", ErrUsage, err)
	}
	if !strings.Contains(spec, "dial_timeout=") {
		opts.DialTimeout = 500 * time.Millisecond
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), o.Ready)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, "", fmt.Errorf("redis at %s does not answer: %w", opts.Addr, err)
	}
	r, err := redisstore.New(client, &redisstore.Options{MinReplicas: minReplicas})
	if err != nil {
		_ = client.Close()
		return nil, nil, "", err
	}
	if err := r.WaitReady(ctx); err != nil {
		_ = r.Close()
		_ = client.Close()
		return nil, nil, "", fmt.Errorf("redis store not ready: %w", err)
	}
	closeBoth := func() error {
		_ = r.Close()
		return client.Close()
	}
	desc := fmt.Sprintf("redis %s db %d", opts.Addr, opts.DB)
	if minReplicas > 0 {
		desc += fmt.Sprintf(", writes wait for %d replica(s)", minReplicas)
	}
	return r, closeBoth, desc, nil
}

// takeMinReplicas removes the min_replicas query parameter from a Redis
// URL and returns it.
func takeMinReplicas(spec string) (string, int, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return "", 0, fmt.Errorf("bad Redis URL: %v", err)
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
