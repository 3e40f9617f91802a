package docs_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/csrf"
)

// csrfHandler is the synchronizer-token snippet of docs/apis-and-spas.md.
func csrfHandler(m *httpx.Manager, mux *http.ServeMux) http.Handler {
	// docs:begin apis-csrf-protect
	protect := csrf.Protect(m, csrf.Options{}) // unsafe methods need X-CSRF-Token (or the csrf_token form field)
	h := m.Wrap(http.NewCrossOriginProtection().Handler(protect(mux)))
	// docs:end
	return h
}

// docs:begin apis-csrf-token
// spaShell serves the single-page app's HTML with the session's CSRF token,
// which its scripts send back in the X-CSRF-Token header.
func spaShell(w http.ResponseWriter, r *http.Request) {
	token, err := csrf.Token(httpx.FromContext(r.Context())) // before writing the page
	if err != nil {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, `<meta name="csrf-token" content="%s"><script src="/app.js"></script>`, token)
}

// docs:end

func TestCSRFSnippets(t *testing.T) {
	m, err := httpx.New(httpx.Config{Keys: newKeys(t), AllowBearer: true})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", spaShell)
	mux.HandleFunc("POST /api/cart", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	h := csrfHandler(m, mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://shop.example/", nil))
	var token string
	_, err = fmt.Sscanf(rec.Body.String(), `<meta name="csrf-token" content="%86s">`, &token)
	require.NoError(t, err, "no token in %q", rec.Body.String())
	post := func(withToken bool) int {
		req := httptest.NewRequest("POST", "https://shop.example/api/cart", nil)
		for _, c := range rec.Result().Cookies() {
			req.AddCookie(c)
		}
		if withToken {
			req.Header.Set("X-CSRF-Token", token)
		}
		out := httptest.NewRecorder()
		h.ServeHTTP(out, req)
		return out.Code
	}
	require.Equal(t, http.StatusOK, post(true), "POST with the token")
	require.Equal(t, http.StatusForbidden, post(false), "POST without the token")
}
