package docs_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

// apiManager is the configuration snippet of docs/apis-and-spas.md.
func apiManager(keys *sealed.Keyring, store versioning.Store) (*httpx.Manager, error) {
	// docs:begin apis-config
	m, err := httpx.New(httpx.Config{
		Keys:        keys,
		Store:       store,
		AllowBearer: true, // read "Authorization: Bearer <token>"; answer with a Session-Token header
	})
	// docs:end
	return m, err
}

// docs:begin apis-handlers
func apiLogin(w http.ResponseWriter, r *http.Request) {
	userID := r.FormValue("user") // after checking the credentials
	s := httpx.FromContext(r.Context())
	if err := s.UseToken(); err != nil { // this response carries a token, not a cookie
		http.Error(w, "tokens are not enabled", http.StatusInternalServerError)
		return
	}
	if err := s.Login(userID); err != nil {
		http.Error(w, "login failed", http.StatusServiceUnavailable)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"user": userID})
}

func apiMe(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !s.Authenticated() {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"user": s.UserID()})
}

func apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := httpx.FromContext(r.Context()).Logout(); err != nil { // answers an empty Session-Token
		http.Error(w, "logout failed, try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// docs:end

// docs:begin apis-client
// tokenClient is an API client that keeps the session token: it sends it
// on every request and follows every Session-Token the server answers.
type tokenClient struct {
	client *http.Client
	mu     sync.Mutex
	token  string // keep it where other programs cannot read it (a keychain on mobile)
}

func (c *tokenClient) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	c.mu.Unlock()
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	if v, ok := resp.Header[httpx.TokenHeader]; ok { // renewed, new after login, or empty after logout
		c.mu.Lock()
		c.token = v[0]
		c.mu.Unlock()
	}
	return resp, nil
}

// docs:end

// TestAPIToken runs the guide's server and client: login, an
// authenticated call, logout, and the token gone.
func TestAPIToken(t *testing.T) {
	m, err := apiManager(newKeys(t), nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", apiLogin)
	mux.HandleFunc("GET /api/me", apiMe)
	mux.HandleFunc("POST /api/logout", apiLogout)
	srv := httptest.NewServer(m.Wrap(mux))
	defer srv.Close()

	c := &tokenClient{client: srv.Client()}
	call := func(method, path string) (int, string, []*http.Cookie) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)), resp.Cookies()
	}
	code, _, cookies := call("POST", "/api/login?user=alice")
	require.Equal(t, 200, code, "login")
	require.Empty(t, cookies, "login: cookies")
	require.NotEmpty(t, c.token, "login: token")
	code, body, _ := call("GET", "/api/me")
	require.Equal(t, 200, code, "me: %s", body)
	require.Equal(t, `{"user":"alice"}`, body, "me")
	stolen := c.token
	code, _, _ = call("POST", "/api/logout")
	require.Equal(t, http.StatusNoContent, code, "logout")
	require.Empty(t, c.token, "logout: token")
	code, _, _ = call("GET", "/api/me")
	require.Equal(t, http.StatusUnauthorized, code, "me after logout")
	c.token = stolen // a copy of the token is refused after logout
	code, _, _ = call("GET", "/api/me")
	require.Equal(t, http.StatusUnauthorized, code, "replayed token after logout")
}
