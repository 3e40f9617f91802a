// Package docs_test compiles (and, where it can, runs) every Go snippet of
// README.md and docs/*.md. Each snippet sits verbatim between a
// "docs:begin NAME" and a "docs:end" comment; TestSnippetsCompiled checks
// that every ```go block of the documentation appears in one of these
// files, so the code shown is the code compiled.
package docs_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
)

// Cart is the typed session value the snippets store.
type Cart struct {
	Items []string
}

var cartKey = codec.NewKey[Cart]("cart")

// What the deployment snippets take from the application.
var (
	logger = slog.Default()
	geoDB  cityDB
)

// cityDB stands for the application's own offline IP-to-location database.
type cityDB struct{}

type city struct{ Lat, Lon float64 }

func (cityDB) Lookup(netip.Addr) (city, bool) { return city{}, false }

// notify stands for the application's pager.
func notify(format string, args ...any) { _ = fmt.Sprintf(format, args...) }

// newKeys returns a fresh one-key ring for the tests that run.
// newKeys is the shared test kit's fresh key ring.
var newKeys = testkit.NewRing

var (
	_ = context.Background
	_ http.Handler
	_ httpx.Observer
)
