//lint:file-ignore SA4006 the README's ten lines show each call once, not its error handling

package docs_test

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
)

// readmeTenLines is the README's example. It is compiled, not run (it
// listens on addr).
func readmeTenLines(ctx context.Context, addr string, mux *http.ServeMux, r *http.Request, userID string) {
	// docs:begin readme-ten-lines
	keys, err := sealed.ParseKeyring(os.Getenv("SESSION_KEYS")) // newest first; `go run ./cmd/sealctl keygen`
	store, err := boltstore.Open("sessions.db", nil)            // or memstore.New(nil), redisstore.New(client, nil)
	m, err := httpx.New(httpx.Config{Keys: keys, Store: store,
		Policy:   versioning.Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 24 * time.Hour},
		Tracking: &httpx.Tracking{MaxPerUser: 5}, // optional groups: Policy, Cookie, Binding, Tracking
	})
	http.ListenAndServe(addr, m.Wrap(mux))

	var cartKey = codec.NewKey[Cart]("cart") // typed values: no interface{} casts, nothing to register
	s := httpx.FromContext(r.Context())
	cart, ok := cartKey.Get(s)       // ok is false when the session holds no cart
	err = cartKey.Set(s, cart)       // a value over the size budget is refused here, not lost later
	err = s.Login(userID)            // new session ID, generation+1: fixation defence
	err = s.Logout()                 // clears every cookie chunk; this session ID is revoked
	err = m.ForceLogout(ctx, userID) // bumps the user's epoch: every device of that user is logged out
	// docs:end
	_, _ = err, ok
}

var _ = readmeTenLines
