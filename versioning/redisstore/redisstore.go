// Package redisstore is a [versioning.Store] kept in Redis, for applications
// that run on several machines. It works with any go-redis
// [redis.UniversalClient]: a single node, Sentinel (failover client) or
// Cluster.
//
// # Caching
//
// Each Store keeps a local cache: the global epoch, the epochs of the users
// it has been asked about, and a full mirror of the live revocations. In
// steady state Epoch and IsRevoked answer from that cache without any Redis
// round trip. Every write (BumpEpoch, BumpGlobalEpoch, Revoke) runs one Lua
// script that changes the keys and publishes an invalidation message on a
// channel in the same atomic step; every Store subscribes to that channel
// and applies the messages to its cache, so a bump made through one instance
// reaches the others within milliseconds.
//
// # Redis failure
//
// The cache is trusted only while the subscription is up and was followed by
// a full reload. When the subscription breaks (connection lost, or no answer
// to a health-check PING within Options.HealthCheckInterval) the cache is
// marked stale and reads go to Redis directly; if Redis cannot answer they
// return an error matching [versioning.ErrStoreUnavailable] (fail closed).
// When the subscription is back, the store reloads (global epoch and live
// revocations; user epochs are dropped and refetched on demand) and trusts
// its cache again, by itself. Writes always go to Redis and fail with an
// error matching ErrStoreUnavailable while it is down. Store also implements
// [versioning.StaleReader]: a Checker configured with
// [versioning.ServeStale] may get answers from the stale cache for at most
// Options.MaxStale after the moment the cache stopped being trusted.
//
// Epochs live only in Redis: run it with persistence (AOF). A Redis that
// loses data (restart without persistence, failover to a replica that missed
// the write) lowers epochs again, and sessions logged out by the lost bumps
// become valid again.
//
// # Keys and messages
//
// With the default prefix "sealedsession:" the keys are
//
//	sealedsession:{v}:g            global epoch counter (string integer)
//	sealedsession:{v}:e:<userID>   a user's own epoch counter
//	sealedsession:{v}:r:<hex ID>   a revoked session ID, expiring (PXAT) when the revocation ends
//	sealedsession:{v}:ri           sorted set of revoked IDs scored by their end (unix ms), to reload the mirror
//
// and the invalidation channel is "sealedsession:{v}:inval" (classic pub/sub).
// The hash tag {v} puts every key in one Cluster slot, so the scripts may
// touch several keys, and it puts the channel name in that slot too, so a
// go-redis ClusterClient subscribes on the very node that runs the scripts:
// the subscription and the data share one failure domain.
//
// # Replication
//
// Options.MinReplicas makes every write wait (Redis WAIT) for that many
// replicas before it is acknowledged; a write they did not confirm returns
// an error matching [ErrNotReplicated]. An acknowledged bump then survives
// a failover to any replica that confirmed it (see the spec,
// SPEC.md, for the exact guarantee and what WAIT does not cover).
// Messages are ASCII: "1 u <epoch> <userID>", "1 g <epoch>" and
// "1 r <until unix ms> <32 lower-case hex digits>" (see [Message]).
package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefix              = "sealedsession:" // Options.Prefix
	DefaultMaxStale            = 30 * time.Second // Options.MaxStale
	DefaultHealthCheckInterval = time.Second      // Options.HealthCheckInterval
	DefaultMaxCachedUsers      = 100_000          // Options.MaxCachedUsers
	DefaultWaitTimeout         = time.Second      // Options.WaitTimeout, when MinReplicas > 0
)

