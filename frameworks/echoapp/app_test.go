package echoapp_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/labstack/echo/v4"

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

	res, body := c.Do(http.MethodPost, "/late", url.Values{})
	if res.StatusCode != http.StatusOK || body != "written" {
		t.Fatalf("/late: %s %q", res.Status, body)
	}
	if !errors.Is(lateErr, httpx.ErrResponseStarted) {
		t.Fatalf("a change after c.String: %v, want ErrResponseStarted", lateErr)
	}
	if c.HasSessionCookie() {
		t.Fatal("a refused change still set a cookie")
	}

	res, _ = c.Do(http.MethodPost, "/fail", url.Values{})
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("/fail: %s", res.Status)
	}
	if cart, _ := echoapp.CartKey.Get(c.Session()); !slices.Equal(cart.Items, []string{"kept"}) {
		t.Fatalf("a change before an error return did not land: %v", cart.Items)
	}
}
