package redisstore

import (
	"context"
	"errors"
	"fmt"
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
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return u, fmt.Errorf("%w: epoch %q is not decimal", errBadValue, digits)
		}
	}
	if len(digits) > 1 && digits[0] == '0' {
		return u, fmt.Errorf("%w: epoch %q has a leading zero", errBadValue, digits)
	}
	if len(digits) > maxEpochDigits {
		return u, errOutOfRange
	}
	e, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || e > maxCounter {
		return u, errOutOfRange
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

// minSweepBurst is the least number of buckets a tick may sweep when the
// sweep is behind (after Redis was unreachable, or a clock jump): it
// catches up at twice its pace, or this many buckets a tick.
const minSweepBurst = 64

// sweeper walks the buckets with a cursor, one script per bucket, at the
// pace of Options.SweepPeriod per walk, measured with Options.Now. It
// starts at a random bucket, so that instances started together do not
// sweep in step.
func (s *Store) sweeper(ctx context.Context) {
	n := int64(s.opts.Buckets)
	period := s.opts.SweepPeriod
	tick := min(max(period/time.Duration(n), 100*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	burst := max(2*int64(float64(n)*float64(tick)/float64(period)), minSweepBurst)
	cursor := rand.Int64N(n)
	start := s.opts.Now()
	var swept int64 // buckets swept since start
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := int64(float64(s.opts.Now().Sub(start)) / float64(period) * float64(n))
		if due-swept > n {
			swept = due - n // one whole walk covers any backlog
		}
		for k := min(due-swept, burst); k > 0 && ctx.Err() == nil; k-- {
			if s.ensureMeta(ctx) != nil {
				break
			}
			dropped, err := sweepScript.Run(ctx, s.client, []string{s.bucketName(int(cursor))}).Int64()
			if err != nil {
				break // retried at the next tick
			}
			s.sweptBuckets.Add(1)
			s.sweptRevs.Add(dropped)
			cursor = (cursor + 1) % n
			swept++
		}
	}
}

// sweepStats are the counters of the sweep.
type sweepStats struct {
	sweptBuckets, sweptRevs atomic.Int64
}
