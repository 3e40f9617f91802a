package ginsession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/frameworks/ginsession"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

type Cart struct{ Items []string }

var cartKey = codec.NewKey[Cart]("cart")

func ExampleMiddleware() {
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: keys, Store: memstore.New(nil)})
	if err != nil {
		panic(err)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), ginsession.Middleware(m))
	r.POST("/cart", func(c *gin.Context) {
		s := ginsession.Get(c)
		cart, _ := cartKey.Get(s)
		cart.Items = append(cart.Items, c.PostForm("item"))
		if err := cartKey.Set(s, cart); err != nil { // over the cookie budget: refused here
			c.AbortWithStatus(http.StatusRequestEntityTooLarge)
			return
		}
		c.JSON(http.StatusOK, gin.H{"items": len(cart.Items)}) // the cookie goes out with this
	})
	r.GET("/cart", func(c *gin.Context) {
		cart, _ := cartKey.Get(ginsession.Get(c))
		c.String(http.StatusOK, "%v", cart.Items)
	})

	req := httptest.NewRequest(http.MethodPost, "/cart", strings.NewReader("item=book"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())

	next := httptest.NewRequest(http.MethodGet, "/cart", nil)
	for _, c := range rec.Result().Cookies() {
		next.AddCookie(c) // what a browser sends back
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, next)
	fmt.Println(rec.Body.String())
	// Output:
	// 200 {"items":1}
	// [book]
}
