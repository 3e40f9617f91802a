package echoapp_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/frameworks/echoapp"
	"github.com/sealedsession/sealedsession/frameworks/internal/apptest"
	"github.com/sealedsession/sealedsession/httpx"
)

func TestRecipe(t *testing.T) {
	apptest.Run(t, func(m *httpx.Manager) http.Handler { return echoapp.New(m) })
}

// A change after c.String has written the response fails loudly and
// changes nothing; a change before a handler returns an error lands.
func TestEchoWriterOrder(t *testing.T) {
	m := apptest.NewManager(t)
	e := echoapp.New(m)
	var lateErr error
	e.POST("/late", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "written"); err != nil {
			return err
		}
		lateErr = echoapp.CartKey.Set(httpx.FromContext(c.Request().Context()), echoapp.Cart{Items: []string{"late"}})
		return nil
	})
	e.POST("/fail", func(c echo.Context) error {
		s := httpx.FromContext(c.Request().Context())
		if err := echoapp.CartKey.Set(s, echoapp.Cart{Items: []string{"kept"}}); err != nil {
			return err
		}
		return echo.NewHTTPError(http.StatusConflict, "conflict")
	})
	c := apptest.NewClient(t, m, e)

	c.LateChangeRefused("/late", &lateErr)

	res, _ := c.Do(http.MethodPost, "/fail", url.Values{})
	require.Equal(t, http.StatusConflict, res.StatusCode, "/fail")
	cart, _ := echoapp.CartKey.Get(c.Session())
	require.Equal(t, []string{"kept"}, cart.Items, "a change before an error return did not land")
}
