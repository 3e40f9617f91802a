package docs_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/sessiontest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
)

// scsSetup is the set-up of docs/migrating-from-scs.md, compiled only.
func scsSetup(keys *sealed.Keyring, mux *http.ServeMux) error {
	// docs:begin scs-setup
	store, err := boltstore.Open("sessions.db", nil) // epochs and revocations only: no sessions
	if err != nil {
		return err
	}
	m, err := httpx.New(httpx.Config{
		Keys:   keys,
		Store:  store,
		Policy: versioning.Policy{IdleTimeout: 20 * time.Minute, AbsoluteTimeout: 24 * time.Hour}, // scs: IdleTimeout, Lifetime
	})
	if err != nil {
		return err
	}
	return http.ListenAndServe(":4000", m.Wrap(mux)) // scs: sessionManager.LoadAndSave(mux)
	// docs:end
}

// docs:begin scs-handlers
var messageKey = codec.NewKey[string]("message")

func putHandler(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if err := messageKey.Set(s, "Hello from a session!"); err != nil { // scs: Put
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
}

func getHandler(w http.ResponseWriter, r *http.Request) {
	msg, _ := messageKey.Get(httpx.FromContext(r.Context())) // scs: GetString
	io.WriteString(w, msg)
}

func popHandler(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	msg, ok := messageKey.Get(s) // scs: PopString is Get, then Delete
	if ok {
		if err := messageKey.Delete(s); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	io.WriteString(w, msg)
}

// docs:end

// docs:begin scs-login
func loginHandler(w http.ResponseWriter, r *http.Request) {
	userID := r.FormValue("user") // after checking the password
	s := httpx.FromContext(r.Context())
	// scs: RenewToken, then Put(ctx, "userID", id). Login does both: a new
	// session ID (and generation), and the user recorded in the sealed header.
	if err := s.Login(userID); err != nil {
		http.Error(w, "login failed", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func logoutHandler(w http.ResponseWriter, r *http.Request) {
	// scs: Destroy. Logout clears the cookie and revokes this session ID;
	// if the revocation cannot be stored it returns an error and changes nothing.
	if err := httpx.FromContext(r.Context()).Logout(); err != nil {
		http.Error(w, "logout failed, please try again", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// docs:end

// scsLoadSave is the Load/Save snippet (scs: Load, Commit, WriteSessionCookie).
func scsLoadSave(m *httpx.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// docs:begin scs-load-save
		s, err := m.Load(r) // scs: Load(ctx, token) after reading the cookie yourself
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable) // the store is down
			return
		}
		if err := messageKey.Set(s, "hello"); err != nil {
			http.Error(w, "session full", http.StatusInternalServerError)
			return
		}
		if err := m.Save(w, r, s); err != nil { // scs: Commit, then WriteSessionCookie
			http.Error(w, "could not save the session", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "saved")
		// docs:end
	}
}

// TestSCSMapping runs the guide's handlers through one user's visit.
func TestSCSMapping(t *testing.T) {
	m, err := httpx.New(httpx.Config{Keys: newKeys(t)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /put", putHandler)
	mux.HandleFunc("GET /get", getHandler)
	mux.HandleFunc("POST /pop", popHandler)
	mux.HandleFunc("POST /login", loginHandler)
	mux.HandleFunc("POST /logout", logoutHandler)
	h := m.Wrap(mux)

	do := func(method, target string, s *httpx.Session) (*httpx.Session, string) {
		req := httptest.NewRequest(method, target, nil)
		if s != nil {
			req = sessiontest.Request(t, m, req, func(ns *httpx.Session) error {
				if s.UserID() != "" {
					if err := ns.Login(s.UserID()); err != nil {
						return err
					}
				}
				if v, ok := messageKey.Get(s); ok {
					return messageKey.Set(ns, v)
				}
				return nil
			})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		res.Request = req
		return sessiontest.Result(t, m, res), rec.Body.String()
	}
	s, _ := do("POST", "/put", nil)
	_, body := do("GET", "/get", s)
	require.Equal(t, "Hello from a session!", body, "get")
	s, body = do("POST", "/pop", s)
	require.Equal(t, "Hello from a session!", body, "pop")
	_, ok := messageKey.Get(s)
	require.False(t, ok, "pop left the value")
	s, _ = do("POST", "/login?user=alice", s)
	require.Equal(t, "alice", s.UserID(), "login: user")
	s, _ = do("POST", "/logout", s)
	require.True(t, s.IsNew(), "logout left a session")

	rec := httptest.NewRecorder()
	scsLoadSave(m)(rec, httptest.NewRequest("GET", "/", nil))
	v, _ := messageKey.Get(sessiontest.Result(t, m, rec.Result()))
	require.Equal(t, "hello", v, "load/save: value")
	require.Equal(t, "saved", rec.Body.String(), "load/save: body")
}

var _ = scsSetup