// Options configures a Store. The zero value (or nil) means every default.
type Options struct {
	// Prefix starts every key and the channel name. Default "sealedsession:".
	// Instances that must see each other's bumps use the same prefix. It
	// must not contain '{' or '}': the store adds the hash tag itself.
	Prefix string
	// MaxStale is the bound on staleness for EpochStale and IsRevokedStale
	// when they are called with maxAge <= 0. Default 30s.
	MaxStale time.Duration
	// HealthCheckInterval: when the subscription has been silent this long
	// the store sends a PING on it; without an answer within another
	// interval the cache is marked stale and the subscription reconnected.
	// Default 1s.
	HealthCheckInterval time.Duration
	// MaxCachedUsers bounds the per-user epoch cache; when it is full it is
	// emptied and refilled on demand. Default 100000.
	MaxCachedUsers int
	// Now is the clock used for revocation expiry and staleness. Default
	// time.Now.
	Now func() time.Time
	// MinReplicas, when above 0, makes every write (BumpEpoch,
	// BumpGlobalEpoch, Revoke) wait until at least this many replicas of
	// the master have received it (Redis WAIT, sent right after the script
	// on the same connection) before it is acknowledged. When fewer
	// replicas confirm within WaitTimeout the write returns an error
	// matching ErrNotReplicated and versioning.ErrStoreUnavailable: the
	// change took effect on the master but may be lost if the master fails
	// now, so the caller must not report it as done. Default 0 (no WAIT).
	// It needs a *redis.Client (single node or Sentinel failover client)
	// or a *redis.ClusterClient.
	MinReplicas int
	// WaitTimeout bounds the WAIT of MinReplicas. The WAIT is read with a
	// deadline of its own above WaitTimeout, so the client's ReadTimeout
	// does not cut it. Default 1s.
	WaitTimeout time.Duration
}

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Prefix == "" {
		r.Prefix = DefaultPrefix
	}
	if r.MaxStale == 0 {
		r.MaxStale = DefaultMaxStale
	}
	if r.HealthCheckInterval == 0 {
		r.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if r.MaxCachedUsers == 0 {
		r.MaxCachedUsers = DefaultMaxCachedUsers
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.MinReplicas > 0 && r.WaitTimeout == 0 {
		r.WaitTimeout = DefaultWaitTimeout
	}
	switch {
	case strings.ContainsAny(r.Prefix, "{}"):
		return r, fmt.Errorf("%w: Prefix %q contains a brace (the store adds its own hash tag)", ErrInvalidOptions, r.Prefix)
	case r.MaxStale < 0:
		return r, fmt.Errorf("%w: MaxStale %v is negative", ErrInvalidOptions, r.MaxStale)
	case r.HealthCheckInterval < 10*time.Millisecond:
		return r, fmt.Errorf("%w: HealthCheckInterval %v is below 10ms", ErrInvalidOptions, r.HealthCheckInterval)
	case r.MaxCachedUsers < 0:
		return r, fmt.Errorf("%w: MaxCachedUsers %d is negative", ErrInvalidOptions, r.MaxCachedUsers)
	case r.MinReplicas < 0:
		return r, fmt.Errorf("%w: MinReplicas %d is negative", ErrInvalidOptions, r.MinReplicas)
	case r.WaitTimeout < 0 || (r.MinReplicas > 0 && r.WaitTimeout < time.Millisecond):
		return r, fmt.Errorf("%w: WaitTimeout %v is below 1ms", ErrInvalidOptions, r.WaitTimeout)
	}
	return r, nil
}

// Lua scripts: each write changes its keys and publishes the invalidation
// in one atomic step, so no instance can miss a write that took effect.
var (
	// KEYS: user epoch, global epoch. ARGV: channel, user ID.
	bumpScript = redis.NewScript(`
local u = redis.call('INCR', KEYS[1])
local g = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('PUBLISH', ARGV[1], '1 u ' .. u .. ' ' .. ARGV[2])
return {u, g}`)
	// KEYS: global epoch. ARGV: channel.
	globalScript = redis.NewScript(`
local g = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], '1 g ' .. g)
return g`)
	// KEYS: revocation key, index. ARGV: channel, until (unix ms), hex ID.
	// Keeps the later of an existing and the new until; prunes the index.
	revokeScript = redis.NewScript(`
local untilms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local old = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[3]) or '0')
if old >= untilms then return 0 end
if untilms <= now then return 0 end
redis.call('SET', KEYS[1], '1', 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('PUBLISH', ARGV[1], '1 r ' .. ARGV[2] .. ' ' .. ARGV[3])
return 1`)
)

// Store is a versioning.Store in Redis with a local cache kept current by
// pub/sub. It is safe for concurrent use. Create it with New and Close it
// when done; Close does not close the client.
type Store struct {
	client redis.UniversalClient
	opts   Options

	globalKey, userPrefix, revokePrefix, indexKey, channel string

	closed  atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
	reloads atomic.Int64 // completed reloads
	applied atomic.Int64 // messages applied
	bad     atomic.Int64 // messages that did not parse

	psMu sync.Mutex
	ps   *redis.PubSub // the subscriber's current PubSub

	mu         sync.RWMutex
	trusted    bool      // subscription up and reloaded since
	everLoaded bool      // the cache was trusted at least once
	staleSince time.Time // when the cache stopped being trusted
	gen        uint64    // changes on every flush, stale mark and reload
	global     uint64
	users      map[string]uint64         // user's own counter
	revoked    map[codec.SessionID]int64 // until, unix ms
	readyCh    chan struct{}             // closed on the first reload

	// testHookApplied, when set (tests only, before New returns), is
	// called by the subscriber after it applied a message.
	testHookApplied func(Message)
}

var (
	_ versioning.Store       = (*Store)(nil)
	_ versioning.StaleReader = (*Store)(nil)
)

// New returns a Store using client, and starts its subscriber in the
// background. It does not wait for Redis: until the first subscription and
// reload succeed, reads go to Redis directly (see WaitReady). The client is
// not closed by Close. An error is returned only for a nil client or bad
// options (matching ErrInvalidOptions).
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	return newStore(client, opts, nil)
}

