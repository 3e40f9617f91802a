package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

type Cart struct {
	Items []string
}

var exampleCart = codec.NewKey[Cart]("cart")

func ExampleManager_Wrap() {
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: keys, Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		cart, _ := exampleCart.Get(s)
		cart.Items = append(cart.Items, r.FormValue("item"))
		if err := exampleCart.Set(s, cart); err != nil {
			http.Error(w, "cannot store the cart", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d item(s)", len(cart.Items))
	})
	srv := httptest.NewTLSServer(m.Wrap(mux))
	defer srv.Close()

	resp, _ := srv.Client().Post(srv.URL+"/cart?item=book", "text/plain", nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	cookie := resp.Header.Get("Set-Cookie")
	fmt.Println(strings.HasPrefix(cookie, "__Host-session="), strings.Contains(cookie, "HttpOnly; Secure; SameSite=Lax"))
	// Output:
	// 1 item(s)
	// true true
}

func ExampleSession_Login() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		before := s.ID()
		// After checking the password:
		if err := s.Login("alice"); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		fmt.Println(s.UserID(), s.Generation(), s.ID() != before)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	// Output: alice 1 true
}

func ExampleSession_Logout() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		_ = s.Logout() // the cookie and every chunk are cleared
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", "/logout", nil))
	fmt.Println(len(rr.Result().Cookies()), "cookie names cleared")
	// Output: 4 cookie names cleared
}

func ExampleManager_ForceLogout() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys, Store: memstore.New()})
	// Every session "alice" was issued before this call is refused from now
	// on, on every instance sharing the store.
	if err := m.ForceLogout(context.Background(), "alice"); err != nil {
		fmt.Println("store unavailable:", err)
	}
	fmt.Println("alice logged out everywhere")
	// Output: alice logged out everywhere
}

func ExampleSession_CheckSize() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys})
	notes := codec.NewKey[[]string]("notes")
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		old, _ := notes.Get(s)
		_ = notes.Set(s, append(old, strings.Repeat("n", 9000)))
		if err := s.CheckSize(); err != nil {
			_ = notes.Set(s, old) // keep the session as it was
			fmt.Println("refused:", errors.Is(err, httpx.ErrTooLarge))
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	// Output: refused: true
}
