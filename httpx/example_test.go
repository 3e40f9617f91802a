package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

type Cart struct {
	Items []string
}

var exampleCart = codec.NewKey[Cart]("cart")

func ExampleManager_Wrap() {
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: keys, Store: memstore.New(nil)})
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
	m, _ := httpx.New(httpx.Config{Keys: keys, Store: memstore.New(nil)})
	// Every session "alice" was issued before this call is refused from now
	// on, on every instance sharing the store.
	if err := m.ForceLogout(context.Background(), "alice"); err != nil {
		fmt.Println("store unavailable:", err)
	}
	fmt.Println("alice logged out everywhere")
	// Output: alice logged out everywhere
}

// A value that would not fit the size budget is refused when it is set,
// and the session stays as it was: answer the user instead of failing the
// response.
func Example_valueOverBudget() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys})
	notes := codec.NewKey[[]string]("notes")
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		old, _ := notes.Get(s)
		err := notes.Set(s, append(old, strings.Repeat("n", 9000)))
		var se *httpx.SizeError
		if errors.As(err, &se) {
			fmt.Println("refused, over", se.Limit)
			http.Error(w, "Your notes are full.", http.StatusRequestEntityTooLarge)
			return
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	// Output: refused, over Cookie.MaxHeaderBytes
}

// Code that cannot wrap a handler loads the session itself and saves it
// before writing the response.
func ExampleManager_Load() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys})
	visits := codec.NewKey[int]("visits")

	handler := func(w http.ResponseWriter, r *http.Request) {
		s, err := m.Load(r)
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable) // the store is down
			return
		}
		n, _ := visits.Get(s)
		if err := visits.Set(s, n+1); err != nil {
			http.Error(w, "session full", http.StatusInternalServerError)
			return
		}
		if err := m.Save(w, r, s); err != nil {
			http.Error(w, "could not save the session", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	}
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String(), len(rec.Result().Cookies()))
	// Output: visit 1 1
}

// Two Managers on one request (an admin session beside the user session)
// each find their own session.
func ExampleManager_FromContext() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	users, _ := httpx.New(httpx.Config{Keys: keys})
	admins, _ := httpx.New(httpx.Config{Keys: keys, Cookie: httpx.CookieConfig{Name: "__Host-admin"},
		Policy: versioning.Policy{IdleTimeout: 5 * time.Minute, AbsoluteTimeout: time.Hour}})
	h := users.Wrap(admins.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = users.FromContext(r.Context()).Login("alice")
		_ = admins.FromContext(r.Context()).Login("root")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	for _, c := range rec.Result().Cookies() {
		fmt.Println(c.Name, c.MaxAge)
	}
	// Output:
	// __Host-admin 3600
	// __Host-session 86400
}

// An API or mobile client starts a session with a plain request; the
// login handler switches the response to a token, and the client sends it
// back as "Authorization: Bearer <token>".
func ExampleSession_UseToken() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys, AllowBearer: true})
	api := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if r.URL.Path == "/api/login" { // after checking the credentials
			if err := s.UseToken(); err != nil {
				http.Error(w, "tokens are off", http.StatusInternalServerError)
				return
			}
			if err := s.Login("app-user"); err != nil {
				http.Error(w, "login failed", http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprint(w, s.UserID())
	}))

	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("POST", "/api/login", nil))
	token := rec.Header().Get(httpx.TokenHeader) // the client stores it

	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String(), len(rec.Result().Cookies()))
	// Output: app-user 0
}

// A "remember me" box at login: a persistent cookie for 30 days (never
// past the absolute timeout); otherwise a browser-session cookie.
func ExampleSession_Remember() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys,
		Policy: versioning.Policy{IdleTimeout: 7 * 24 * time.Hour, AbsoluteTimeout: 30 * 24 * time.Hour},
		Cookie: httpx.CookieConfig{BrowserSession: true}})
	login := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if err := s.Login("alice"); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		if r.FormValue("remember") == "on" {
			_ = s.Remember(30 * 24 * time.Hour)
		}
	}))
	for _, q := range []string{"/login", "/login?remember=on"} {
		rec := httptest.NewRecorder()
		login.ServeHTTP(rec, httptest.NewRequest("POST", q, nil))
		fmt.Println(q, rec.Result().Cookies()[0].MaxAge)
	}
	// Output:
	// /login 0
	// /login?remember=on 2592000
}
