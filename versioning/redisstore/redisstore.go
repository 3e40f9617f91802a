// Package redisstore is a [versioning.Store] kept in Redis, for applications
// that run on several machines. It works with any go-redis
// [redis.UniversalClient]: a single node, Sentinel (failover client) or
// Cluster.
//
// # Keys
//
// Users' state is kept in a fixed number of shared hashes, the buckets,
// and sized by what is live. With the default prefix "sealedsession:" the
// keys are
//
//	sealedsession:b{<bucket>}       a bucket: field = user ID, value = the user's epoch and live revocations
//	sealedsession:{v}:buckets       the bucket count (Options.Buckets), written by the first instance
//	sealedsession:{v}:g             the global epoch counter
//	sealedsession:{v}:seq           the message sequence counter
//	sealedsession:{v}:sweep         the shared sweep's state (a small hash)
//
// and the invalidation channel is "sealedsession:{v}:inval:<DB>" (classic
// pub/sub; <DB> is the client's database number, so two deployments that
// differ only by database never hear each other). A user's bucket is
// FNV-1a (64 bits) of the user ID modulo Options.Buckets (default 65536),
// in decimal. The value is the user's epoch in decimal, ':', then each
// live revocation as 22 bytes: the 16-byte session ID and its end (unix
// ms, 48-bit big-endian). A user with epoch 0 and no live revocation has
// no field. The hash tag {<bucket>} spreads the buckets over the Cluster
// slots; the counters, the bucket count, the sweep state and the channel
// share the {v} slot. Session tracking keeps keys of its own per user (see
// [Store.AddSession]).
//
// Small hashes are listpack-encoded by Redis: a user costs about 40 bytes
// of its bucket (user ID, value, two entry headers) instead of a key of
// its own (keyspace and expires entries, key string, object header: well
// over 100 bytes). That holds while a bucket stays within
// hash-max-listpack-entries (128) fields of at most
// hash-max-listpack-value (64) bytes, which a user with up to two live
// revocations meets; size Options.Buckets for the users with state (see
// its documentation). A user with more revocations turns its bucket into
// a plain hashtable, which is correct but costs more memory.
//
// Buckets never expire, so ended revocations are pruned by the store:
// every write script drops the ended revocations of its whole bucket (and
// the users left with nothing), which is O(bucket size), and the instances
// share a background sweep that prunes every bucket once per
// Options.SweepPeriod (default 15 minutes), one script per bucket, paced
// evenly: Buckets/SweepPeriod scripts a second in all (about 73 with the
// defaults), whatever the number of instances. The pass is a schedule in
// Redis time kept in the sweep state: bucket j's slot is the pass's start
// plus j*SweepPeriod/Buckets, and passes start SweepPeriod apart. Once a
// tick (a tenth of SweepPeriod, within 100ms..1s) each instance runs a
// small claim script (O(1), in the {v} slot) that hands it the buckets
// whose slot has come and that nobody took, then prunes them (on a
// Cluster, separate commands in the buckets' slots). Ends and slots are
// judged by Redis's clock (TIME), so instances with skewed clocks agree.
//
// The bound: while at least one instance takes part and Redis answers,
// each bucket is pruned within a tick of its slot, so an ended revocation
// leaves Redis at most SweepPeriod plus a tick (at most a second, and the
// few milliseconds of running a batch) after its end; instances joining,
// leaving or closing change nothing, as the schedule is in Redis. Two
// exceptions stretch it. The buckets that an instance claimed and did not
// prune because it crashed or was closed (one claim: the buckets of at
// most a tick, about 73 with the defaults; after an interruption at most
// max(2*Buckets*tick/SweepPeriod, 64)) are pruned at their slots in the
// next pass: at most 2*SweepPeriod plus a tick after the end. (Buckets
// whose pruning failed because Redis did are retried by the same instance
// at its next tick.) And when nobody sweeps for a time G (no instance
// running, Redis unreachable), the late buckets are claimed at least
// twice the pace when sweeping resumes: the bound becomes SweepPeriod + G
// plus a tick. The shortest SweepPeriod among the instances sets the
// pace: use the same value everywhere.
//
// # Caching
//
// Each Store caches the users it is asked about, and only those: their
// epoch and revocations (or the fact that they have none, a cheap negative
// answer), in a sharded LRU bounded by Options.CacheBytes. A cached user
// costs no Redis round trip; a miss costs one (HGET of the user's field).
// Nothing ever reads the whole keyspace, and start-up waits for no load: a
// new instance is ready as soon as it has subscribed and read the
// counters (one MGET, which also checks the bucket count).
//
// Every write (BumpEpoch, BumpGlobalEpoch, Revoke) runs a Lua script that
// changes the user's field, increments the sequence counter and publishes
// a message carrying the new sequence number: "this user changed" (each
// instance drops that user from its cache) or "the global epoch is now n".
// On a single node or Sentinel this is one atomic script. On a Cluster the
// user's bucket and the sequence counter are in different slots, so the
// write is two scripts, the change and then its announcement; if the
// second fails the write returns an error and, as every write is safe to
// retry (a retry announces again even when there is nothing to change),
// the caller retries it. Pruning other users' ended revocations is not
// announced: it changes no answer.
//
// An instance whose Options.Buckets differs from the count stored in Redis
// refuses every call with an error matching [ErrBucketsMismatch] (and
// ErrStoreUnavailable): it would look for users in the wrong buckets.
//
// # Staleness
//
// A gap in the sequence numbers means a lost message: the cache is flushed
// (dropping users costs round trips, never correctness). Every
// Options.HealthCheckInterval the store reads the sequence counter (one
// MGET of three small keys); once every message up to that number has been
// applied, the cache is proven current as of the moment of the read. The
// cache is trusted only while its last proof is younger than
// Options.MaxLag: a subscriber that falls behind, or stops hearing, stops
// trusting itself within MaxLag, and a probe that stays unanswered by the
// messages for half of MaxLag flushes the cache and proves it again. While
// the cache is not trusted, reads go to Redis (and fail with an error
// matching [versioning.ErrStoreUnavailable] when it cannot answer); with
// [versioning.ServeStale] a Checker may get answers from cached users for
// at most Options.MaxStale after the last proof. After a reconnect the
// store flushes its cache and reads the sequence counter: resynchronising
// costs one command, whatever Redis holds. A flush does not forget the
// users for stale reads: until the next flush (or eviction) they answer
// LookupStale as of the last proof before it, so that an outage right after
// a reconnect (a failover that reaches the subscriber first) still finds
// them.
//
// Epochs live only in Redis: run it with persistence (AOF). A Redis that
// loses data (restart without persistence, failover to a replica that missed
// the write) lowers epochs again, and sessions logged out by the lost bumps
// become valid again. The cached global epoch never moves backwards.
//
// Every counter read from Redis (replies and messages) is checked: a value
// above the largest Redis integer (2^63-1) is corrupt or forged, and the
// read fails with an error matching [versioning.ErrEpochOverflow] (and
// ErrStoreUnavailable), so the session is refused; such a message is
// dropped and flushes the cache.
//
// # Replication
//
// Options.MinReplicas makes every write wait (Redis WAIT) for that many
// replicas before it is acknowledged; a write they did not confirm returns
// an error matching [ErrNotReplicated]. An acknowledged bump then survives
// a failover to any replica that confirmed it (see the spec,
// SPEC.md, for the exact guarantee and what WAIT does not cover).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefix              = "sealedsession:"       // Options.Prefix
	DefaultMaxStale            = 30 * time.Second       // Options.MaxStale
	DefaultHealthCheckInterval = 250 * time.Millisecond // Options.HealthCheckInterval
	DefaultMaxLag              = time.Second            // Options.MaxLag
	DefaultCacheBytes          = 48 << 20               // Options.CacheBytes
	DefaultWaitTimeout         = time.Second            // Options.WaitTimeout, when MinReplicas > 0
	DefaultBuckets             = 1 << 16                // Options.Buckets
	DefaultSweepPeriod         = 15 * time.Minute       // Options.SweepPeriod
)

