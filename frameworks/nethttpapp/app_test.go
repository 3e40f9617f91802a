package nethttpapp_test

import (
	"net/http"
	"testing"

	"github.com/sealedsession/sealedsession/frameworks/internal/apptest"
	"github.com/sealedsession/sealedsession/frameworks/nethttpapp"
	"github.com/sealedsession/sealedsession/httpx"
)

func TestRecipe(t *testing.T) {
	apptest.Run(t, func(m *httpx.Manager) http.Handler { return nethttpapp.New(m) })
}