func newStore(client redis.UniversalClient, opts *Options, hook func(Message)) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.MinReplicas > 0 {
		if err := checkWaitClient(client); err != nil {
			return nil, err
		}
	}
	base := o.Prefix + "{v}:"
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		client:          client,
		opts:            o,
		globalKey:       base + "g",
		userPrefix:      base + "e:",
		revokePrefix:    base + "r:",
		indexKey:        base + "ri",
		channel:         base + "inval",
		cancel:          cancel,
		done:            make(chan struct{}),
		users:           make(map[string]uint64),
		revoked:         make(map[codec.SessionID]int64),
		readyCh:         make(chan struct{}),
		testHookApplied: hook,
	}
	go s.run(ctx)
	return s, nil
}

// WaitReady waits until the store has subscribed and loaded its cache for
// the first time, or ctx ends (its error is returned, matching
// ErrStoreUnavailable).
func (s *Store) WaitReady(ctx context.Context) error {
	if s.closed.Load() {
		return unavailable("wait ready", versioning.ErrClosed)
	}
	select {
	case <-s.readyCh:
		return nil
	case <-s.done:
		return unavailable("wait ready", versioning.ErrClosed)
	case <-ctx.Done():
		return unavailable("wait ready", ctx.Err())
	}
}

// Trusted reports whether the local cache is currently trusted (subscribed
// and reloaded), and if not since when it is stale (zero if it never was
// trusted).
func (s *Store) Trusted() (ok bool, staleSince time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.trusted, s.staleSince
}

// Stats is a snapshot of a Store's cache, for metrics and health checks.
type Stats struct {
	Trusted         bool      // the cache is trusted (subscribed and reloaded)
	StaleSince      time.Time // when the cache stopped being trusted; zero if trusted or never loaded
	Reloads         int64     // completed (re)loads since New
	MessagesApplied int64     // invalidation messages applied since New
	BadMessages     int64     // messages that did not parse (each flushed the user cache)
	CachedUsers     int       // users whose epoch is cached
	Revocations     int       // revocations in the mirror (some may have just expired)
}

// Stats returns a snapshot of the store's cache state.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{
		Trusted:         s.trusted,
		StaleSince:      s.staleSince,
		Reloads:         s.reloads.Load(),
		MessagesApplied: s.applied.Load(),
		BadMessages:     s.bad.Load(),
		CachedUsers:     len(s.users),
		Revocations:     len(s.revoked),
	}
}