// MaxBuckets is the largest Options.Buckets.
const MaxBuckets = 1 << 24

// Options configures a Store. The zero value (or nil) means every default.
type Options struct {
	// Prefix starts every key and the channel name. Default "sealedsession:".
	// Instances that must see each other's bumps use the same prefix (and
	// database). It must not contain '{' or '}': the store adds the hash
	// tags itself.
	Prefix string
	// MaxStale is the bound on staleness for LookupStale when it is called
	// with maxAge <= 0: how long after the cache's last proof of being
	// current it may still answer. Default 30s.
	MaxStale time.Duration
	// HealthCheckInterval is how often the store proves its cache current
	// (it reads the sequence counter), and how long the subscription may be
	// silent before it is pinged. Default 250ms; at least 10ms.
	HealthCheckInterval time.Duration
	// MaxLag bounds how stale a trusted cache can be: the cache answers
	// only while it was proven current within MaxLag; otherwise reads go
	// to Redis. Default 1s; at least twice HealthCheckInterval.
	MaxLag time.Duration
	// CacheBytes bounds the memory of the per-user cache (estimated: about
	// 112 bytes plus the user ID per user, 24 per revocation); the least
	// recently used users are dropped beyond it. Default 48 MiB, which keeps
	// an instance serving a million active users under 64 MiB of heap for
	// the cache. Negative disables the cache (every read goes to Redis).
	CacheBytes int64
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
	// Buckets is the number of hashes that hold the users' epochs and
	// revocations (see the package documentation, Keys). Default 65536
	// (DefaultBuckets); at most MaxBuckets. Every instance sharing the
	// Redis must use the same count: it is stored in Redis by the first
	// instance, and an instance with another count refuses every call
	// (errors matching ErrBucketsMismatch), since it would look for users
	// in the wrong buckets. Changing it means starting over with an empty
	// state (a new Prefix, or deleting the old keys).
	//
	// Size it so that a bucket holds well under 128 users, Redis's default
	// hash-max-listpack-entries, above which a bucket turns into a
	// hashtable of several times the memory: count the users with a
	// non-zero epoch or a live revocation and divide by about 16. The
	// default suits up to about 2 million such users; for 50 million, use
	// 1<<22 (12 per bucket), or 1<<20 with hash-max-listpack-entries
	// raised to 256 (each write then scans 48 users on average).
	Buckets int
	// SweepPeriod is how long the background sweep, shared by the
	// instances, takes to walk every bucket once, pruning ended
	// revocations (one small script per bucket, paced evenly:
	// Buckets/SweepPeriod scripts a second in all, about 73 with the
	// defaults, whatever the number of instances; each instance also
	// runs one small claim script per tick, a tenth of SweepPeriod
	// within 100ms..1s). Every write also prunes its bucket; the sweep
	// returns the memory of buckets nobody writes to. An ended
	// revocation leaves Redis at most SweepPeriod plus a tick (at most a
	// second) after its end while any instance takes part and Redis
	// answers (see the package documentation, Keys, for the exceptions:
	// an instance that crashes mid-batch, a sweep interrupted for a
	// while). Use the same value on every instance: the shortest sets
	// the pace. Default 15 minutes; at least 1s; negative keeps this
	// instance out of the sweep (the others, or writes, must prune).
	SweepPeriod time.Duration
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
	if r.MaxLag == 0 {
		r.MaxLag = max(DefaultMaxLag, 4*r.HealthCheckInterval)
	}
	if r.CacheBytes == 0 {
		r.CacheBytes = DefaultCacheBytes
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Buckets == 0 {
		r.Buckets = DefaultBuckets
	}
	if r.SweepPeriod == 0 {
		r.SweepPeriod = DefaultSweepPeriod
	}
	if r.MinReplicas > 0 && r.WaitTimeout == 0 {
		r.WaitTimeout = DefaultWaitTimeout
	}
	switch {
	case strings.ContainsAny(r.Prefix, "{}"):
		return r, fmt.Errorf("%w: Prefix %q contains a brace (the store adds its own hash tags)", ErrInvalidOptions, r.Prefix)
	case r.MaxStale < 0:
		return r, fmt.Errorf("%w: MaxStale %v is negative", ErrInvalidOptions, r.MaxStale)
	case r.HealthCheckInterval < 10*time.Millisecond:
		return r, fmt.Errorf("%w: HealthCheckInterval %v is below 10ms", ErrInvalidOptions, r.HealthCheckInterval)
	case r.MaxLag < 2*r.HealthCheckInterval:
		return r, fmt.Errorf("%w: MaxLag %v is below twice HealthCheckInterval (%v)", ErrInvalidOptions, r.MaxLag, r.HealthCheckInterval)
	case r.MinReplicas < 0:
		return r, fmt.Errorf("%w: MinReplicas %d is negative", ErrInvalidOptions, r.MinReplicas)
	case r.WaitTimeout < 0 || (r.MinReplicas > 0 && r.WaitTimeout < time.Millisecond):
		return r, fmt.Errorf("%w: WaitTimeout %v is below 1ms", ErrInvalidOptions, r.WaitTimeout)
	case r.Buckets < 1 || r.Buckets > MaxBuckets:
		return r, fmt.Errorf("%w: Buckets %d is not in 1..%d", ErrInvalidOptions, r.Buckets, MaxBuckets)
	case r.SweepPeriod > 0 && r.SweepPeriod < time.Second:
		return r, fmt.Errorf("%w: SweepPeriod %v is below 1s", ErrInvalidOptions, r.SweepPeriod)
	}
	return r, nil
}

// Lua scripts. ARGV[1] is always the channel. A script given the sequence
// and global keys as its last two KEYS announces its change itself (one
// atomic step: single node, Sentinel); given only its own keys it does not,
// and announceScript follows (Cluster).
const announcePrelude = `
local function announce(body)
  local sk, gk = KEYS[#KEYS-1], KEYS[#KEYS]
  redis.call('INCR', sk)
  local seq = redis.call('GET', sk)
  redis.call('PUBLISH', ARGV[1], '2 ' .. seq .. ' ' .. body)
  return redis.call('GET', gk) or '0'
end
`

var (
	// KEYS: bucket [, seq, global]. ARGV: channel, user ID. Prunes the
	// bucket, then adds one to the user's epoch. Returns {user epoch} or
	// {user epoch, global}, as strings. A value that does not parse, or an
	// epoch at 2^63-1, fails the script and changes nothing.
	bumpScript = redis.NewScript(bucketPrelude + announcePrelude + `
prune()
local v = redis.call('HGET', KEYS[1], ARGV[2]) or '0:'
local e, p = parse(v)
if not e then return redis.error_reply('ERR malformed user state') end
local u = incr(e)
if not u then return redis.error_reply('ERR increment or decrement would overflow') end
redis.call('HSET', KEYS[1], ARGV[2], u .. string.sub(v, p - 1))
if #KEYS == 1 then return {u} end
return {u, announce('u ' .. ARGV[2])}`)

	// KEYS: seq, global. ARGV: channel. Returns the new global, a string.
	globalScript = redis.NewScript(announcePrelude + `
redis.call('INCR', KEYS[2])
return announce('g ' .. redis.call('GET', KEYS[2]))`)

	// KEYS: bucket [, seq, global]. ARGV: channel, user ID, until (unix
	// ms, at most 2^48-1), raw session ID (16 bytes). Prunes the bucket,
	// then keeps the later of an existing and the new until. Returns
	// {changed (0|1)} or {changed, global}; it announces even when nothing
	// changed (a retry of a write whose announcement failed).
	revokeScript = redis.NewScript(bucketPrelude + announcePrelude + `
prune()
local untilms = tonumber(ARGV[3])
local changed = 0
if untilms > now then
  local v = redis.call('HGET', KEYS[1], ARGV[2]) or '0:'
  local e, p = parse(v)
  if not e then return redis.error_reply('ERR malformed user state') end
  local out, found = {}, false
  for i = p, #v, 22 do
    local r = string.sub(v, i, i + 21)
    if string.sub(r, 1, 16) == ARGV[4] then
      found = true
      if getend(r, 17) < untilms then
        r = ARGV[4] .. putend(untilms)
        changed = 1
      end
    end
    out[#out + 1] = r
  end
  if not found then
    out[#out + 1] = ARGV[4] .. putend(untilms)
    changed = 1
  end
  if changed == 1 then redis.call('HSET', KEYS[1], ARGV[2], e .. ':' .. table.concat(out)) end
end
if #KEYS == 1 then return {changed} end
return {changed, announce('u ' .. ARGV[2])}`)

	// KEYS: seq, global. ARGV: channel, user ID. Cluster: the
	// announcement of a user write. Returns the global, a string.
	announceScript = redis.NewScript(announcePrelude + `
return announce('u ' .. ARGV[2])`)
)

// Store is a versioning.Store in Redis with a local per-user cache kept
// current by pub/sub. It is safe for concurrent use. Create it with New and
// Close it when done; Close does not close the client.
type Store struct {
	client  redis.UniversalClient
	opts    Options
	cluster bool // writes are two scripts (see the package documentation)

	globalKey, seqKey, channel string

	closed    atomic.Bool
	cancel    context.CancelFunc
	done      chan struct{}
	sweepDone chan struct{} // nil without a sweep

	cache  *userCache // nil when disabled
	global atomic.Uint64

	// Trust: the cache answers while now < trustedUntil (unix ns).
	trustedUntil atomic.Int64

	syncMu   sync.Mutex
	sub      bool      // subscribed, and resynchronised since
	lastSeq  uint64    // last applied sequence number
	provenAt time.Time // the cache was complete as of then
	// staleProvenAt is provenAt as it was at the last flush: the entries
	// the flush kept for stale reads were complete as of then.
	staleProvenAt time.Time
	pending       []probe // sequence numbers read but not yet applied
	everOK        bool
	readyCh       chan struct{} // closed on the first proof

	resyncs, flushes, applied, bad, lagFlushes atomic.Int64

	psMu sync.Mutex
	ps   *redis.PubSub // the subscriber's current PubSub

	// The bucket count check (see ensureMeta): metaState is metaUnknown,
	// metaOK or metaMismatch; metaErr is set, and refused closed, with
	// metaMismatch.
	metaState atomic.Int32
	metaErr   atomic.Pointer[error]
	refused   chan struct{}

	sweepStats

	// testHookApplied, when set (tests only, before New returns), is
	// called by the subscriber after it applied a message.
	testHookApplied func(Message)
}

// probe is one read of the sequence counter.
type probe struct {
	seq uint64
	at  time.Time
}

var (
	_ versioning.Store       = (*Store)(nil)
	_ versioning.StaleReader = (*Store)(nil)
)

// New returns a Store using client, and starts its subscriber in the
// background. It does not wait for Redis: until the first subscription and
// proof succeed, reads go to Redis directly (see WaitReady). The client is
// not closed by Close. An error is returned only for a nil client or bad
// options (matching ErrInvalidOptions).
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	return newStore(client, opts, nil)
}

