package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/tracklist"
)

// Session tracking (versioning.SessionTracker) keeps three keys per user,
// in that user's Cluster slot (hash tag {<userID>}) like the user's epoch
// and revocations:
//
//	Pu{<userID>}:tc   sorted set: member <hex ID>, score = Created (unix ms): the order, for listing and eviction
//	Pu{<userID>}:tx   sorted set: member <hex ID>, score = Expires (unix ms): pruning
//	Pu{<userID>}:th   hash: field <hex ID>, value = the entry (see encodeEntry)
//
// Every access prunes the entries whose Expires is not after now (the
// store's clock, Options.Now), and every write sets the three keys to
// expire (PEXPIRE) with the user's latest entry, so an idle user's keys
// disappear by themselves. Writes are Lua scripts, so AddSession's prune,
// count, eviction or refusal and insertion are one atomic step for every
// instance sharing the Redis. Tracking publishes nothing: no instance
// caches it, every call reads Redis.

var _ versioning.SessionTracker = (*Store)(nil)

// maxClient is the longest SessionInfo.Client kept, in bytes.
const maxClient = tracklist.MaxClient

// trackPrelude defines the helpers every tracker script uses. KEYS are
// always tc, tx, th of one user; ARGV[1] is now in unix ms.
const trackPrelude = `
local now = tonumber(ARGV[1])
local function prune()
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for _, d in ipairs(dead) do
    redis.call('ZREM', KEYS[1], d)
    redis.call('HDEL', KEYS[3], d)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
end
local function settle()
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return
  end
  local ttl = math.max(1, tonumber(last[2]) - now)
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
`

var (
	// ARGV: now, hex ID, created ms, expires ms, entry, limit, evict (0|1).
	// Returns {1, id1, entry1, id2, entry2, ...} (added, with the evicted
	// entries) or {0} (refused, nothing but pruning changed).
	addSessionScript = redis.NewScript(trackPrelude + `
prune()
local id = ARGV[2]
local limit = tonumber(ARGV[6])
local out = {1}
if not redis.call('ZSCORE', KEYS[2], id) and limit > 0 then
  local n = redis.call('ZCARD', KEYS[2])
  if n >= limit then
    if ARGV[7] ~= '1' then
      settle()
      return {0}
    end
    local old = redis.call('ZRANGE', KEYS[1], 0, n - limit)
    for _, o in ipairs(old) do
      table.insert(out, o)
      table.insert(out, redis.call('HGET', KEYS[3], o) or '')
      redis.call('ZREM', KEYS[1], o)
      redis.call('ZREM', KEYS[2], o)
      redis.call('HDEL', KEYS[3], o)
    end
  end
end
redis.call('ZADD', KEYS[1], ARGV[3], id)
redis.call('ZADD', KEYS[2], ARGV[4], id)
redis.call('HSET', KEYS[3], id, ARGV[5])
settle()
return out`)

	// ARGV: now, hex ID, last seen ms. The entry starts with its last
	// seen time, up to the first space.
	touchSessionScript = redis.NewScript(trackPrelude + `
prune()
local e = redis.call('HGET', KEYS[3], ARGV[2])
if not e then return 0 end
local sp = string.find(e, ' ', 1, true)
if not sp then return 0 end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3] .. string.sub(e, sp))
return 1`)

	// ARGV: now, hex ID.
	removeSessionScript = redis.NewScript(trackPrelude + `
prune()
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
settle()
return 1`)

	// ARGV: now. Returns {id1, entry1, ...} oldest first.
	sessionsScript = redis.NewScript(trackPrelude + `
prune()
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[3], id) or '')
end
return out`)
)

// errBadEntry is the cause when a tracked entry in Redis does not parse.
var errBadEntry = errors.New("malformed session entry")

// trackKeys returns the user's three tracker keys (tc, tx, th).
func (s *Store) trackKeys(userID string) []string {
	tag := s.userTag(userID)
	return []string{tag + ":tc", tag + ":tx", tag + ":th"}
}

