// Package nethttpapp is the net/http recipe: a small shop (cart, login,
// logout, a flash message) on http.ServeMux, with the session middleware
// wrapped around the whole mux.
//
//	m, err := httpx.New(httpx.Config{Keys: keys, Store: store})
//	http.ListenAndServe(addr, nethttpapp.New(m))
//
// Handlers reach the session with httpx.FromContext(r.Context()) and make
// every change before they write the response: the middleware writes the
// session's cookie just before the first byte of the response, and a
// change after that fails with httpx.ErrResponseStarted.
package nethttpapp

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// Cart is the shopping cart kept in the session.
type Cart struct {
	Items []string
}

// CartKey is the session value holding the cart.
var CartKey = codec.NewKey[Cart]("cart")

// view is what the cart pages answer.
type view struct {
	User    string   `json:"user"`
	Items   []string `json:"items"`
	Flashes []string `json:"flashes"`
}

// New returns the application wrapped by m's session middleware, with
// net/http's cross-origin protection in front of the unsafe routes
// (SameSite=Lax cookies plus CrossOriginProtection is the CSRF baseline).
func New(m *httpx.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cart", showCart)
	mux.HandleFunc("POST /cart/add", addToCart)
	mux.HandleFunc("POST /login", login)
	mux.HandleFunc("POST /logout", logout)
	return m.Wrap(http.NewCrossOriginProtection().Handler(mux))
}

func showCart(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	cart, _ := CartKey.Get(s)
	// Flashes removes the messages it returns: call it before writing.
	writeJSON(w, view{User: s.UserID(), Items: cart.Items, Flashes: s.Flashes()})
}

func addToCart(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	cart, _ := CartKey.Get(s)
	cart.Items = append(cart.Items, r.PostFormValue("item"))
	if err := CartKey.Set(s, cart); err != nil {
		fail(w, err)
		return
	}
	// The change is made; the body written now carries the cookie with it.
	writeJSON(w, view{User: s.UserID(), Items: cart.Items})
}

func login(w http.ResponseWriter, r *http.Request) {
	user := r.PostFormValue("user")
	if user == "" { // a real application checks a password here
		http.Error(w, "user required", http.StatusBadRequest)
		return
	}
	s := httpx.FromContext(r.Context())
	if err := s.Login(user); err != nil { // new session ID: fixation defence
		fail(w, err)
		return
	}
	if err := s.AddFlash("welcome, " + user); err != nil {
		fail(w, err)
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func logout(w http.ResponseWriter, r *http.Request) {
	if err := httpx.FromContext(r.Context()).Logout(); err != nil {
		fail(w, err) // the store could not record the revocation: nothing changed
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// fail answers a session error without detail: 503 when the store is
// down, 413 for a value over the cookie budget, 500 otherwise.
func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, versioning.ErrStoreUnavailable):
		code = http.StatusServiceUnavailable
	case errors.Is(err, httpx.ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	}
	http.Error(w, http.StatusText(code), code)
}

func writeJSON(w http.ResponseWriter, v view) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
