package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// The users' epochs and revocations live in Options.Buckets hashes (see the
// package documentation, Keys). This file holds the bucket function, the
// stored form of a user's state (the value of the user's field), the meta
// key check and the background sweep.

// revLen is the stored size of one revocation: the 16 raw bytes of the
// session ID and its end, unix ms as a 48-bit big-endian integer.
const revLen = len(codec.SessionID{}) + 6

// maxUntil is the largest end a revocation can store (2^48-1 ms, the year
// 10889); later ends are stored as this one.
const maxUntil = 1<<48 - 1

// maxEpochDigits is the length of the largest counter, 2^63-1.
const maxEpochDigits = 19

// errBadValue is the cause of a user's field that does not parse: it was
// not written by this package (or by a different version of it). Reads of
// that user fail (matching versioning.ErrStoreUnavailable) until the field
// is repaired or deleted.
var errBadValue = errors.New("malformed user state in a bucket")

// bucketOf returns the bucket of userID: FNV-1a (64 bits) of its bytes
// modulo n.
func bucketOf(userID string, n int) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(userID); i++ {
		h ^= uint64(userID[i])
		h *= 1099511628211
	}
	return int(h % uint64(n))
}

// bucketName returns the key of bucket b: "<Prefix>b{<b>}". The hash tag
// spreads the buckets over the Cluster slots.
func (s *Store) bucketName(b int) string {
	return s.opts.Prefix + "b{" + strconv.Itoa(b) + "}"
}

// bucketKey returns the key of the bucket holding userID's field.
func (s *Store) bucketKey(userID string) string {
	return s.bucketName(bucketOf(userID, s.opts.Buckets))
}

// encodeValue is the stored form of a user's state: the epoch in decimal,
// ':', then each revocation as revLen bytes (the session ID, then its end
// in unix ms, 48-bit big-endian, clamped to 0..2^48-1). The write scripts
// build the same form in Lua.
func encodeValue(u usertable.User) string {
	b := make([]byte, 0, maxEpochDigits+1+len(u.Revs)*revLen)
	b = strconv.AppendUint(b, u.Epoch, 10)
	b = append(b, ':')
	for _, r := range u.Revs {
		b = append(b, r.ID[:]...)
		until := min(max(r.Until, 0), maxUntil)
		for sh := 40; sh >= 0; sh -= 8 {
			b = append(b, byte(until>>sh))
		}
	}
	return string(b)
}

// decodeValue parses the stored form of a user's state (see encodeValue)
// and keeps the revocations that end after now. A value that does not
// parse gives an error matching errBadValue; an epoch above 2^63-1 one
// matching versioning.ErrEpochOverflow. It never panics, whatever v holds.
func decodeValue(v string, now int64) (usertable.User, error) {
	var u usertable.User
	c := strings.IndexByte(v, ':')
	if c < 1 {
		return u, fmt.Errorf("%w: no epoch", errBadValue)
	}
	digits := v[:c]
	e, err := parseCanonical(digits)
	if errors.Is(err, errOutOfRange) {
		return u, err
	}
	if err != nil {
		return u, fmt.Errorf("%w: epoch %q: %v", errBadValue, digits, err)
	}
	u.Epoch = e
	revs := v[c+1:]
	if len(revs)%revLen != 0 {
		return u, fmt.Errorf("%w: %d bytes of revocations", errBadValue, len(revs))
	}
	for i := 0; i < len(revs); i += revLen {
		var until int64
		for _, b := range []byte(revs[i+len(codec.SessionID{}) : i+revLen]) {
			until = until<<8 | int64(b)
		}
		if until > now {
			u.Revs = append(u.Revs, usertable.Rev{ID: codec.SessionID([]byte(revs[i : i+len(codec.SessionID{})])), Until: until})
		}
	}
	return u, nil
}

// bucketPrelude defines the helpers of the scripts that change a bucket
// (KEYS[1]). now is Redis's clock (unix ms): revocations end by it.
const bucketPrelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function getend(v, i)
  local a, b, c, d, e, f = string.byte(v, i, i + 5)
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end
local function putend(n)
  local s = ''
  for _ = 1, 6 do
    s = string.char(n % 256) .. s
    n = math.floor(n / 256)
  end
  return s
