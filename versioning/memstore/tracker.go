package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/tracklist"
)

var _ versioning.SessionTracker = (*Store)(nil)

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
	info = tracklist.ClipClient(info)
	s.mu.Lock()
	list, evicted, refused := tracklist.Add(tracklist.Live(s.sessions[userID], now), info, limit, evictOldest)
	s.setSessionsLocked(userID, list)
	// Between timer sweeps, a sweep also runs when the entries have
	// doubled (amortised O(1) per add), a chunk of users at a time.
	sweep := s.nsessions >= s.nextSessionSweep
	if sweep {
		s.nextSessionSweep = max(2*s.nsessions, minSweep)
	}
	s.mu.Unlock()
	if refused {
		return nil, versioning.ErrTooManySessions
	}
	if sweep {
		s.sweepSessions(now)
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
	s.sessionsPeak = max(s.sessionsPeak, len(s.sessions))
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
	slices.SortStableFunc(out, tracklist.ByCreated)
	return out, nil
}
