package sessiontest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/sessiontest"
	"github.com/sealedsession/sealedsession/sealed"
)

var cartKey = codec.NewKey[[]string]("cart")

func newManager(t testing.TB) *httpx.Manager {
	t.Helper()
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
	ring, err := sealed.NewKeyring(k)
	require.NoError(t, err)
	m, err := httpx.New(httpx.Config{Keys: ring})
	require.NoError(t, err)
	return m
}

// addToCart is the handler under test.
func addToCart(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !s.Authenticated() {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	cart, _ := cartKey.Get(s)
	if err := cartKey.Set(s, append(cart, r.FormValue("sku"))); err != nil {
		http.Error(w, "cart full", http.StatusRequestEntityTooLarge)
		return
	}
	fmt.Fprint(w, len(cart)+1)
}

func TestRequestAndResult(t *testing.T) {
	m := newManager(t)
	h := m.Wrap(http.HandlerFunc(addToCart))

	req := sessiontest.Request(t, m, httptest.NewRequest("POST", "/cart?sku=mug", nil), func(s *httpx.Session) error {
		if err := s.Login("alice"); err != nil {
			return err
		}
		return cartKey.Set(s, []string{"pen"})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "2", rec.Body.String())

	s := sessiontest.Result(t, m, rec.Result())
	assert.Equal(t, "alice", s.UserID())
	cart, ok := cartKey.Get(s)
	assert.True(t, ok)
	assert.Equal(t, []string{"pen", "mug"}, cart)
	assert.False(t, s.IsNew())

	// Anonymous: refused, and the response sets nothing.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/cart?sku=mug", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.True(t, sessiontest.Result(t, m, rec.Result()).IsNew())
}

func TestResultAfterLogout(t *testing.T) {
	m := newManager(t)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, httpx.FromContext(r.Context()).Logout())
	}))
	req := sessiontest.Request(t, m, httptest.NewRequest("POST", "/logout", nil), func(s *httpx.Session) error {
		return s.Login("bob")
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	s := sessiontest.Result(t, m, res)
	assert.True(t, s.IsNew())
	assert.Empty(t, s.UserID())

	// The logged-out cookie itself is refused from now on.
	again, err := m.Load(req)
	require.NoError(t, err)
	assert.Empty(t, again.UserID())
	assert.Error(t, again.Rejected())
}

func TestResultKeepsUnchangedSession(t *testing.T) {
	m := newManager(t)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "read only") }))
	req := sessiontest.Request(t, m, httptest.NewRequest("GET", "/", nil), func(s *httpx.Session) error { return s.Login("carol") })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	require.Empty(t, res.Header.Values("Set-Cookie"))
	res.Request = req
	assert.Equal(t, "carol", sessiontest.Result(t, m, res).UserID())
}

func ExampleRequest() {
	k, _ := sealed.GenerateKey()
	ring, _ := sealed.NewKeyring(k)
	m, _ := httpx.New(httpx.Config{Keys: ring})
	// In a test, sessiontest.Request(t, ...) fails the test instead of
	// returning an error.
	req, err := sessiontest.NewRequest(m, httptest.NewRequest("POST", "/cart?sku=mug", nil), func(s *httpx.Session) error {
		if err := s.Login("alice"); err != nil {
			return err
		}
		return cartKey.Set(s, []string{"pen"})
	})
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	m.Wrap(http.HandlerFunc(addToCart)).ServeHTTP(rec, req)

	s, err := sessiontest.ReadResult(m, rec.Result())
	if err != nil {
		panic(err)
	}
	cart, _ := cartKey.Get(s)
	fmt.Println(rec.Body.String(), s.UserID(), cart)
	// Output: 2 alice [pen mug]
}
