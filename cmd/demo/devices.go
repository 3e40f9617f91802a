package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
)

// device is one live session of a user as the pages show it.
type device struct {
	Tag      string // short non-reversible tag: what the user's own page sends back
	ID       string // the 32-hex session ID: only rendered on the admin page
	Created  time.Time
	LastSeen time.Time
	Client   string
	Network  string
	Current  bool // the session of the request showing the page
}

// userSessions is one demo user's sessions on the admin page.
type userSessions struct {
	User     string
	Sessions []device
}

// devices lists user's live sessions (httpx.Manager.Sessions), oldest
// first, marking the one of the session s.
func (a *app) devices(r *http.Request, user string, s *httpx.Session) ([]device, error) {
	list, err := a.m.Sessions(r.Context(), user)
	if err != nil {
		return nil, err
	}
	out := make([]device, 0, len(list))
	for _, si := range list {
		out = append(out, device{
			Tag: si.ID.Tag(), ID: si.ID.String(), Created: si.Created, LastSeen: si.LastSeen,
			Client: si.Client, Network: si.Network, Current: si.ID == s.ID(),
		})
	}
	return out, nil
}

// deviceLogout is "log out that device" on the home page: the user names
// one of their own sessions by its tag (never by its ID, which the page
// does not show). The current session is simply logged out.
func (a *app) deviceLogout(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !s.Authenticated() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	tag := r.PostFormValue("tag")
	list, err := a.m.Sessions(r.Context(), s.UserID())
	if err != nil {
		a.log.ErrorContext(r.Context(), "list sessions", "user", s.UserID(), "err", err)
		http.Error(w, "the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	var target codec.SessionID
	matches := 0
	for _, si := range list {
		if si.ID.Tag() == tag {
			target = si.ID
			matches++
		}
	}
	if matches != 1 {
		// Unknown (already ended) or, with 32-bit tags, ambiguous.
		http.Error(w, "no such device among your sessions", http.StatusBadRequest)
		return
	}
	if target == s.ID() {
		a.logout(w, r)
		return
	}
	if err := a.m.RevokeSession(r.Context(), s.UserID(), target); err != nil {
		a.log.ErrorContext(r.Context(), "log out device", "user", s.UserID(), "session", tag, "err", err)
		http.Error(w, "could not log out that device: the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	a.log.InfoContext(r.Context(), "device logged out", "user", s.UserID(), "session", tag)
	s.AddFlash("The device with session " + tag + " is logged out.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// adminRevokeSession ends one session of any demo user, named by its
// 32-hex ID (shown only on the admin page).
func (a *app) adminRevokeSession(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !a.requireAdmin(w, r, s) {
		return
	}
	target := r.PostFormValue("user")
	if _, known := a.users.hashes[target]; !known {
		http.Error(w, "unknown user", http.StatusBadRequest)
		return
	}
	id, err := codec.ParseSessionID(r.PostFormValue("id"))
	if err != nil {
		http.Error(w, "bad session ID", http.StatusBadRequest)
		return
	}
	if id == s.ID() {
		http.Error(w, "this is your own current session: use \"Log out\"", http.StatusBadRequest)
		return
	}
	if err := a.m.RevokeSession(r.Context(), target, id); err != nil {
		a.log.ErrorContext(r.Context(), "revoke session", "user", target, "session", id.Tag(), "err", err)
		status := http.StatusServiceUnavailable
		if errors.Is(err, httpx.ErrNoTracking) {
			status = http.StatusInternalServerError
		}
		http.Error(w, "could not revoke the session", status)
		return
	}
	a.log.InfoContext(r.Context(), "session revoked", "user", target, "session", id.Tag(), "by", s.UserID())
	s.AddFlash("Session " + id.Tag() + " of " + target + " has ended.")
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}