// clientDB returns the database number of client (0 for a Cluster, which
// has only database 0, and for client types it cannot inspect).
func clientDB(client redis.UniversalClient) int {
	if c, ok := client.(*redis.Client); ok {
		return c.Options().DB
	}
	return 0
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
	_, cluster := client.(*redis.ClusterClient)
	base := o.Prefix + "{v}:"
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		client:          client,
		opts:            o,
		cluster:         cluster,
		globalKey:       base + "g",
		seqKey:          base + "seq",
		channel:         base + "inval:" + strconv.Itoa(clientDB(client)),
		cancel:          cancel,
		done:            make(chan struct{}),
		readyCh:         make(chan struct{}),
		refused:         make(chan struct{}),
		testHookApplied: hook,
	}
	if o.CacheBytes > 0 {
		s.cache = newUserCache(o.CacheBytes)
	}
	go s.run(ctx)
	if o.SweepPeriod > 0 {
		s.sweepDone = make(chan struct{})
		go func() {
			defer close(s.sweepDone)
			s.sweeper(ctx)
		}()
	}
	return s, nil
}

// Channel returns the name of the invalidation channel.
func (s *Store) Channel() string { return s.channel }

// WaitReady waits until the store has subscribed and proven its cache
// current for the first time, or ctx ends (its error is returned, matching
// ErrStoreUnavailable). The cache starts empty: this takes one command,
// whatever Redis holds.
func (s *Store) WaitReady(ctx context.Context) error {
	if s.closed.Load() {
		return unavailable("wait ready", versioning.ErrClosed)
	}
	select {
	case <-s.readyCh:
		return nil
	case <-s.done:
		return unavailable("wait ready", versioning.ErrClosed)
	case <-s.refused:
		return unavailable("wait ready", *s.metaErr.Load())
	case <-ctx.Done():
		return unavailable("wait ready", ctx.Err())
	}
}

