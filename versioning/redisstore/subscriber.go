package redisstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
)

// run is the subscriber: it owns the PubSub, keeps the trust state and
// applies invalidation messages until ctx ends.
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	interval := s.opts.HealthCheckInterval
	ps := s.subscribe(ctx)
	defer s.closePubSub()
	// Close interrupts a blocked receive by closing the PubSub.
	stop := context.AfterFunc(ctx, s.closePubSub)
	defer stop()

	backoff := newBackoff(interval)
	pingSent := false
	needReload := false
	// lastHeard is when the subscription last delivered anything: the
	// cache is known complete up to then.
	lastHeard := s.opts.Now()
	lastSweep := time.Now()
	for ctx.Err() == nil {
		if needReload {
			if err := s.reload(ctx); err != nil {
				s.markStale(s.opts.Now())
				backoff.sleep(ctx)
				continue
			}
			needReload = false
			backoff.reset()
		}
		msg, err := ps.ReceiveTimeout(ctx, interval)
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastSweep) >= interval {
			s.sweep()
			lastSweep = time.Now()
		}
		if err != nil {
			if isTimeout(err) {
				if pingSent {
					// No PONG for a whole interval: the connection is
					// presumed dead since we last heard from it. Start
					// over with a new subscription.
					s.markStale(lastHeard)
					s.closePubSub()
					ps = s.subscribe(ctx)
					pingSent = false
					continue
				}
				if perr := ps.Ping(ctx); perr != nil {
					s.markStale(lastHeard)
					backoff.sleep(ctx)
					continue
				}
				pingSent = true
				continue
			}
			// Connection lost (go-redis reconnects and resubscribes on the
			// next receive) or Redis down: the cache may miss messages
			// from now on (everything sent before the error was read).
			s.markStale(s.opts.Now())
			backoff.sleep(ctx)
			continue
		}
		pingSent = false
		lastHeard = s.opts.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.channel {
				// (Re)subscribed: anything published before now is in
				// Redis, anything after arrives as a message.
				s.markStale(lastHeard)
				needReload = true
			}
		case *redis.Message:
			if m.Channel == s.channel {
				s.apply(m.Payload)
			}
		case *redis.Pong:
		}
	}
}

// subscribe starts a new PubSub on the channel and records it for Close.
func (s *Store) subscribe(ctx context.Context) *redis.PubSub {
	ps := s.client.Subscribe(ctx, s.channel)
	s.psMu.Lock()
	s.ps = ps
	s.psMu.Unlock()
	return ps
}

// closePubSub closes the current PubSub, if any.
func (s *Store) closePubSub() {
	s.psMu.Lock()
	ps := s.ps
	s.ps = nil
	s.psMu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
}

// reload loads the global counter and the live revocations, drops the user
// cache and trusts the cache again.
func (s *Store) reload(ctx context.Context) error {
	now := s.opts.Now().UnixMilli()
	g, err := s.client.Get(ctx, s.globalKey).Uint64()
	if errors.Is(err, redis.Nil) {
		g, err = 0, nil
	}
	if err != nil {
		return err
	}
	zs, err := s.client.ZRangeByScoreWithScores(ctx, s.indexKey, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now, 10), Max: "+inf",
	}).Result()
	if err != nil {
		return err
	}
	revoked := make(map[codec.SessionID]int64, len(zs))
	for _, z := range zs {
		member, ok := z.Member.(string)
		var id codec.SessionID
		if !ok || len(member) != 2*len(id) {
			continue
		}
		if _, err := hexDecode(id[:], member); err != nil {
			continue
		}
		revoked[id] = int64(z.Score)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushUsersLocked()
	// Keep entries this instance learned after the snapshot (its own writes
	// and messages are only ever newer).
	s.global = max(s.global, g)
	for id, until := range revoked {
		s.revoked[id] = max(s.revoked[id], until)
	}
	s.trusted = true
	s.staleSince = time.Time{}
	s.reloads.Add(1)
	if !s.everLoaded {
		s.everLoaded = true
		close(s.readyCh)
	}
	return nil
}

// markStale records that the cache can no longer be trusted; it was known
// complete up to since.
func (s *Store) markStale(since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trusted {
		s.trusted = false
		s.staleSince = since
		s.gen++
	}
}

// apply updates the cache with one invalidation message. A message that
// does not parse means the cache may have missed something: the user cache
// is dropped (it refills from Redis on demand).
func (s *Store) apply(payload string) {
	m, err := ParseMessage(payload)
	s.mu.Lock()
	if err != nil {
		s.bad.Add(1)
		s.flushUsersLocked()
	} else {
		s.applied.Add(1)
		switch m.Kind {
		case KindUser:
			s.setUserLocked(m.UserID, m.Value)
		case KindGlobal:
			s.global = max(s.global, m.Value)
		case KindRevoke:
			until := int64(min(m.Value, 1<<62))
			s.revoked[m.Session] = max(s.revoked[m.Session], until)
		}
	}
	s.mu.Unlock()
	if err == nil && s.testHookApplied != nil {
		s.testHookApplied(m)
	}
}

// sweep drops expired revocations from the mirror.
func (s *Store) sweep() {
	now := s.opts.Now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, until := range s.revoked {
		if until <= now {
			delete(s.revoked, id)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// backoff spaces out reconnect attempts: 10ms doubling up to the health
// check interval.
type backoff struct {
	cur, limit time.Duration
}

func newBackoff(limit time.Duration) *backoff {
	return &backoff{cur: 10 * time.Millisecond, limit: limit}
}

func (b *backoff) reset() { b.cur = 10 * time.Millisecond }

func (b *backoff) sleep(ctx context.Context) {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	b.cur = min(2*b.cur, b.limit)
}
