package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

var _ versioning.SessionTracker = (*Store)(nil)

// maxClient is the longest SessionInfo.Client kept, in bytes.
const maxClient = 128

// live returns the entries of list that have not expired at now, in
// place.
func live(list []versioning.SessionInfo, now time.Time) []versioning.SessionInfo {
	return slices.DeleteFunc(list, func(si versioning.SessionInfo) bool { return !now.Before(si.Expires) })
}

func byCreated(a, b versioning.SessionInfo) int { return a.Created.Compare(b.Created) }

// AddSession records a new live session of userID, enforcing limit
// atomically (see versioning.SessionTracker). An info whose Expires is not
// after now records nothing. Re-adding a tracked ID replaces its entry.
func (s *Store) AddSession(ctx context.Context, userID string, info versioning.SessionInfo, limit int, evictOldest bool) ([]versioning.SessionInfo, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(info.Expires) {
		return nil, nil
	}
	if len(info.Client) > maxClient {
		info.Client = strings.ToValidUTF8(info.Client[:maxClient], "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := live(s.sessions[userID], now)
	if i := slices.IndexFunc(list, func(si versioning.SessionInfo) bool { return si.ID == info.ID }); i >= 0 {
		list[i] = info
		s.setSessionsLocked(userID, list)
		return nil, nil
	}
	var evicted []versioning.SessionInfo
	if limit > 0 && len(list) >= limit {
		if !evictOldest {
			s.setSessionsLocked(userID, list)
			return nil, versioning.ErrTooManySessions
		}
		slices.SortStableFunc(list, byCreated)
		n := len(list) - limit + 1
		evicted = slices.Clone(list[:n])
		list = slices.Delete(list, 0, n)
	}
	s.setSessionsLocked(userID, append(list, info))
	if s.nsessions >= s.nextSessionSweep {
		s.sweepSessionsLocked(now)
	}
	return evicted, nil
}

// setSessionsLocked stores list for userID and keeps the entry count.
func (s *Store) setSessionsLocked(userID string, list []versioning.SessionInfo) {
	s.nsessions += len(list) - len(s.sessions[userID])
	if len(list) == 0 {
		delete(s.sessions, userID)
		return
	}
	s.sessions[userID] = list
}

// sweepSessionsLocked drops expired sessions of every user, amortised like
// the revocation sweep.
func (s *Store) sweepSessionsLocked(now time.Time) {
	for user, list := range s.sessions {
		s.setSessionsLocked(user, live(list, now))
	}
	s.nextSessionSweep = max(2*s.nsessions, minSweep)
}

// TouchSession sets the LastSeen of a tracked session; an unknown one is
// ignored.
func (s *Store) TouchSession(ctx context.Context, userID string, id codec.SessionID, lastSeen time.Time) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.sessions[userID] {
		if si := &s.sessions[userID][i]; si.ID == id {
			si.LastSeen = lastSeen
		}
	}
	return nil
}

// RemoveSession forgets one session of userID; an unknown one is ignored.
func (s *Store) RemoveSession(ctx context.Context, userID string, id codec.SessionID) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := slices.DeleteFunc(s.sessions[userID], func(si versioning.SessionInfo) bool { return si.ID == id })
	s.setSessionsLocked(userID, list)
	return nil
}

// Sessions returns userID's live sessions, oldest first (a new slice).
func (s *Store) Sessions(ctx context.Context, userID string) ([]versioning.SessionInfo, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	out := make([]versioning.SessionInfo, 0, len(s.sessions[userID]))
	for _, si := range s.sessions[userID] {
		if now.Before(si.Expires) {
			out = append(out, si)
		}
	}
	s.mu.RUnlock()
	slices.SortStableFunc(out, byCreated)
	return out, nil
}