// trusted reports whether the cache may answer at now.
func (s *Store) trusted(now time.Time) bool {
	return s.cache != nil && now.UnixNano() < s.trustedUntil.Load()
}

// Trusted reports whether the local cache is currently trusted (proven
// current within MaxLag), and if not since when it is stale: its last
// proof (zero if it never had one).
func (s *Store) Trusted() (ok bool, staleSince time.Time) {
	if s.trusted(s.opts.Now()) {
		return true, time.Time{}
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return false, s.provenAt
}

// Stats is a snapshot of a Store's cache, for metrics and health checks.
type Stats struct {
	Trusted         bool      // the cache is trusted (proven current within MaxLag)
	StaleSince      time.Time // the last proof, when not trusted; zero if trusted or never proven
	Resyncs         int64     // resynchronisations (after a (re)subscription, a reset or a lag) since New
	Flushes         int64     // times the cache was emptied since New
	LagFlushes      int64     // flushes because messages lagged behind the sequence counter
	MessagesApplied int64     // invalidation messages applied since New
	BadMessages     int64     // messages that did not parse (each flushed the cache)
	LastSeq         uint64    // last applied sequence number
	CachedUsers     int       // users in the cache
	CacheBytes      int64     // the cache's estimated size
	SweptBuckets    int64     // buckets this instance pruned for the shared sweep since New
	SweptRevs       int64     // ended revocations this instance's share of the sweep dropped since New
}

// Stats returns a snapshot of the store's cache state.
func (s *Store) Stats() Stats {
	ok, since := s.Trusted()
	st := Stats{
		Trusted:         ok,
		StaleSince:      since,
		Resyncs:         s.resyncs.Load(),
		Flushes:         s.flushes.Load(),
		LagFlushes:      s.lagFlushes.Load(),
		MessagesApplied: s.applied.Load(),
		BadMessages:     s.bad.Load(),
		SweptBuckets:    s.sweptBuckets.Load(),
		SweptRevs:       s.sweptRevs.Load(),
	}
	s.syncMu.Lock()
	st.LastSeq = s.lastSeq
	s.syncMu.Unlock()
	if s.cache != nil {
		st.CachedUsers, st.CacheBytes = s.cache.stats()
	}
	return st
}

// check returns the error for a closed store or ended context.
func (s *Store) check(ctx context.Context, op string) error {
	if s.closed.Load() {
		return unavailable(op, versioning.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	if s.metaState.Load() == metaMismatch {
		return unavailable(op, *s.metaErr.Load())
	}
	return nil
}

// userTag is the common start of a user's tracker keys, with the user's
// hash tag:
// "P u{<userID>}". A user ID that would end the tag early (it holds a '}')
// or make it empty has the tag of a hash of the ID instead, followed by
// '=' and the ID: "P u{<16 hex digits>}=<userID>", which no plain form
// can equal (those have ':' after the tag).
func (s *Store) userTag(userID string) string {
	if userID != "" && !strings.Contains(userID, "}") {
		return s.opts.Prefix + "u{" + userID + "}"
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(userID))
	return s.opts.Prefix + "u{" + fmt.Sprintf("%016x", h.Sum64()) + "}=" + userID
}

// errOutOfRange is the cause of a counter read from Redis above 2^63-1.
var errOutOfRange = fmt.Errorf("counter above the largest Redis integer: %w", versioning.ErrEpochOverflow)

// parseStored converts a counter read from Redis (nil for a missing key).
func parseStored(v any) (uint64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case string:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, errOutOfRange
			}
			return 0, fmt.Errorf("malformed counter %q", v)
		}
		if n > maxCounter {
			return 0, errOutOfRange
		}
		return n, nil
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("negative counter %d", v)
		}
		return uint64(v), nil
	}
	return 0, fmt.Errorf("unexpected reply type %T", v)
}