end
-- parse returns the epoch of a stored value (decimal string) and the
-- position of its first revocation, or nil when v does not parse.
local function parse(v)
  local c = string.find(v, ':', 1, true)
  if not c or c == 1 or c > 20 or (#v - c) % 22 ~= 0 then return nil end
  local e = string.sub(v, 1, c - 1)
  if not string.find(e, '^%d+$') or (c > 2 and string.byte(e, 1) == 48) then return nil end
  return e, c + 1
end
-- live returns v without its ended revocations (v itself if none ended,
-- or if v does not parse: it is left alone), or false when nothing is
-- left (epoch 0 and no live revocation); and the number dropped.
local function live(v)
  local e, p = parse(v)
  if not e then return v, 0 end
  local keep, dropped = {}, 0
  for i = p, #v, 22 do
    if getend(v, i + 16) > now then
      keep[#keep + 1] = string.sub(v, i, i + 21)
    else
      dropped = dropped + 1
    end
  end
  if e == '0' and #keep == 0 then return false, dropped end
  if dropped == 0 then return v, 0 end
  return e .. ':' .. table.concat(keep), dropped
end
-- prune drops the ended revocations of every user of the bucket, and the
-- users left with nothing. Returns the number of revocations dropped.
local function prune()
  local all = redis.call('HGETALL', KEYS[1])
  local n = 0
  for i = 1, #all, 2 do
    local w, d = live(all[i + 1])
    if not w then
      redis.call('HDEL', KEYS[1], all[i])
    elseif w ~= all[i + 1] then
      redis.call('HSET', KEYS[1], all[i], w)
    end
    n = n + d
  end
  return n
end
-- incr returns the decimal string e plus one, or nil past 2^63-1.
local function incr(e)
  local d = {string.byte(e, 1, -1)}
  local i = #d
  while i >= 1 and d[i] == 57 do
    d[i] = 48
    i = i - 1
  end
  local r
  if i == 0 then
    r = '1' .. string.char(unpack(d))
  else
    d[i] = d[i] + 1
    r = string.char(unpack(d))
  end
  if #r > 19 or (#r == 19 and r > '9223372036854775807') then return nil end
  return r
end
`

// sweepScript prunes one bucket (KEYS[1]). Returns the number of
// revocations dropped.
var sweepScript = redis.NewScript(bucketPrelude + `
return prune()`)

// metaKey is the key holding the bucket count, in the {v} slot.
func (s *Store) metaKey() string { return s.opts.Prefix + "{v}:buckets" }

// Meta check states.
const (
	metaUnknown int32 = iota
	metaOK
	metaMismatch
)

// ensureMeta makes sure the bucket count in Redis is Options.Buckets
// before the store touches a bucket: one SET NX GET the first time (the
// subscriber's resync usually did it already), an atomic load after.
func (s *Store) ensureMeta(ctx context.Context) error {
	switch s.metaState.Load() {
	case metaOK:
		return nil
	case metaMismatch:
		return *s.metaErr.Load()
	}
	return s.checkMeta(ctx, nil)
}

// checkMeta compares the bucket count read from Redis (got; nil when it
// was not read or the key is missing: it is then set if absent and read)
// with Options.Buckets. A different count makes the store refuse every
// call from then on.
func (s *Store) checkMeta(ctx context.Context, got any) error {
	if p := s.metaErr.Load(); p != nil {
		return *p // refused for good: never store our count
	}
	want := strconv.Itoa(s.opts.Buckets)
	if got == nil {
		v, err := s.client.SetArgs(ctx, s.metaKey(), want, redis.SetArgs{Mode: "NX", Get: true}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			got = want // it was absent: set now
		case err != nil:
			return err
		default:
			got = v
		}
	}
	if got == want {
		s.metaState.CompareAndSwap(metaUnknown, metaOK)
		return nil
	}
	err := fmt.Errorf("%w: Redis holds %v (key %s), Options.Buckets is %s", ErrBucketsMismatch, got, s.metaKey(), want)
	if s.metaErr.CompareAndSwap(nil, &err) {
		s.metaState.Store(metaMismatch)
		close(s.refused)
	}
	return *s.metaErr.Load()
}

// sweepKey is the key of the shared sweep's state, in the {v} slot.
func (s *Store) sweepKey() string { return s.opts.Prefix + "{v}:sweep" }

// The shared sweep. The instances share one pass over the buckets per
// SweepPeriod: the pass is a schedule in Redis time, kept in the hash
// sweepKey (fields start: the pass's start, unix ms of Redis TIME; next:
// the first bucket not yet handed out; pass: passes started; claimed:
// buckets handed out, ever). Bucket j's slot is start + j*period/n. Each
// participating instance runs claimScript once a tick; it hands out the
// buckets whose slot has come and that nobody claimed yet (at most a
// burst), and the instance prunes them with sweepScript, one script per
// bucket (on a Cluster the state and the buckets are in different slots).
// A pass whose buckets are all handed out is followed by the next one at
// start + period; after a stall of more than a period the next pass
// starts at the claim that finds the pass complete.
//
// KEYS: sweepKey. ARGV: n (Buckets), period (ms), burst (at most this
// many buckets are handed out). Returns {from, to, pass}: the buckets
// from..to-1 are the caller's to prune (none when from == to).
var claimScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n, period, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[1], 'start', 'next', 'pass')
local start, nxt, pass = tonumber(st[1]), tonumber(st[2]), tonumber(st[3]) or 0
if not start or not nxt or nxt < 0 or nxt > n or nxt ~= math.floor(nxt) then
  -- no pass yet (or a state this package did not write): start one now
  start, nxt, pass = now, 0, pass + 1
  redis.call('HSET', KEYS[1], 'start', start, 'next', 0, 'pass', pass)
elseif now < start then
  -- Redis's clock went back past the pass's start: keep the pass where it
  -- is, as if it had started that much earlier
  start = now - math.floor(nxt * period / n)
  redis.call('HSET', KEYS[1], 'start', start)
end
if nxt >= n then
  if now < start + period then return {nxt, nxt, pass} end
  if now < start + 2 * period then start = start + period else start = now end
  nxt, pass = 0, pass + 1
  redis.call('HSET', KEYS[1], 'start', start, 'next', 0, 'pass', pass)
end
-- buckets 0..due-1 have their slot at or before now
local due = math.min(n, math.floor((now - start) * n / period) + 1)
local to = math.min(due, nxt + burst)
if to <= nxt then return {nxt, nxt, pass} end
redis.call('HSET', KEYS[1], 'next', to)
redis.call('HINCRBY', KEYS[1], 'claimed', to - nxt)
return {nxt, to, pass}`)

// minSweepBurst is the least number of buckets a claim may hand out when
// the sweep is behind (after no instance ran, Redis was unreachable, or
// its clock jumped): it catches up at twice its pace, or this many buckets
// a tick, and more with several instances.
const minSweepBurst = 64

// sweepTick is the sweeper's tick: a tenth of the period, within
// 100ms..1s (1s from a 10s period up: each instance runs one claim a
// second, which hands out about Buckets/SweepPeriod buckets in all).
func sweepTick(period time.Duration) time.Duration {
	return min(max(period/10, 100*time.Millisecond), time.Second)
}

// sweeper takes part in the shared sweep (see claimScript): once a tick,
// measured with Options.Now (a real ticker wakes it, and it claims when
// Options.Now has moved by half a tick since its last claim), it claims
// the buckets that are due and prunes them, one script per bucket. Its
// first tick is at a random phase, so that instances started together
// do not claim in step. Buckets it claimed and could not prune (Redis
// failed) are retried at its next real tick, before it claims more; those
// it holds when it is closed (or crashes) are pruned by the next pass.
func (s *Store) sweeper(ctx context.Context) {
	n := s.opts.Buckets
	period := s.opts.SweepPeriod
	tick := sweepTick(period)
	burst := max(2*int(math.Ceil(float64(n)*float64(tick)/float64(period))), minSweepBurst)
	args := []any{n, period.Milliseconds(), burst}
	keys := []string{s.sweepKey()}
	phase := time.NewTimer(rand.N(tick))
	select {
	case <-ctx.Done():
		phase.Stop()
		return
	case <-phase.C:
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	last := s.opts.Now()
	var from, to int // claimed, not yet pruned
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if from == to {
			now := s.opts.Now()
			if now.Sub(last) < tick/2 {
				continue
			}
			last = now
			if s.ensureMeta(ctx) != nil {
				continue
			}
			r, err := claimScript.Run(ctx, s.client, keys, args...).Int64Slice()
			if err != nil || len(r) < 2 || r[0] < 0 || r[1] > int64(n) || r[0] > r[1] {
				continue // retried at the next tick
			}
			from, to = int(r[0]), int(r[1])
			s.sweepClaims.Add(1)
		}
		for ; from < to && ctx.Err() == nil; from++ {
			dropped, err := sweepScript.Run(ctx, s.client, []string{s.bucketName(from)}).Int64()
			if err != nil {
				break // retried at the next tick
			}
			s.sweptBuckets.Add(1)
			s.sweptRevs.Add(dropped)
		}
	}
}

// sweepStats are the counters of the sweep.
type sweepStats struct {
	sweptBuckets, sweptRevs atomic.Int64
	sweepClaims             atomic.Int64 // claims answered (tests)
}
