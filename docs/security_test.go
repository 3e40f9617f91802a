package docs_test

import (
	"net/http"

	"github.com/sealedsession/sealedsession/httpx"
)

// crossOrigin is the CSRF snippet of docs/security.md and docs/apis-and-spas.md.
func crossOrigin(addr string, m *httpx.Manager, mux *http.ServeMux) error {
	// docs:begin security-csrf
	cop := http.NewCrossOriginProtection()                     // refuses cross-origin POST, PUT, DELETE...
	return http.ListenAndServe(addr, cop.Handler(m.Wrap(mux))) // before the session is opened
	// docs:end
}

var _ = crossOrigin