// fetchUser reads a user's epoch counter and live revocations, one HGET
// of the user's field in its bucket (and the global counter if
// withGlobal, pipelined).
func (s *Store) fetchUser(ctx context.Context, userID string, withGlobal bool) (usertable.User, uint64, error) {
	var u usertable.User
	if err := s.ensureMeta(ctx); err != nil {
		return u, 0, err
	}
	var f *redis.StringCmd
	var g *redis.StringCmd
	if withGlobal {
		// The pipeline's own error is the first command's (redis.Nil for
		// a missing field): each command is checked instead.
		_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			f = p.HGet(ctx, s.bucketKey(userID), userID)
			g = p.Get(ctx, s.globalKey)
			return nil
		})
	} else {
		f = s.client.HGet(ctx, s.bucketKey(userID), userID)
	}
	v, err := f.Result()
	switch {
	case errors.Is(err, redis.Nil):
		// No field: epoch 0, no revocation.
	case err != nil:
		return u, 0, err
	default:
		if u, err = decodeValue(v, s.opts.Now().UnixMilli()); err != nil {
			return u, 0, fmt.Errorf("user %q: %w", userID, err)
		}
	}
	var global uint64
	if withGlobal {
		if global, err = stringCounter(g); err != nil {
			return u, 0, err
		}
	}
	return u, global, nil
}

