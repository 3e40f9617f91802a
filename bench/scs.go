package bench

import (
	"fmt"
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// NewSCS sets up the alexedwards/scs v2 contender with its in-memory store
// (a server-side reference: the cookie carries only a token).
func NewSCS(s Session, seen Seen) (*Contender, error) {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0) // no background goroutine to leak
	sm.Cookie.Secure = true
	login := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sm.Put(ctx, NameUserID, s.UserID)
		sm.Put(ctx, NameRoles, s.Roles)
		sm.Put(ctx, NameCSRF, s.CSRF)
		sm.Put(ctx, NameFlash, s.Flash)
		sm.Put(ctx, NameCart, s.Cart)
		sm.Put(ctx, NameLocale, s.Locale)
		sm.Put(ctx, NameIssued, s.IssuedAt.UnixMilli())
		sm.Put(ctx, NameSeen, s.LastSeen.UnixMilli())
		sm.Put(ctx, NameGen, s.Generation)
		sm.Put(ctx, NameEpoch, s.UserEpoch)
	}))
	cookie, err := setupRequest(login, "")
	if err != nil {
		return nil, fmt.Errorf("scs: %w", err)
	}
	get := func(r *http.Request) (string, []CartItem, error) {
		ctx := r.Context()
		uid := sm.GetString(ctx, NameUserID)
		cart, _ := sm.Get(ctx, NameCart).([]CartItem)
		if uid == "" || len(cart) == 0 {
			return "", nil, errNoSession
		}
		return uid, cart, nil
	}
	read := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, cart, err := get(r)
		if err != nil {
			fail(w, err)
			return
		}
		if seen != nil {
			seen(uid, cart)
		}
	}))
	rmw := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, cart, err := get(r)
		if err != nil {
			fail(w, err)
			return
		}
		if seen != nil {
			seen(uid, cart)
		}
		Bump(cart)
		sm.Put(r.Context(), NameCart, cart)
	}))
	return &Contender{Name: "scs", Cookie: cookie, Read: read, RMW: rmw}, nil
}
