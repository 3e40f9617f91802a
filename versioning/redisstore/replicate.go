package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// checkWaitClient reports whether client can carry a write followed by
// WAIT on one connection, and whether its read timeout leaves room for
// the WAIT.
func checkWaitClient(client redis.UniversalClient, wait time.Duration) error {
	var readTimeout time.Duration
	switch c := client.(type) {
	case *redis.Client:
		readTimeout = c.Options().ReadTimeout
	case *redis.ClusterClient:
		readTimeout = c.Options().ReadTimeout
	default:
		return fmt.Errorf("%w: MinReplicas needs a *redis.Client or *redis.ClusterClient, not %T", ErrInvalidOptions, client)
	}
	if readTimeout > 0 && wait >= readTimeout {
		return fmt.Errorf("%w: WaitTimeout %v is not below the client's ReadTimeout %v", ErrInvalidOptions, wait, readTimeout)
	}
	return nil
}

// write runs a write script. With MinReplicas it is followed by WAIT on
// the same connection (see writeReplicated).
//
// reply is the script's reply when the script ran; err is then nil or the
// replication failure (matching ErrNotReplicated). reply is nil when the
// script did not run or its outcome is unknown; err says why.
func (s *Store) write(ctx context.Context, sc *redis.Script, keys []string, args ...any) (*redis.Cmd, error) {
	if s.opts.MinReplicas == 0 {
		cmd := sc.Run(ctx, s.client, keys, args...)
		if err := cmd.Err(); err != nil {
			return nil, err
		}
		return cmd, nil
	}
	return s.writeReplicated(ctx, sc, keys, args)
}

// writeReplicated sends the script and WAIT in one pipeline. A go-redis
// pipeline on a *redis.Client uses one connection, and WAIT counts the
// replicas that acknowledged every write made on its connection so far.
// On a Cluster the pipeline goes to the master of the store's slot: every
// key of the store is in that one slot (the {v} hash tag).
func (s *Store) writeReplicated(ctx context.Context, sc *redis.Script, keys []string, args []any) (reply *redis.Cmd, err error) {
	var node *redis.Client
	switch c := s.client.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		if node, err = c.MasterForKey(ctx, s.globalKey); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				// After a failover or resharding the node may no longer
				// own the slot (MOVED) or be gone: let the cluster client
				// refresh its slot map. This write is reported as failed;
				// a retry goes to the right node.
				c.ReloadState(ctx)
			}
		}()
	default:
		return nil, fmt.Errorf("MinReplicas with %T", s.client) // refused by New
	}
	ms := s.opts.WaitTimeout.Milliseconds()
	run := func(load bool) (*redis.Cmd, *redis.IntCmd) {
		pipe := node.Pipeline()
		var cmd *redis.Cmd
		if load {
			cmd = sc.Eval(ctx, pipe, keys, args...)
		} else {
			cmd = sc.EvalSha(ctx, pipe, keys, args...)
		}
		wait := redis.NewIntCmd(ctx, "wait", s.opts.MinReplicas, ms)
		_ = pipe.Process(ctx, wait)
		// Exec's error is the first failed command's: both are
		// inspected below.
		_, _ = pipe.Exec(ctx)
		return cmd, wait
	}
	cmd, wait := run(false)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		// A new master (after a failover) starts with an empty script
		// cache; EVAL loads it.
		cmd, wait = run(true)
	}
	if err = cmd.Err(); err != nil {
		return nil, err
	}
	n, werr := wait.Result()
	if werr != nil {
		return cmd, fmt.Errorf("%w: WAIT failed: %w", ErrNotReplicated, werr)
	}
	if n < int64(s.opts.MinReplicas) {
		return cmd, fmt.Errorf("%w: %d of %d replicas confirmed within %v", ErrNotReplicated, n, s.opts.MinReplicas, s.opts.WaitTimeout)
	}
	return cmd, nil
}
