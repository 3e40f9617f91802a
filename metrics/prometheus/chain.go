package promsession

import (
	"context"
	"time"

	"github.com/sealedsession/sealedsession/httpx"
)

// Chain returns an httpx.Observer that passes every event to each of
// observers in order, so that metrics and logging can both watch one
// Manager:
//
//	httpx.Config{Observer: promsession.Chain(metrics, httpx.NewSlogObserver(logger))}
//
// nil observers are skipped. When exactly one is left it is returned as
// is; when none is left Chain returns nil (no observer). The result is an
// httpx.OverheadObserver exactly when at least one of the observers is,
// and then forwards ObserveOverhead to those that are, so the Manager
// measures its overhead only when someone wants it.
func Chain(observers ...httpx.Observer) httpx.Observer {
	var list []httpx.Observer
	var over []httpx.OverheadObserver
	for _, o := range observers {
		if o == nil {
			continue
		}
		list = append(list, o)
		if oo, ok := o.(httpx.OverheadObserver); ok {
			over = append(over, oo)
		}
	}
	switch {
	case len(list) == 0:
		return nil
	case len(list) == 1:
		return list[0]
	case len(over) == 0:
		return chain(list)
	}
	return overheadChain{chain: list, over: over}
}

type chain []httpx.Observer

func (c chain) Observe(ctx context.Context, e httpx.Event) {
	for _, o := range c {
		o.Observe(ctx, e)
	}
}

type overheadChain struct {
	chain
	over []httpx.OverheadObserver
}

func (c overheadChain) ObserveOverhead(d time.Duration) {
	for _, o := range c.over {
		o.ObserveOverhead(d)
	}
}