// check returns the error for a closed store or ended context.
func (s *Store) check(ctx context.Context, op string) error {
	if s.closed.Load() {
		return unavailable(op, versioning.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

func (s *Store) userKey(userID string) string { return s.userPrefix + userID }

func (s *Store) revokeKey(hexID string) string { return s.revokePrefix + hexID }

// Epoch implements versioning.Store. With a trusted cache it costs no round
// trip once the user is cached (one GET to fill a miss).
func (s *Store) Epoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.check(ctx, "epoch"); err != nil {
		return 0, err
	}
	s.mu.RLock()
	if s.trusted {
		if u, ok := s.users[userID]; ok {
			e := u + s.global
			s.mu.RUnlock()
			return e, nil
		}
		gen := s.gen
		s.mu.RUnlock()
		return s.fillEpoch(ctx, userID, gen)
	}
	s.mu.RUnlock()
	return s.directEpoch(ctx, userID)
}

// fillEpoch reads a user's counter and caches it if nothing invalidated the
// cache in between.
func (s *Store) fillEpoch(ctx context.Context, userID string, gen uint64) (uint64, error) {
	u, err := s.client.Get(ctx, s.userKey(userID)).Uint64()
	if errors.Is(err, redis.Nil) {
		u, err = 0, nil
	}
	if err != nil {
		return 0, unavailable("epoch", err)
	}
	s.mu.Lock()
	if s.trusted && s.gen == gen {
		if len(s.users) >= s.opts.MaxCachedUsers {
			s.flushUsersLocked()
		}
		u = max(u, s.users[userID])
		s.users[userID] = u
		e := u + s.global
		s.mu.Unlock()
		return e, nil
	}
	s.mu.Unlock()
	// The cache went stale or was flushed while we asked: its global
	// counter may be behind too, so ask Redis for both.
	return s.directEpoch(ctx, userID)
}

// directEpoch reads both counters from Redis (untrusted cache).
func (s *Store) directEpoch(ctx context.Context, userID string) (uint64, error) {
	vals, err := s.client.MGet(ctx, s.userKey(userID), s.globalKey).Result()
	if err != nil {
		return 0, unavailable("epoch", err)
	}
	var sum uint64
	for _, v := range vals {
		n, err := counter(v)
		if err != nil {
			return 0, unavailable("epoch", err)
		}
		sum += n
	}
	return sum, nil
}

// counter converts one MGET element (nil or a decimal string).
func counter(v any) (uint64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case string:
		return strconv.ParseUint(v, 10, 64)
	}
	return 0, fmt.Errorf("unexpected reply type %T", v)
}

// BumpEpoch implements versioning.Store.
func (s *Store) BumpEpoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.check(ctx, "bump epoch"); err != nil {
		return 0, err
	}
	if userID == "" || len(userID) > maxUserIDLen {
		// The Checker never asks about "", and codec caps IDs at 255 bytes;
		// refusing keeps every message parseable.
		return 0, fmt.Errorf("redisstore: bump epoch: user ID must be 1..%d bytes", maxUserIDLen)
	}
	reply, werr := s.write(ctx, bumpScript, []string{s.userKey(userID), s.globalKey}, s.channel, userID)
	if reply == nil {
		return 0, unavailable("bump epoch", werr)
	}
	vals, err := reply.Int64Slice()
	if err == nil && (len(vals) != 2 || vals[0] < 0 || vals[1] < 0) {
		err = fmt.Errorf("unexpected script reply %v", vals)
	}
	if err != nil {
		return 0, unavailable("bump epoch", err)
	}
	u, g := uint64(vals[0]), uint64(vals[1])
	// The bump took effect on the master (and was published), so the cache
	// takes it even when it was not replicated: raising is always safe.
	s.mu.Lock()
	s.setUserLocked(userID, u)
	s.global = max(s.global, g)
	s.mu.Unlock()
	if werr != nil {
		return 0, unavailable("bump epoch", werr)
	}
	return u + g, nil
}

// BumpGlobalEpoch implements versioning.Store.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	if err := s.check(ctx, "bump global epoch"); err != nil {
		return err
	}
	reply, werr := s.write(ctx, globalScript, []string{s.globalKey}, s.channel)
	if reply == nil {
		return unavailable("bump global epoch", werr)
	}
	g, err := reply.Int64()
	if err != nil {
		return unavailable("bump global epoch", err)
	}
	s.mu.Lock()
	s.global = max(s.global, uint64(max(g, 0)))
	s.mu.Unlock()
	if werr != nil {
		return unavailable("bump global epoch", werr)
	}
	return nil
}

