package ginapp_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sealedsession/sealedsession/frameworks/ginapp"
	"github.com/sealedsession/sealedsession/frameworks/internal/apptest"
	"github.com/sealedsession/sealedsession/httpx"
)

func init() { gin.SetMode(gin.TestMode) }

// The recipe on the ginsession adapter.
func TestRecipe(t *testing.T) {
	apptest.Run(t, func(m *httpx.Manager) http.Handler { return ginapp.New(m) })
}

// The recipe with httpx's own middleware around the whole engine: gin's
// writer sends the header on the first body write, and the wrapper saves
// before that, so the changes land here too.
func TestRecipeWrapped(t *testing.T) {
	apptest.Run(t, func(m *httpx.Manager) http.Handler { return ginapp.NewWrapped(m) })
}

// With m.Wrap around the engine: a change before c.String lands, a change
// after it fails with ErrResponseStarted and sets no cookie.
func TestWrappedWriterOrder(t *testing.T) {
	m := apptest.NewManager(t)
	r := gin.New()
	var lateErr error
	r.POST("/early", func(c *gin.Context) {
		s := httpx.FromContext(c.Request.Context())
		if err := ginapp.CartKey.Set(s, ginapp.Cart{Items: []string{"early"}}); err != nil {
			t.Error(err)
		}
		c.String(http.StatusOK, "written")
	})
	r.POST("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "written")
		lateErr = ginapp.CartKey.Set(httpx.FromContext(c.Request.Context()), ginapp.Cart{Items: []string{"late"}})
	})
	c := apptest.NewClient(t, m, m.Wrap(r))

	if res, body := c.Do(http.MethodPost, "/late", url.Values{}); res.StatusCode != http.StatusOK || body != "written" {
		t.Fatalf("/late: %s %q", res.Status, body)
	}
	if !errors.Is(lateErr, httpx.ErrResponseStarted) {
		t.Fatalf("a change after c.String: %v, want ErrResponseStarted", lateErr)
	}
	if c.HasSessionCookie() {
		t.Fatal("a refused change set a cookie")
	}
	if res, body := c.Do(http.MethodPost, "/early", url.Values{}); res.StatusCode != http.StatusOK || body != "written" {
		t.Fatalf("/early: %s %q", res.Status, body)
	}
	if cart, _ := ginapp.CartKey.Get(c.Session()); !slices.Equal(cart.Items, []string{"early"}) {
		t.Fatalf("the change before c.String did not land: %v", cart.Items)
	}
}