// stringCounter converts a GET reply (redis.Nil for a missing key).
func stringCounter(c *redis.StringCmd) (uint64, error) {
	v, err := c.Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseStored(v)
}

// user returns userID's state and the global counter: from the cache when
// it is trusted (filling a miss with one round trip), from Redis
// otherwise.
func (s *Store) user(ctx context.Context, userID, op string) (usertable.User, uint64, error) {
	if s.trusted(s.opts.Now()) {
		if u, ok := s.cache.get(userID); ok {
			return u, s.global.Load(), nil
		}
		tok := s.cache.begin(userID)
		u, _, err := s.fetchUser(ctx, userID, false)
		// Cache only if the cache was still trusted when the answer came
		// (a flush or an invalidation since begin spoils the token).
		ok := err == nil && s.trusted(s.opts.Now())
		s.cache.finish(userID, tok, u, ok)
		if err != nil {
			return u, 0, unavailable(op, err)
		}
		if ok {
			return u, s.global.Load(), nil
		}
	}
	u, g, err := s.fetchUser(ctx, userID, true)
	if err != nil {
		return u, 0, unavailable(op, err)
	}
	return u, max(g, s.global.Load()), nil
}

// Epoch implements versioning.Store. With a trusted cache it costs no round
// trip once the user is cached (one to fill a miss).
func (s *Store) Epoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.check(ctx, "epoch"); err != nil {
		return 0, err
	}
	u, g, err := s.user(ctx, userID, "epoch")
	if err != nil {
		return 0, err
	}
	e, err := versioning.EffectiveEpoch(u.Epoch, g)
	if err != nil {
		return 0, unavailable("epoch", err)
	}
	return e, nil
}

