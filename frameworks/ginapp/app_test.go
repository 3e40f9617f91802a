package ginapp_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		assert.NoError(t, ginapp.CartKey.Set(s, ginapp.Cart{Items: []string{"early"}}))
		c.String(http.StatusOK, "written")
	})
	r.POST("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "written")
		lateErr = ginapp.CartKey.Set(httpx.FromContext(c.Request.Context()), ginapp.Cart{Items: []string{"late"}})
	})
	c := apptest.NewClient(t, m, m.Wrap(r))

	c.LateChangeRefused("/late", &lateErr)
	res, body := c.Do(http.MethodPost, "/early", url.Values{})
	require.Equal(t, http.StatusOK, res.StatusCode, "/early: %q", body)
	require.Equal(t, "written", body, "/early")
	cart, _ := ginapp.CartKey.Get(c.Session())
	require.Equal(t, []string{"early"}, cart.Items, "the change before c.String did not land")
}