// encodeEntry is the stored form of an entry, ASCII up to the line feed:
//
//	<last seen ms> SP <created ms> SP <expires ms> SP <epoch> SP <network> LF <client>
//
// The last seen time comes first so that TouchSession can replace it
// without parsing the rest.
func encodeEntry(si versioning.SessionInfo) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(si.LastSeen.UnixMilli(), 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(si.Created.UnixMilli(), 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(si.Expires.UnixMilli(), 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(si.Epoch, 10))
	b.WriteByte(' ')
	b.WriteString(si.Network)
	b.WriteByte('\n')
	b.WriteString(si.Client)
	return b.String()
}

// decodeEntry parses the stored form of the entry of hexID.
func decodeEntry(hexID, e string) (versioning.SessionInfo, error) {
	var si versioning.SessionInfo
	if len(hexID) != 2*len(si.ID) {
		return si, errBadEntry
	}
	if _, err := hex.Decode(si.ID[:], []byte(hexID)); err != nil {
		return si, errBadEntry
	}
	head, client, ok := strings.Cut(e, "\n")
	if !ok {
		return si, errBadEntry
	}
	f := strings.SplitN(head, " ", 5)
	if len(f) != 5 {
		return si, errBadEntry
	}
	var ms [3]int64
	for i := range ms {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return si, errBadEntry
		}
		ms[i] = n
	}
	si.LastSeen = time.UnixMilli(ms[0])
	si.Created = time.UnixMilli(ms[1])
	si.Expires = time.UnixMilli(ms[2])
	epoch, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return si, errBadEntry
	}
	si.Epoch = epoch
	si.Network = f[4]
	si.Client = client
	return si, nil
}

// decodeEntries parses a script's {id, entry, ...} reply.
func decodeEntries(vals []any) ([]versioning.SessionInfo, error) {
	if len(vals)%2 != 0 {
		return nil, errBadEntry
	}
	out := make([]versioning.SessionInfo, 0, len(vals)/2)
	for i := 0; i < len(vals); i += 2 {
		id, ok1 := vals[i].(string)
		e, ok2 := vals[i+1].(string)
		if !ok1 || !ok2 {
			return nil, errBadEntry
		}
		si, err := decodeEntry(id, e)
		if err != nil {
			return nil, err
		}
		out = append(out, si)
	}
	return out, nil
}

// checkTrackUser refuses user IDs the store cannot key (as BumpEpoch does).
func checkTrackUser(op, userID string) error {
	if userID == "" || len(userID) > maxUserIDLen {
		return fmt.Errorf("redisstore: %s: user ID must be 1..%d bytes", op, maxUserIDLen)
	}
	return nil
}

func nowArg(now time.Time) string { return strconv.FormatInt(now.UnixMilli(), 10) }