// Lookup implements versioning.Store: the user's effective epoch and
// whether id is revoked, from one per-user cache entry (no round trip when
// cached and trusted; one otherwise). userID "" gives the zero state.
func (s *Store) Lookup(ctx context.Context, userID string, id codec.SessionID) (versioning.SessionState, error) {
	if err := s.check(ctx, "lookup"); err != nil {
		return versioning.SessionState{}, err
	}
	if userID == "" {
		return versioning.SessionState{}, nil
	}
	u, g, err := s.user(ctx, userID, "lookup")
	if err != nil {
		return versioning.SessionState{}, err
	}
	e, err := versioning.EffectiveEpoch(u.Epoch, g)
	if err != nil {
		return versioning.SessionState{}, unavailable("lookup", err)
	}
	return versioning.SessionState{Epoch: e, Revoked: u.Revoked(id, s.opts.Now().UnixMilli())}, nil
}

// LookupStale implements versioning.StaleReader: the answer from a cached
// user if the cache was proven current no longer than maxAge ago (<= 0
// means Options.MaxStale). A user not in the cache, or an older cache,
// gives an error matching ErrStoreUnavailable. It never contacts Redis.
func (s *Store) LookupStale(ctx context.Context, userID string, id codec.SessionID, maxAge time.Duration) (versioning.SessionState, error) {
	if err := s.check(ctx, "lookup (stale)"); err != nil {
		return versioning.SessionState{}, err
	}
	if userID == "" {
		return versioning.SessionState{}, nil
	}
	if maxAge <= 0 {
		maxAge = s.opts.MaxStale
	}
	now := s.opts.Now()
	if s.cache == nil {
		return versioning.SessionState{}, unavailable("lookup (stale)", errNotCached)
	}
	// Under syncMu no flush can come between reading the proofs and the
	// entry: an entry of the generation before the last flush is as
	// current as the last proof before that flush.
	s.syncMu.Lock()
	u, previous, ok := s.cache.peekStale(userID)
	proven := s.provenAt
	if previous {
		proven = s.staleProvenAt
	}
	s.syncMu.Unlock()
	if !ok || proven.IsZero() || now.Sub(proven) > maxAge {
		return versioning.SessionState{}, unavailable("lookup (stale)", errNotCached)
	}
	e, err := versioning.EffectiveEpoch(u.Epoch, s.global.Load())
	if err != nil {
		return versioning.SessionState{}, unavailable("lookup (stale)", err)
	}
	return versioning.SessionState{Epoch: e, Revoked: u.Revoked(id, now.UnixMilli())}, nil
}

// announceKeys returns the keys that make a user script announce itself
// (nil on a Cluster, where announceScript follows).
func (s *Store) announceKeys(keys ...string) []string {
	if s.cluster {
		return keys
	}
	return append(keys, s.seqKey, s.globalKey)
}

