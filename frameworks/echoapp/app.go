// Package echoapp is the echo recipe: the same small shop as nethttpapp
// on echo v4. The session middleware is a net/http middleware; echo takes
// it through echo.WrapMiddleware:
//
//	e := echo.New()
//	e.Use(echo.WrapMiddleware(m.Wrap))
//
// A handler reaches the session through the request's context:
//
//	s := httpx.FromContext(c.Request().Context())
//
// Make every change before c.JSON, c.String, c.Redirect and friends: they
// write the response, and the session's cookie goes out just before its
// first byte. A change after that fails with httpx.ErrResponseStarted. A
// handler that returns an error without writing has its session saved
// before echo's error handler answers.
package echoapp

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

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

// New returns the application as an *echo.Echo (an http.Handler) with
// m's session middleware on every route.
func New(m *httpx.Manager) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Use(echo.WrapMiddleware(m.Wrap))
	e.GET("/cart", showCart)
	unsafe := e.Group("", echo.WrapMiddleware(http.NewCrossOriginProtection().Handler))
	unsafe.POST("/cart/add", addToCart)
	unsafe.POST("/login", login)
	unsafe.POST("/logout", logout)
	return e
}

func session(c echo.Context) *httpx.Session { return httpx.FromContext(c.Request().Context()) }

func showCart(c echo.Context) error {
	s := session(c)
	cart, _ := CartKey.Get(s)
	return c.JSON(http.StatusOK, view{User: s.UserID(), Items: cart.Items, Flashes: s.Flashes()})
}

func addToCart(c echo.Context) error {
	s := session(c)
	cart, _ := CartKey.Get(s)
	cart.Items = append(cart.Items, c.FormValue("item"))
	if err := CartKey.Set(s, cart); err != nil {
		return fail(err)
	}
	return c.JSON(http.StatusOK, view{User: s.UserID(), Items: cart.Items})
}

func login(c echo.Context) error {
	user := c.FormValue("user")
	if user == "" { // a real application checks a password here
		return echo.NewHTTPError(http.StatusBadRequest, "user required")
	}
	s := session(c)
	if err := s.Login(user); err != nil {
		return fail(err)
	}
	if err := s.AddFlash("welcome, " + user); err != nil {
		return fail(err)
	}
	return c.Redirect(http.StatusSeeOther, "/cart")
}

func logout(c echo.Context) error {
	if err := session(c).Logout(); err != nil {
		return fail(err)
	}
	return c.Redirect(http.StatusSeeOther, "/cart")
}

// fail turns a session error into an echo error without detail for the
// client (the cause is kept for echo's logger).
func fail(err error) error {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, versioning.ErrStoreUnavailable):
		code = http.StatusServiceUnavailable
	case errors.Is(err, httpx.ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	}
	return echo.NewHTTPError(code, http.StatusText(code)).SetInternal(err)
}
