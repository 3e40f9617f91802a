package redisstore

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxPending bounds the probes remembered while messages lag.
const maxPending = 64

// run is the subscriber: it owns the PubSub, resynchronises after every
// (re)subscription and applies invalidation messages until ctx ends. A
// second goroutine proves the cache current (prover).
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	proverDone := make(chan struct{})
	go func() {
		defer close(proverDone)
		s.prover(ctx)
	}()
	defer func() { <-proverDone }()

	interval := s.opts.HealthCheckInterval
	ps := s.subscribe(ctx)
	defer s.closePubSub()
	// Close interrupts a blocked receive by closing the PubSub.
	stop := context.AfterFunc(ctx, s.closePubSub)
	defer stop()

	backoff := newBackoff(interval)
	pingSent := false
	needResync := false
	for ctx.Err() == nil {
		if needResync {
			if err := s.resync(ctx); err != nil {
				s.unsubscribed()
				backoff.sleep(ctx)
				continue
			}
			needResync = false
			backoff.reset()
		}
		msg, err := ps.ReceiveTimeout(ctx, interval)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				if pingSent {
					// No PONG for a whole interval: the connection is
					// presumed dead. Start over with a new subscription.
					s.unsubscribed()
					s.closePubSub()
					ps = s.subscribe(ctx)
					pingSent = false
					continue
				}
				if perr := ps.Ping(ctx); perr != nil {
					s.unsubscribed()
					backoff.sleep(ctx)
					continue
				}
				pingSent = true
				continue
			}
			// Connection lost (go-redis reconnects and resubscribes on the
			// next receive) or Redis down: messages may be missed from now.
			s.unsubscribed()
			backoff.sleep(ctx)
			continue
		}
		pingSent = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.channel {
				// (Re)subscribed: anything published from now on arrives
				// as a message; resynchronise for what came before.
				s.unsubscribed()
				needResync = true
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

// readCounters reads the sequence and global counters, and checks the
// bucket count (see checkMeta), in one command (all three keys are in the
// {v} slot).
func (s *Store) readCounters(ctx context.Context) (seq, global uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.MaxLag)
	defer cancel()
	vals, err := s.client.MGet(ctx, s.seqKey, s.globalKey, s.metaKey()).Result()
	if err != nil {
		return 0, 0, err
	}
	if len(vals) != 3 {
		return 0, 0, errors.New("unexpected MGET reply")
	}
	if err := s.checkMeta(ctx, vals[2]); err != nil {
		return 0, 0, err
	}
	if seq, err = parseStored(vals[0]); err != nil {
		return 0, 0, err
	}
	if global, err = parseStored(vals[1]); err != nil {
		return 0, 0, err
	}
	return seq, global, nil
}

// resync makes the cache current after a (re)subscription: it reads the
// counters, empties the cache and trusts it from then on. One command,
// whatever Redis holds.
func (s *Store) resync(ctx context.Context) error {
	at := s.opts.Now()
	seq, g, err := s.readCounters(ctx)
	if err != nil {
		return err
	}
	s.raiseGlobal(g)
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.flushLocked()
	s.sub = true
	s.lastSeq = seq
	s.pending = s.pending[:0]
	s.resyncs.Add(1)
	s.provenLocked(at)
	return nil
}

// flushLocked empties the cache for trusted reads; what it held stays
// readable for stale reads as of the last proof before the flush
// (staleProvenAt). Call with syncMu held.
func (s *Store) flushLocked() {
	if s.cache != nil {
		s.cache.flush()
	}
	s.staleProvenAt = s.provenAt
	s.flushes.Add(1)
}

// provenLocked records that the cache was complete as of at.
func (s *Store) provenLocked(at time.Time) {
	if at.After(s.provenAt) {
		s.provenAt = at
	}
	if s.sub {
		s.trustedUntil.Store(s.provenAt.Add(s.opts.MaxLag).UnixNano())
	}
	if !s.everOK {
		s.everOK = true
		close(s.readyCh)
	}
}

// unsubscribed stops trusting the cache until the next resync.
func (s *Store) unsubscribed() {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.sub = false
	s.trustedUntil.Store(0)
}

// prover reads the sequence counter every HealthCheckInterval and proves
// the cache current (see the package documentation).
func (s *Store) prover(ctx context.Context) {
	t := time.NewTicker(s.opts.HealthCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.probe(ctx)
	}
}

// probe reads the counters once and updates the proof.
func (s *Store) probe(ctx context.Context) {
	at := s.opts.Now()
	seq, g, err := s.readCounters(ctx)
	if err != nil {
		return // trust lapses by itself after MaxLag
	}
	s.raiseGlobal(g)
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if !s.sub {
		return
	}
	switch {
	case seq < s.lastSeq:
		// The counter went back: Redis lost data or was emptied. Start
		// over from what it holds now.
		s.flushLocked()
		s.lastSeq = seq
		s.pending = s.pending[:0]
		s.resyncs.Add(1)
		s.provenLocked(at)
	case seq == s.lastSeq:
		s.pending = s.pending[:0]
		s.provenLocked(at)
	default:
		if len(s.pending) > 0 && at.Sub(s.pending[0].at) >= s.opts.MaxLag/2 {
			// Messages published before an earlier probe are still
			// missing: lost or lagging. Empty the cache instead of waiting.
			s.flushLocked()
			s.lagFlushes.Add(1)
			s.lastSeq = seq
			s.pending = s.pending[:0]
			s.provenLocked(at)
			return
		}
		if len(s.pending) == maxPending {
			s.pending = append(s.pending[:0], s.pending[1:]...)
		}
		s.pending = append(s.pending, probe{seq: seq, at: at})
	}
}

// apply updates the cache with one invalidation message. A message that
// does not parse means the cache may have missed something: it is flushed
// and proven again by the next probes.
func (s *Store) apply(payload string) {
	m, err := ParseMessage(payload)
	if err != nil {
		s.bad.Add(1)
		s.syncMu.Lock()
		s.flushLocked()
		s.syncMu.Unlock()
		return
	}
	s.syncMu.Lock()
	switch {
	case !s.sub || m.Seq <= s.lastSeq:
		// Published before the resync read the counter: the flush that
		// followed covers it. (A counter that went back is caught by the
		// next probe.)
		s.syncMu.Unlock()
		return
	case m.Seq != s.lastSeq+1:
		// A gap: some message was lost. Empty the cache.
		s.flushLocked()
	}
	s.lastSeq = m.Seq
	switch m.Kind {
	case KindUser:
		if s.cache != nil {
			s.cache.invalidate(m.UserID)
		}
	case KindGlobal:
		s.raiseGlobal(m.Value)
	}
	s.applied.Add(1)
	// Resolve the probes this message catches up with.
	n := 0
	for _, p := range s.pending {
		if p.seq <= s.lastSeq {
			if p.at.After(s.provenAt) {
				s.provenAt = p.at
			}
			continue
		}
		s.pending[n] = p
		n++
	}
	if n != len(s.pending) {
		s.pending = s.pending[:n]
		s.provenLocked(s.provenAt)
	}
	s.syncMu.Unlock()
	if s.testHookApplied != nil {
		s.testHookApplied(m)
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