// userWrite runs a user script and, on a Cluster, its announcement. It
// returns the script's reply (nil if it did not run), the global counter
// when known, and the write or replication error.
func (s *Store) userWrite(ctx context.Context, sc *redis.Script, userID string, keys []string, args ...any) ([]any, uint64, bool, error) {
	reply, werr := s.write(ctx, sc, s.announceKeys(keys...), append([]any{s.channel, userID}, args...)...)
	if reply == nil {
		return nil, 0, false, werr
	}
	vals, err := reply.Slice()
	if err != nil {
		return nil, 0, false, err
	}
	if !s.cluster {
		if len(vals) != 2 {
			return nil, 0, false, fmt.Errorf("unexpected script reply %v", vals)
		}
		g, err := parseStored(vals[1])
		if err != nil {
			return vals, 0, false, err
		}
		return vals, g, true, werr
	}
	if werr != nil {
		return vals, 0, false, werr
	}
	ann, aerr := s.write(ctx, announceScript, []string{s.seqKey, s.globalKey}, s.channel, userID)
	if ann == nil {
		return vals, 0, false, aerr
	}
	g, err := parseStored(ann.Val())
	if err != nil {
		return vals, 0, false, err
	}
	return vals, g, true, aerr
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
	if err := s.ensureMeta(ctx); err != nil {
		return 0, unavailable("bump epoch", err)
	}
	vals, g, gok, werr := s.userWrite(ctx, bumpScript, userID, []string{s.bucketKey(userID)})
	if vals != nil && s.cache != nil {
		// The change took effect on the master: drop our copy now, before
		// our own message comes back.
		s.cache.invalidate(userID)
	}
	if gok {
		s.raiseGlobal(g)
	}
	if werr != nil {
		return 0, unavailable("bump epoch", werr)
	}
	u, err := parseStored(vals[0])
	if err != nil {
		return 0, unavailable("bump epoch", err)
	}
	e, err := versioning.EffectiveEpoch(u, max(g, s.global.Load()))
	if err != nil {
		return 0, unavailable("bump epoch", err)
	}
	return e, nil
}

// raiseGlobal raises the cached global counter (never lowers it).
func (s *Store) raiseGlobal(g uint64) {
	for {
		old := s.global.Load()
		if g <= old || s.global.CompareAndSwap(old, g) {
			return
		}
	}
}

// BumpGlobalEpoch implements versioning.Store.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	if err := s.check(ctx, "bump global epoch"); err != nil {
		return err
	}
	reply, werr := s.write(ctx, globalScript, []string{s.seqKey, s.globalKey}, s.channel)
	if reply == nil {
		return unavailable("bump global epoch", werr)
	}
	g, err := parseStored(reply.Val())
	if err != nil {
		return unavailable("bump global epoch", err)
	}
	s.raiseGlobal(g)
	if werr != nil {
		return unavailable("bump global epoch", werr)
	}
	return nil
}

// Revoke implements versioning.Store. An anonymous session (userID "")
// is never revoked: nothing is written.
func (s *Store) Revoke(ctx context.Context, userID string, id codec.SessionID, until time.Time) error {
	if err := s.check(ctx, "revoke"); err != nil {
		return err
	}
	if userID == "" {
		return nil
	}
	if len(userID) > maxUserIDLen {
		return fmt.Errorf("redisstore: revoke: user ID must be 1..%d bytes", maxUserIDLen)
	}
	ms := min(until.UnixMilli(), maxUntil)
	if ms <= s.opts.Now().UnixMilli() {
		return nil
	}
	if err := s.ensureMeta(ctx); err != nil {
		return unavailable("revoke", err)
	}
	vals, g, gok, werr := s.userWrite(ctx, revokeScript, userID, []string{s.bucketKey(userID)},
		strconv.FormatInt(ms, 10), string(id[:]))
	if vals != nil && s.cache != nil {
		s.cache.invalidate(userID)
	}
	if gok {
		s.raiseGlobal(g)
	}
	if werr != nil {
		return unavailable("revoke", werr)
	}
	return nil
}

// Close stops the subscriber and the sweep (the buckets this instance
// claimed and has not pruned yet are pruned by the next pass) and makes
// every later call fail with an error matching versioning.ErrClosed and
// ErrStoreUnavailable. It does not close the client. It is idempotent and
// always returns nil.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.cancel()
	}
	<-s.done
	if s.sweepDone != nil {
		<-s.sweepDone
	}
	return nil
}
