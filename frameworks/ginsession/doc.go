// Package ginsession is sealedsession's adapter for gin: a gin middleware
// that loads the request's session, hands it to gin handlers, and writes
// it back before gin sends the response header.
//
//	m, err := httpx.New(httpx.Config{Keys: keys, Store: store})
//	r := gin.New()
//	r.Use(gin.Recovery(), ginsession.Middleware(m))
//	r.POST("/cart", func(c *gin.Context) {
//		s := ginsession.Get(c)
//		cart, _ := cartKey.Get(s)
//		cart.Items = append(cart.Items, c.PostForm("item"))
//		if err := cartKey.Set(s, cart); err != nil { // over the cookie budget: refused here
//			c.AbortWithStatus(http.StatusRequestEntityTooLarge)
//			return
//		}
//		c.JSON(http.StatusOK, cart) // the cookie goes out with this response
//	})
//
// # Why an adapter
//
// Wrapping the whole engine with httpx's middleware (m.Wrap(engine)) works
// too: handlers then find the session with
// httpx.FromContext(c.Request.Context()), and the cookie is written before
// gin's first header write. The adapter is for applications that keep
// gin's own middleware chain: sessions on one route group only, the
// session next to gin's other per-request values (Get), and failures
// answered by a gin handler (Options.ErrorHandler).
//
// gin's writer sends the header on the first body write (c.JSON,
// c.String, c.Redirect, c.Data...) or when the handler chain ends. The
// middleware puts its own gin.ResponseWriter in c.Writer that saves the
// session on the first WriteHeader, WriteHeaderNow, Write, WriteString,
// Flush or Hijack, and saves it after the chain if nothing was written;
// it never buffers the body.
//
// # Every change reaches the client or fails loudly
//
// As with httpx's own middleware: a value over the cookie budget is
// refused when it is set (a *httpx.SizeError); once the response has
// started (after c.Status, c.JSON, c.String and the like) every change
// returns an error matching httpx.ErrResponseStarted and changes nothing;
// a save that fails (the store is down while the client's cookie could
// not be checked) is answered by Options.ErrorHandler instead of the
// handler's response (default 503 for a store outage, 500 otherwise, with
// a generic body) and reported to the Manager's Observer as
// httpx.EventSaveFailed. Writes after that return httpx.ErrResponseAborted.
//
// # Where handlers find the session
//
// Get(c) in gin handlers; Lookup(ctx) with the *gin.Context or with
// c.Request.Context() (for code below the handler that only sees a
// context.Context). httpx.FromContext does not find a session this
// middleware loaded: it finds only those of httpx's own Wrap.
//
// One Manager per handler chain: with two ginsession middlewares on one
// route, Get returns the innermost one's session.
//
// A session belongs to its request: do not use it from a goroutine that
// outlives the handler (c.Copy() copies the reference, not the session).
package ginsession
