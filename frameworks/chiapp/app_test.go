package chiapp_test

import (
	"net/http"
	"testing"

	"github.com/sealedsession/sealedsession/frameworks/chiapp"
	"github.com/sealedsession/sealedsession/frameworks/internal/apptest"
	"github.com/sealedsession/sealedsession/httpx"
)

func TestRecipe(t *testing.T) {
	apptest.Run(t, func(m *httpx.Manager) http.Handler { return chiapp.New(m) })
}
