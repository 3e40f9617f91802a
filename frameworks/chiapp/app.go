// Package chiapp is the chi recipe: the same small shop as nethttpapp on a
// chi router. chi middlewares are func(http.Handler) http.Handler, so the
// session middleware goes in as it is:
//
//	r := chi.NewRouter()
//	r.Use(m.Wrap)
//
// Handlers are plain http.HandlerFuncs and reach the session with
// httpx.FromContext(r.Context()). Make every change before writing the
// response; a change after the first byte fails with
// httpx.ErrResponseStarted.
package chiapp

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

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

type view struct {
	User    string   `json:"user"`
	Items   []string `json:"items"`
	Flashes []string `json:"flashes"`
}

// New returns the application as a chi router with m's session
// middleware on every route.
func New(m *httpx.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(m.Wrap)
	r.Get("/cart", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		cart, _ := CartKey.Get(s)
		render(w, view{User: s.UserID(), Items: cart.Items, Flashes: s.Flashes()})
	})
	r.Route("/", func(r chi.Router) {
		// Unsafe routes: SameSite=Lax plus cross-origin protection.
		r.Use(http.NewCrossOriginProtection().Handler)
		r.Post("/cart/add", func(w http.ResponseWriter, r *http.Request) {
			s := httpx.FromContext(r.Context())
			cart, _ := CartKey.Get(s)
			cart.Items = append(cart.Items, r.PostFormValue("item"))
			if err := CartKey.Set(s, cart); err != nil {
				fail(w, err)
				return
			}
			render(w, view{User: s.UserID(), Items: cart.Items})
		})
		r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
			user := r.PostFormValue("user")
			if user == "" { // a real application checks a password here
				http.Error(w, "user required", http.StatusBadRequest)
				return
			}
			s := httpx.FromContext(r.Context())
			if err := s.Login(user); err != nil {
				fail(w, err)
				return
			}
			if err := s.AddFlash("welcome, " + user); err != nil {
				fail(w, err)
				return
			}
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
		})
		r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
			if err := httpx.FromContext(r.Context()).Logout(); err != nil {
				fail(w, err)
				return
			}
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
		})
	})
	return r
}

// fail answers a session error without detail.
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

func render(w http.ResponseWriter, v view) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
