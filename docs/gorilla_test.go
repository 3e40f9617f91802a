package docs_test

import (
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/sessiontest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/legacy"
)

// gorillaManager is the migration snippet of docs/migrating-from-gorilla.md.
func gorillaManager(keys *sealed.Keyring, store versioning.Store, oldHashKey, oldBlockKey []byte) (*httpx.Manager, error) {
	// docs:begin gorilla-reader
	old, err := legacy.NewReader(legacy.Options{
		CookieName:          "session-name", // the name the old code passed to store.Get
		AllowUnprefixedName: true,           // no __Host- prefix: see the residual risk below
		Path:                "/",            // the old cookie's Path and Domain, so clearing reaches it
		HashKey:             oldHashKey, BlockKey: oldBlockKey,
		Map: func(v map[any]any, p *codec.Payload) error {
			if uid, ok := v["user_id"].(string); ok {
				p.Header().UserID = uid // a logged-in user stays logged in
			}
			if cart, ok := v["cart"].([]string); ok {
				return cartKey.Set(p, Cart{Items: cart})
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err) // a missing field or a bad key length; the message says which
	}
	m, err := httpx.New(httpx.Config{Keys: keys, Store: store, Legacy: old})
	// docs:end
	return m, err
}

// gorillaHandler shows that handlers read the imported values like any other.
func gorillaHandler(w http.ResponseWriter, r *http.Request) {
	// docs:begin gorilla-handler
	s := httpx.FromContext(r.Context())
	cart, _ := cartKey.Get(s) // was: session.Values["cart"].([]string)
	if !s.Authenticated() {   // was: session.Values["user_id"] == nil
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	// docs:end
	_ = cart
}

// TestGorillaMigration runs the guide's reader on a cookie made by
// gorilla/sessions' CookieStore.
func TestGorillaMigration(t *testing.T) {
	hashKey, blockKey := make([]byte, 32), make([]byte, 32)
	for i := range hashKey {
		hashKey[i], blockKey[i] = byte(i), byte(100+i)
	}
	// The old application wrote this cookie.
	gs := sessions.NewCookieStore(hashKey, blockKey)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	sess, _ := gs.Get(req, "session-name")
	sess.Values["user_id"] = "alice"
	sess.Values["cart"] = []string{"book"}
	require.NoError(t, sess.Save(req, rec))
	oldCookie := rec.Result().Cookies()[0]

	m, err := gorillaManager(newKeys(t), nil, hashKey, blockKey)
	require.NoError(t, err)
	var user string
	var items []string
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gorillaHandler(w, r)
		s := httpx.FromContext(r.Context())
		user = s.UserID()
		c, _ := cartKey.Get(s)
		items = c.Items
	}))
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(oldCookie)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "alice", user, "imported user")
	require.Equal(t, []string{"book"}, items, "imported cart")
	s := sessiontest.Result(t, m, rec.Result())
	require.Equal(t, "alice", s.UserID(), "user of the re-issued session")
	cleared := false
	for _, c := range rec.Result().Cookies() {
		if c.Name == "session-name" && c.MaxAge < 0 {
			cleared = true
		}
	}
	require.True(t, cleared, "the old cookie was not cleared")

	// A second copy of the same old cookie is refused: imported at most once.
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(oldCookie)
	user = ""
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Empty(t, user, "a replayed old cookie was imported again")
}
