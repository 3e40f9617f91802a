// Package ginapp is the gin recipe: the same small shop as nethttpapp on a
// gin engine, in two ways.
//
// New uses the adapter, package ginsession: a gin middleware, and
// ginsession.Get(c) in handlers.
//
//	r := gin.New()
//	r.Use(gin.Recovery(), ginsession.Middleware(m))
//
// NewWrapped wraps the whole engine with httpx's own middleware instead,
// and handlers reach the session through the request's context:
//
//	http.ListenAndServe(addr, m.Wrap(engine))
//	s := httpx.FromContext(c.Request.Context())
//
// Both write the session's cookie before gin sends the response header.
// Either way, make every change before c.JSON, c.String, c.Redirect and
// friends; a change after that fails with httpx.ErrResponseStarted.
package ginapp

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/frameworks/ginsession"
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

// New returns the application on a gin engine with the ginsession
// middleware.
func New(m *httpx.Manager) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery(), ginsession.Middleware(m))
	routes(r, ginsession.Get)
	return r
}

// NewWrapped returns the application as a gin engine wrapped by m's own
// middleware.
func NewWrapped(m *httpx.Manager) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	routes(r, func(c *gin.Context) *httpx.Session { return httpx.FromContext(c.Request.Context()) })
	return m.Wrap(r)
}

// routes adds the shop's routes; session finds the request's session.
func routes(r *gin.Engine, session func(*gin.Context) *httpx.Session) {
	r.GET("/cart", func(c *gin.Context) {
		s := session(c)
		cart, _ := CartKey.Get(s)
		c.JSON(http.StatusOK, view{User: s.UserID(), Items: cart.Items, Flashes: s.Flashes()})
	})
	// Unsafe routes: SameSite=Lax plus net/http's cross-origin protection.
	cop := http.NewCrossOriginProtection()
	unsafe := r.Group("", func(c *gin.Context) {
		if err := cop.Check(c.Request); err != nil {
			c.AbortWithStatus(http.StatusForbidden)
		}
	})
	unsafe.POST("/cart/add", func(c *gin.Context) {
		s := session(c)
		cart, _ := CartKey.Get(s)
		cart.Items = append(cart.Items, c.PostForm("item"))
		if err := CartKey.Set(s, cart); err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, view{User: s.UserID(), Items: cart.Items})
	})
	unsafe.POST("/login", func(c *gin.Context) {
		user := c.PostForm("user")
		if user == "" { // a real application checks a password here
			c.String(http.StatusBadRequest, "user required")
			return
		}
		s := session(c)
		if err := s.Login(user); err != nil {
			fail(c, err)
			return
		}
		if err := s.AddFlash("welcome, " + user); err != nil {
			fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/cart")
	})
	unsafe.POST("/logout", func(c *gin.Context) {
		if err := session(c).Logout(); err != nil {
			fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/cart")
	})
}

// fail answers a session error without detail.
func fail(c *gin.Context, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, versioning.ErrStoreUnavailable):
		code = http.StatusServiceUnavailable
	case errors.Is(err, httpx.ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	}
	_ = c.Error(err) // for gin's logger; the client sees the status only
	c.AbortWithStatus(code)
}