// AddSession implements versioning.SessionTracker with one Lua script:
// prune the user's expired entries, count, then evict the oldest (by
// Created) or refuse, and add, atomically for every instance sharing the
// Redis. An info whose Expires is not after now (Options.Now) records
// nothing; re-adding a tracked ID replaces its entry without counting it
// again. Client is cut to 128 bytes; a Network containing a space or a
// line feed (never a valid prefix) is refused.
//
// With Options.MinReplicas the script is followed by WAIT like every
// write. When too few replicas confirm, the error matches
// ErrNotReplicated and versioning.ErrStoreUnavailable, the new entry is
// removed again (best effort, so a failed login holds no slot), and the
// evicted entries, already removed on the master, are still returned
// alongside the error so the caller can revoke them.
func (s *Store) AddSession(ctx context.Context, userID string, info versioning.SessionInfo, limit int, evictOldest bool) ([]versioning.SessionInfo, error) {
	if err := s.check(ctx, "add session"); err != nil {
		return nil, err
	}
	if err := checkTrackUser("add session", userID); err != nil {
		return nil, err
	}
	if strings.ContainsAny(info.Network, " \n") {
		return nil, fmt.Errorf("redisstore: add session: network %q is not a prefix", info.Network)
	}
	now := s.opts.Now()
	if info.Expires.UnixMilli() <= now.UnixMilli() {
		return nil, nil
	}
	info = tracklist.ClipClient(info)
	evict := "0"
	if evictOldest {
		evict = "1"
	}
	hexID := hex.EncodeToString(info.ID[:])
	keys := s.trackKeys(userID)
	reply, werr := s.write(ctx, addSessionScript, keys, nowArg(now), hexID,
		strconv.FormatInt(info.Created.UnixMilli(), 10), strconv.FormatInt(info.Expires.UnixMilli(), 10),
		encodeEntry(info), strconv.Itoa(max(limit, 0)), evict)
	if reply == nil {
		return nil, unavailable("add session", werr)
	}
	vals, err := reply.Slice()
	if err == nil && len(vals) == 0 {
		err = errBadEntry
	}
	if err != nil {
		return nil, unavailable("add session", err)
	}
	if status, _ := vals[0].(int64); status == 0 {
		return nil, versioning.ErrTooManySessions
	}
	evicted, err := decodeEntries(vals[1:])
	if err != nil {
		return nil, unavailable("add session", err)
	}
	if len(evicted) == 0 {
		evicted = nil
	}
	if werr != nil {
		// Not replicated: take the new entry back so that a login the
		// caller reports as failed holds no slot.
		_ = removeSessionScript.Run(ctx, s.client, keys, nowArg(s.opts.Now()), hexID).Err()
		return evicted, unavailable("add session", werr)
	}
	return evicted, nil
}

// TouchSession implements versioning.SessionTracker: it sets the LastSeen
// of a tracked session (one script, which also prunes). An unknown session
// is ignored. The last-seen time is for display only, so it is never
// waited for (no WAIT with Options.MinReplicas).
func (s *Store) TouchSession(ctx context.Context, userID string, id codec.SessionID, lastSeen time.Time) error {
	if err := s.check(ctx, "touch session"); err != nil {
		return err
	}
	if checkTrackUser("touch session", userID) != nil {
		return nil // never tracked
	}
	err := touchSessionScript.Run(ctx, s.client, s.trackKeys(userID), nowArg(s.opts.Now()),
		hex.EncodeToString(id[:]), strconv.FormatInt(lastSeen.UnixMilli(), 10)).Err()
	if err != nil {
		return unavailable("touch session", err)
	}
	return nil
}

// RemoveSession implements versioning.SessionTracker: it forgets one
// session of userID (an unknown one is ignored). With Options.MinReplicas
// it waits for the replicas like every write.
func (s *Store) RemoveSession(ctx context.Context, userID string, id codec.SessionID) error {
	if err := s.check(ctx, "remove session"); err != nil {
		return err
	}
	if checkTrackUser("remove session", userID) != nil {
		return nil // never tracked
	}
	reply, werr := s.write(ctx, removeSessionScript, s.trackKeys(userID), nowArg(s.opts.Now()), hex.EncodeToString(id[:]))
	if reply == nil || werr != nil {
		return unavailable("remove session", werr)
	}
	return nil
}

// Sessions implements versioning.SessionTracker: userID's live sessions,
// oldest first, read from Redis (one script, which also prunes the
// user's expired entries). A user with none gives an empty slice.
func (s *Store) Sessions(ctx context.Context, userID string) ([]versioning.SessionInfo, error) {
	if err := s.check(ctx, "sessions"); err != nil {
		return nil, err
	}
	if checkTrackUser("sessions", userID) != nil {
		return []versioning.SessionInfo{}, nil
	}
	now := s.opts.Now()
	vals, err := sessionsScript.Run(ctx, s.client, s.trackKeys(userID), nowArg(now)).Slice()
	if err != nil {
		return nil, unavailable("sessions", err)
	}
	list, err := decodeEntries(vals)
	if err != nil {
		return nil, unavailable("sessions", err)
	}
	return list, nil
}
