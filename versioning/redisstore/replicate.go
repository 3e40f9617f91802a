package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// checkWaitClient reports whether client can carry a write followed by
// WAIT on one connection. The WAIT's read deadline is its own (above
// WaitTimeout), so the client's ReadTimeout does not constrain it.
func checkWaitClient(client redis.UniversalClient) error {
	switch client.(type) {
	case *redis.Client, *redis.ClusterClient:
		return nil
	}
	return fmt.Errorf("%w: MinReplicas needs a *redis.Client or *redis.ClusterClient, not %T", ErrInvalidOptions, client)
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

// writeReplicated sends the script, then WAIT, on one connection taken
// from the node's pool. On a Cluster the connection goes to the master of
// the slot of keys[0]: every script touches the keys of one slot only.
func (s *Store) writeReplicated(ctx context.Context, sc *redis.Script, keys []string, args []any) (reply *redis.Cmd, err error) {
	var node *redis.Client
	switch c := s.client.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		if node, err = c.MasterForKey(ctx, keys[0]); err != nil {
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
	// One connection carries the script and the WAIT (WAIT counts the
	// replicas that acknowledged every write made on its connection). The
	// WAIT is sent with go-redis's Wait, which gives the read its own
	// deadline above WaitTimeout: the client's ReadTimeout never cuts it,
	// so an unconfirmed write always ends as ErrNotReplicated, never as an
	// i/o timeout. A pipeline would read both replies under ReadTimeout.
	conn := node.Conn()
	defer conn.Close()
	// Run sends EVALSHA and falls back to EVAL on NOSCRIPT (a new master
	// after a failover starts with an empty script cache).
	cmd := sc.Run(ctx, conn, keys, args...)
	if err = cmd.Err(); err != nil {
		return nil, err
	}
	wait := conn.Wait(ctx, s.opts.MinReplicas, s.opts.WaitTimeout)
	n, werr := wait.Result()
	if werr != nil {
		return cmd, fmt.Errorf("%w: WAIT failed: %w", ErrNotReplicated, werr)
	}
	if n < int64(s.opts.MinReplicas) {
		return cmd, fmt.Errorf("%w: %d of %d replicas confirmed within %v", ErrNotReplicated, n, s.opts.MinReplicas, s.opts.WaitTimeout)
	}
	return cmd, nil
}
