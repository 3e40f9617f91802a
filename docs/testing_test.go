package docs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/sessiontest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// docs:begin testing-handler
// addToCart is the handler under test.
func addToCart(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !s.Authenticated() {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	cart, _ := cartKey.Get(s)
	cart.Items = append(cart.Items, r.FormValue("sku"))
	if err := cartKey.Set(s, cart); err != nil {
		http.Error(w, "cart full", http.StatusRequestEntityTooLarge)
		return
	}
	fmt.Fprint(w, len(cart.Items))
}

// docs:end

// docs:begin testing-manager
// newTestManager returns a Manager like the application's, with a fresh key.
func newTestManager(t *testing.T, policy versioning.Policy) *httpx.Manager {
	t.Helper()
	key, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sealed.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := httpx.New(httpx.Config{Keys: keys, Store: memstore.New(nil), Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// docs:end

// docs:begin testing-request-result
func TestAddToCart(t *testing.T) {
	m := newTestManager(t, versioning.Policy{})
	h := m.Wrap(http.HandlerFunc(addToCart))

	// A request from alice, whose cart already holds a pen.
	req := sessiontest.Request(t, m, httptest.NewRequest("POST", "/cart?sku=mug", nil), func(s *httpx.Session) error {
		if err := s.Login("alice"); err != nil {
			return err
		}
		return cartKey.Set(s, Cart{Items: []string{"pen"}})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "2" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}

	// The session the browser holds after the response.
	s := sessiontest.Result(t, m, rec.Result())
	cart, _ := cartKey.Get(s)
	if s.UserID() != "alice" || len(cart.Items) != 2 {
		t.Fatalf("user %q, cart %v", s.UserID(), cart.Items)
	}
}

// docs:end

// docs:begin testing-clock
func TestIdleTimeout(t *testing.T) {
	now := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now } // the test moves now
	m := newTestManager(t, versioning.Policy{IdleTimeout: 30 * time.Minute, Now: clock})

	var rejected error
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		rejected = s.Rejected()
		addToCart(w, r)
	}))
	req := sessiontest.Request(t, m, httptest.NewRequest("POST", "/cart?sku=mug", nil), func(s *httpx.Session) error {
		return s.Login("alice")
	})

	now = now.Add(29 * time.Minute) // still within the idle timeout
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("after 29 min: %d", rec.Code)
	}

	now = now.Add(31 * time.Minute) // req's cookie was last renewed 60 minutes ago
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !errors.Is(rejected, versioning.ErrIdleExpired) {
		t.Fatalf("after 60 min: %d, rejected: %v", rec.Code, rejected)
	}
}

// docs:end

// docs:begin testing-force-logout
func TestForceLogout(t *testing.T) {
	m := newTestManager(t, versioning.Policy{})
	h := m.Wrap(http.HandlerFunc(addToCart))
	req := sessiontest.Request(t, m, httptest.NewRequest("POST", "/cart?sku=mug", nil), func(s *httpx.Session) error {
		return s.Login("alice")
	})
	if err := m.ForceLogout(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("a cookie issued before ForceLogout was served: %d", rec.Code)
	}
}

// docs:end

// TestNewRequestReadResult runs the NewRequest/ReadResult snippet.
func TestNewRequestReadResult(t *testing.T) {
	m := newTestManager(t, versioning.Policy{})
	srv := httptest.NewServer(m.Wrap(http.HandlerFunc(addToCart)))
	defer srv.Close()
	require.NoError(t, checkCart(m, srv.URL, srv.Client()))
}

// checkCart uses the error-returning forms, as a load generator, a
// benchmark helper or a smoke test outside package testing would.
func checkCart(m *httpx.Manager, baseURL string, client *http.Client) error {
	// docs:begin testing-newrequest
	r, err := http.NewRequest("POST", baseURL+"/cart?sku=mug", nil)
	if err != nil {
		return err
	}
	r, err = sessiontest.NewRequest(m, r, func(s *httpx.Session) error { return s.Login("alice") })
	if err != nil {
		return err
	}
	res, err := client.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	s, err := sessiontest.ReadResult(m, res)
	if err != nil {
		return err
	}
	if cart, _ := cartKey.Get(s); len(cart.Items) != 1 {
		return fmt.Errorf("cart after one addition: %v", cart.Items)
	}
	// docs:end
	return nil
}