// Revoke implements versioning.Store.
func (s *Store) Revoke(ctx context.Context, id codec.SessionID, until time.Time) error {
	if err := s.check(ctx, "revoke"); err != nil {
		return err
	}
	ms := until.UnixMilli()
	if ms <= s.opts.Now().UnixMilli() {
		return nil
	}
	hexID := hex.EncodeToString(id[:])
	reply, werr := s.write(ctx, revokeScript, []string{s.revokeKey(hexID), s.indexKey},
		s.channel, strconv.FormatInt(ms, 10), hexID)
	if reply == nil {
		return unavailable("revoke", werr)
	}
	s.mu.Lock()
	s.revoked[id] = max(s.revoked[id], ms)
	s.mu.Unlock()
	if werr != nil {
		return unavailable("revoke", werr)
	}
	return nil
}

// IsRevoked implements versioning.Store. With a trusted cache it costs no
// round trip.
func (s *Store) IsRevoked(ctx context.Context, id codec.SessionID) (bool, error) {
	if err := s.check(ctx, "is revoked"); err != nil {
		return false, err
	}
	s.mu.RLock()
	if s.trusted {
		until, ok := s.revoked[id]
		s.mu.RUnlock()
		return ok && until > s.opts.Now().UnixMilli(), nil
	}
	s.mu.RUnlock()
	n, err := s.client.Exists(ctx, s.revokeKey(hex.EncodeToString(id[:]))).Result()
	if err != nil {
		return false, unavailable("is revoked", err)
	}
	return n > 0, nil
}

// staleAge returns whether the cache may serve a stale read with bound
// maxAge. Call with s.mu held.
func (s *Store) staleOKLocked(maxAge time.Duration) bool {
	if s.trusted {
		return true
	}
	if maxAge <= 0 {
		maxAge = s.opts.MaxStale
	}
	return s.everLoaded && !s.staleSince.IsZero() && s.opts.Now().Sub(s.staleSince) <= maxAge
}

// EpochStale implements versioning.StaleReader: the cached effective epoch
// if the cache is trusted or stale for no longer than maxAge (<= 0 means
// Options.MaxStale). A user not in the cache, or an older cache, gives an
// error matching ErrStoreUnavailable. It never contacts Redis.
func (s *Store) EpochStale(ctx context.Context, userID string, maxAge time.Duration) (uint64, error) {
	if err := s.check(ctx, "epoch (stale)"); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.staleOKLocked(maxAge) {
		if u, ok := s.users[userID]; ok {
			return u + s.global, nil
		}
	}
	return 0, unavailable("epoch (stale)", errNotCached)
}

// IsRevokedStale implements versioning.StaleReader: the answer from the
// revocation mirror if the cache is trusted or stale for no longer than
// maxAge (<= 0 means Options.MaxStale); otherwise an error matching
// ErrStoreUnavailable. It never contacts Redis.
func (s *Store) IsRevokedStale(ctx context.Context, id codec.SessionID, maxAge time.Duration) (bool, error) {
	if err := s.check(ctx, "is revoked (stale)"); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.staleOKLocked(maxAge) {
		return false, unavailable("is revoked (stale)", errNotCached)
	}
	until, ok := s.revoked[id]
	return ok && until > s.opts.Now().UnixMilli(), nil
}

// Close stops the subscriber and makes every later call fail with an error
// matching versioning.ErrClosed and ErrStoreUnavailable. It does not close
// the client. It is idempotent and always returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		<-s.done
		return nil
	}
	s.cancel()
	<-s.done
	return nil
}

// setUserLocked raises the cached counter of a user (never lowers it).
func (s *Store) setUserLocked(userID string, u uint64) {
	if old, ok := s.users[userID]; ok {
		s.users[userID] = max(old, u)
		return
	}
	if len(s.users) >= s.opts.MaxCachedUsers {
		s.flushUsersLocked()
	}
	s.users[userID] = u
}

// flushUsersLocked empties the user cache; in-flight fills see the new gen
// and do not insert.
func (s *Store) flushUsersLocked() {
	clear(s.users)
	s.gen++
}
