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
	"sync"

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
	logger = slog.New(logTap{slog.Default().Handler()})
	geoDB  cityDB
)

// logged holds the messages the snippets logged, for tests that wait for
// one (a refused key ring changes nothing else they could watch).
var logged struct {
	sync.Mutex
	msgs []string
}

// loggedCount returns how many times msg was logged so far.
func loggedCount(msg string) int {
	logged.Lock()
	defer logged.Unlock()
	n := 0
	for _, m := range logged.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// logTap passes the snippets' log records on and records their messages.
type logTap struct{ next slog.Handler }

func (h logTap) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h logTap) Handle(ctx context.Context, r slog.Record) error {
	logged.Lock()
	logged.msgs = append(logged.msgs, r.Message)
	logged.Unlock()
	return h.next.Handle(ctx, r)
}

func (h logTap) WithAttrs(as []slog.Attr) slog.Handler { return logTap{h.next.WithAttrs(as)} }
func (h logTap) WithGroup(name string) slog.Handler    { return logTap{h.next.WithGroup(name)} }

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
