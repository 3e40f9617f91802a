package httpx

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// SessionLimitAction says what Login does when a user already has
// Tracking.MaxPerUser live sessions.
type SessionLimitAction uint8

const (
	// EvictOldest revokes the user's oldest sessions to make room. Default.
	EvictOldest SessionLimitAction = iota
	// RefuseNewLogin makes Login fail with an error matching
	// versioning.ErrTooManySessions.
	RefuseNewLogin
)

// Location is a place on Earth, as an application's own IP-to-location
// lookup (Tracking.Locate) returns it.
type Location struct {
	Latitude, Longitude float64
}

// distanceKm is the great-circle distance between two locations.
func distanceKm(a, b Location) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (b.Latitude - a.Latitude) * rad
	dlon := (b.Longitude - a.Longitude) * rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(a.Latitude*rad)*math.Cos(b.Latitude*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// seenKey holds, in a tracked session, when the tracker last heard of it
// (Unix milliseconds). The tracker's LastSeen is moved on use, at most
// once per renew threshold: never per request, never left behind by more
// than the threshold, so a live session is never pruned as idle.
var seenKey = codec.NewReservedKey[int64]("_seen")

// markSeen records that the tracker's LastSeen of the session is now.
func (m *Manager) markSeen(s *Session) {
	if m.tracker != nil {
		_ = seenKey.Set(s.payload(), s.now.UnixMilli())
	}
}

// touch moves the tracker's LastSeen of a logged-in session being sealed,
// when the last move is older than the renew threshold. A failed touch is
// retried on the next seal.
func (m *Manager) touch(s *Session) {
	h := s.p.Header()
	if m.tracker == nil || h.UserID == "" {
		return
	}
	seen, ok := seenKey.Get(s.p)
	if ok && s.now.Sub(time.UnixMilli(seen)) < m.checker.Policy().RenewThreshold {
		return
	}
	if m.tracker.TouchSession(s.ctx(), h.UserID, h.ID, s.now) == nil {
		m.markSeen(s)
	}
}

// track records a login with the store's SessionTracker, enforcing the
// concurrent-session limit, and reports simultaneous use from distant
// networks. It runs before the session is changed, so a refused login
// leaves it as it was.
func (m *Manager) track(s *Session, userID string, id codec.SessionID, epoch uint64) error {
	if m.tracker == nil {
		return nil
	}
	tc := m.cfg.Tracking
	info, netp, haveNet := m.sessionInfo(s, id, s.now)
	info.Epoch = epoch
	others, err := m.tracker.Sessions(s.ctx(), userID)
	if err != nil {
		return fmt.Errorf("httpx: login: list sessions: %w", err)
	}
	p := m.checker.Policy()
	// The tracker's LastSeen trails the session's by at most the renew
	// threshold (see touch): only past that margin is a session idle.
	idle := p.IdleTimeout + p.RenewThreshold
	reported := false
	for _, o := range others {
		// A session that idled out, or that a ForceLogout or LogoutAll
		// (an epoch bump, also from sealctl) ended, is dead even though
		// its entry lives until its absolute deadline: it must not hold a
		// slot.
		if !o.LastSeen.Add(idle).After(s.now) || o.Epoch < epoch {
			if err := m.tracker.RemoveSession(s.ctx(), userID, o.ID); err != nil {
				return fmt.Errorf("httpx: login: forget idle session: %w", err)
			}
			continue
		}
		if reported || !haveNet || o.Network == "" || o.Network == info.Network || s.now.Sub(o.LastSeen) > tc.SimultaneousWindow {
			continue
		}
		if m.distant(o.Network, netp) {
			m.emit(s, Event{Kind: EventAnomaly, Reason: fmt.Errorf("%w: %s and %s", ErrSimultaneousUse, o.Network, info.Network), SessionTag: o.ID.Tag(), UserID: userID})
			reported = true
		}
	}
	evicted, err := m.tracker.AddSession(s.ctx(), userID, info, tc.MaxPerUser, tc.OnLimit == EvictOldest)
	// Sessions the store evicted are revoked even if the add itself then
	// failed (a store may evict and still report an error, e.g. a write
	// not replicated in time): an evicted session must not stay usable.
	for _, e := range evicted {
		if rerr := m.revokeID(s.ctx(), userID, e.ID, m.trackedRevocationDeadline(e, s.now)); rerr != nil {
			return fmt.Errorf("httpx: login: revoke evicted session: %w", rerr)
		}
		m.emit(s, Event{Kind: EventDestroyed, SessionTag: e.ID.Tag(), UserID: userID})
	}
	if err != nil {
		return fmt.Errorf("httpx: login: %w", err)
	}
	return nil
}

// sessionInfo describes session id of the request's client for the
// tracker: created at created, seen now, ending at its absolute deadline.
// It also returns the client's network prefix, if known.
func (m *Manager) sessionInfo(s *Session, id codec.SessionID, created time.Time) (versioning.SessionInfo, netip.Prefix, bool) {
	info := versioning.SessionInfo{
		ID:       id,
		Created:  created,
		LastSeen: s.now,
		Expires:  created.Add(m.checker.Policy().AbsoluteTimeout),
		Client:   describeClient(s.req),
	}
	netp, ok := m.clientNet(s.req)
	if ok {
		info.Network = netp.String()
	}
	return info, netp, ok
}

// distant reports whether two networks are far apart: by the
// application's Locate hook when it has one, otherwise simply different.
func (m *Manager) distant(a string, b netip.Prefix) bool {
	tc := m.cfg.Tracking
	if tc.Locate == nil {
		return true
	}
	pa, err := netip.ParsePrefix(a)
	if err != nil {
		return true
	}
	la, ok1 := tc.Locate(pa)
	lb, ok2 := tc.Locate(b)
	if !ok1 || !ok2 {
		return true
	}
	return distanceKm(la, lb) >= tc.DistantKm
}

func (m *Manager) untrack(ctx context.Context, userID string, id codec.SessionID) {
	if m.tracker == nil || userID == "" || id.IsZero() {
		return
	}
	_ = m.tracker.RemoveSession(ctx, userID, id)
}

// describeClient is a coarse, display-only description of the client: its
// User-Agent, cut to 120 bytes.
func describeClient(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 120 {
		ua = ua[:120]
	}
	return ua
}

// Sessions lists userID's live sessions, oldest first. Sessions that an
// epoch bump (ForceLogout, LogoutAll, sealctl bump) ended are left out
// (and forgotten). It needs Config.Tracking.
func (m *Manager) Sessions(ctx context.Context, userID string) ([]versioning.SessionInfo, error) {
	if m.tracker == nil {
		return nil, fmt.Errorf("httpx: Sessions: %w (set Config.Tracking with a store that tracks sessions)", ErrNoTracking)
	}
	list, err := m.tracker.Sessions(ctx, userID)
	if err != nil || len(list) == 0 {
		return list, err
	}
	epoch, err := m.store.Epoch(ctx, userID)
	if err != nil {
		return nil, err
	}
	live := list[:0]
	for _, si := range list {
		if si.Epoch < epoch {
			m.untrack(ctx, userID, si.ID)
			continue
		}
		live = append(live, si)
	}
	return live, nil
}

// RevokeSession logs out one session of userID ("log out that device"):
// the ID is revoked until any copy of it would have expired, and
// forgotten by the tracker. The ID must be one of the user's live tracked
// sessions (as Sessions lists them); otherwise the error matches
// ErrUnknownSession and nothing changes, so one user's admin page cannot
// end another user's session.
func (m *Manager) RevokeSession(ctx context.Context, userID string, id codec.SessionID) error {
	if m.tracker == nil {
		return fmt.Errorf("httpx: RevokeSession: %w", ErrNoTracking)
	}
	sessions, err := m.tracker.Sessions(ctx, userID)
	if err != nil {
		return err
	}
	for _, si := range sessions {
		if si.ID == id {
			if err := m.revokeID(ctx, userID, id, m.trackedRevocationDeadline(si, m.now())); err != nil {
				return err
			}
			return m.tracker.RemoveSession(ctx, userID, id)
		}
	}
	return fmt.Errorf("httpx: RevokeSession: %w", ErrUnknownSession)
}
