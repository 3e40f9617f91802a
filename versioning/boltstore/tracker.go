package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/tracklist"
)

var _ versioning.SessionTracker = (*Store)(nil)

var bucketSessions = []byte("sessions")

// live returns a copy of list without the entries expired at now (the
// mirror's own list is never changed in place: a write may still fail).
func live(list []versioning.SessionInfo, now time.Time) []versioning.SessionInfo {
	return tracklist.Live(slices.Clone(list), now)
}

// putSessions writes userID's list (or deletes the key for an empty one).
func putSessions(tx *bolt.Tx, userID string, list []versioning.SessionInfo) error {
	b := tx.Bucket(bucketSessions)
	k := userKey(userID)
	if len(list) == 0 {
		return b.Delete(k)
	}
	v, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

func loadSessions(tx *bolt.Tx, now time.Time, into map[string][]versioning.SessionInfo) error {
	b := tx.Bucket(bucketSessions)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		if len(k) == 0 || k[0] != 'u' {
			return fmt.Errorf("malformed session list key")
		}
		var list []versioning.SessionInfo
		if err := json.Unmarshal(v, &list); err != nil {
			return fmt.Errorf("malformed session list: %w", err)
		}
		if list = live(list, now); len(list) > 0 {
			into[string(k[1:])] = list
		}
		return nil
	})
}

// AddSession records a new live session of userID in the file (synced)
// and in memory, enforcing limit atomically within this process, which is
// the only one that can open the file. See versioning.SessionTracker. An
// info whose Expires is not after now records nothing; re-adding a
// tracked ID replaces its entry.
func (s *Store) AddSession(ctx context.Context, userID string, info versioning.SessionInfo, limit int, evictOldest bool) ([]versioning.SessionInfo, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(info.Expires) {
		return nil, nil
	}
	info = tracklist.ClipClient(info)
	// The list is computed under wmu (no other writer can change it) and
	// committed before the mirror changes.
	var (
		list    []versioning.SessionInfo
		evicted []versioning.SessionInfo
		refused bool
	)
	err := s.write(ctx, "add session", func(tx *bolt.Tx) error {
		s.mu.RLock()
		list = live(s.sessions[userID], now)
		s.mu.RUnlock()
		list, evicted, refused = tracklist.Add(list, info, limit, evictOldest)
		if refused {
			return nil
		}
		return putSessions(tx, userID, list)
	}, func() {
		if !refused {
			s.setSessionsLocked(userID, list)
		}
	})
	if err != nil {
		return nil, err
	}
	if refused {
		return nil, versioning.ErrTooManySessions
	}
	return evicted, nil
}

// setSessionsLocked replaces userID's list in the mirror.
func (s *Store) setSessionsLocked(userID string, list []versioning.SessionInfo) {
	if len(list) == 0 {
		delete(s.sessions, userID)
		delete(s.touched, userID)
		return
	}
	s.sessions[userID] = list
}

// TouchSession sets the LastSeen of a tracked session in memory only: it
// is display information, written to the file with the user's next
// durable change or at Close (so a renewal costs no disk sync). An
// unknown session is ignored.
func (s *Store) TouchSession(ctx context.Context, userID string, id codec.SessionID, lastSeen time.Time) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.sessions[userID]
	if i := slices.IndexFunc(list, func(si versioning.SessionInfo) bool { return si.ID == id }); i >= 0 {
		list = slices.Clone(list) // the old slice may be in use by a reader's copy
		list[i].LastSeen = lastSeen
		s.sessions[userID] = list
		s.touched[userID] = true
	}
	return nil
}

// RemoveSession forgets one session of userID, in the file (synced) and in
// memory; an unknown one is ignored.
func (s *Store) RemoveSession(ctx context.Context, userID string, id codec.SessionID) error {
	s.mu.RLock()
	known := slices.ContainsFunc(s.sessions[userID], func(si versioning.SessionInfo) bool { return si.ID == id })
	s.mu.RUnlock()
	if !known {
		return s.ready(ctx)
	}
	var list []versioning.SessionInfo
	return s.write(ctx, "remove session", func(tx *bolt.Tx) error {
		s.mu.RLock()
		list = slices.DeleteFunc(slices.Clone(s.sessions[userID]), func(si versioning.SessionInfo) bool { return si.ID == id })
		s.mu.RUnlock()
		return putSessions(tx, userID, list)
	}, func() { s.setSessionsLocked(userID, list) })
}

// Sessions returns userID's live sessions from memory, oldest first (a new
// slice).
func (s *Store) Sessions(ctx context.Context, userID string) ([]versioning.SessionInfo, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	out := live(s.sessions[userID], now)
	s.mu.RUnlock()
	if out == nil {
		out = []versioning.SessionInfo{}
	}
	slices.SortStableFunc(out, tracklist.ByCreated)
	return out, nil
}

// flushTouched writes the lists whose LastSeen changed in memory only.
// Called with wmu held.
func (s *Store) flushTouchedLocked() error {
	s.mu.Lock()
	lists := make(map[string][]versioning.SessionInfo, len(s.touched))
	for u := range s.touched {
		lists[u] = s.sessions[u]
	}
	clear(s.touched)
	s.mu.Unlock()
	if len(lists) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for u, l := range lists {
			if err := putSessions(tx, u, l); err != nil {
				return err
			}
		}
		return nil
	})
}
