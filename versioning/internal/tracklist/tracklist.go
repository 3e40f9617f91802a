// Package tracklist holds the rules for one user's list of tracked
// sessions that every versioning.SessionTracker implementation applies:
// expiry, order, the client-description bound and the concurrent-session
// limit. memstore and boltstore apply them to in-memory lists; redisstore
// does the same in a Lua script and shares only the client bound.
package tracklist

import (
	"slices"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/versioning"
)

// MaxClient is the longest SessionInfo.Client kept, in bytes.
const MaxClient = 128

// ClipClient returns info with its Client cut to MaxClient bytes (at a
// valid UTF-8 boundary).
func ClipClient(info versioning.SessionInfo) versioning.SessionInfo {
	if len(info.Client) > MaxClient {
		info.Client = strings.ToValidUTF8(info.Client[:MaxClient], "")
	}
	return info
}

// Live returns the entries of list that have not expired at now, in place.
func Live(list []versioning.SessionInfo, now time.Time) []versioning.SessionInfo {
	return slices.DeleteFunc(list, func(si versioning.SessionInfo) bool { return !now.Before(si.Expires) })
}

// ByCreated orders sessions oldest first.
func ByCreated(a, b versioning.SessionInfo) int { return a.Created.Compare(b.Created) }

// Add applies SessionTracker.AddSession to a user's live list (which it
// may reorder and reuse): re-adding a tracked ID replaces its entry;
// otherwise, when limit > 0 and the list is full, the oldest entries are
// evicted to make room, or, without evictOldest, the add is refused and
// the list returned unchanged.
func Add(list []versioning.SessionInfo, info versioning.SessionInfo, limit int, evictOldest bool) (out, evicted []versioning.SessionInfo, refused bool) {
	if i := slices.IndexFunc(list, func(si versioning.SessionInfo) bool { return si.ID == info.ID }); i >= 0 {
		list[i] = info
		return list, nil, false
	}
	if limit > 0 && len(list) >= limit {
		if !evictOldest {
			return list, nil, true
		}
		slices.SortStableFunc(list, ByCreated)
		n := len(list) - limit + 1
		evicted = slices.Clone(list[:n])
		list = slices.Delete(list, 0, n)
	}
	return append(list, info), evicted, false
}
