package httpx

import (
	"context"
	"time"
)

// MultiObserver returns an Observer that passes every event to each of
// observers in order, so that metrics, logging and alerting can all watch
// one Manager:
//
//	httpx.Config{Observer: httpx.MultiObserver(metrics, httpx.NewSlogObserver(logger))}
//
// nil observers are skipped. When exactly one is left it is returned as
// is; when none is left MultiObserver returns nil (no observer). The
// result is an OverheadObserver exactly when at least one of the
// observers is, and then forwards ObserveOverhead to those that are, so
// the Manager measures its overhead only when someone wants it.
func MultiObserver(observers ...Observer) Observer {
	var list []Observer
	var over []OverheadObserver
	for _, o := range observers {
		if o == nil {
			continue
		}
		list = append(list, o)
		if oo, ok := o.(OverheadObserver); ok {
			over = append(over, oo)
		}
	}
	switch {
	case len(list) == 0:
		return nil
	case len(list) == 1:
		return list[0]
	case len(over) == 0:
		return multi(list)
	}
	return overheadMulti{multi: list, over: over}
}

type multi []Observer

func (c multi) Observe(ctx context.Context, e Event) {
	for _, o := range c {
		o.Observe(ctx, e)
	}
}

type overheadMulti struct {
	multi
	over []OverheadObserver
}

func (c overheadMulti) ObserveOverhead(d time.Duration) {
	for _, o := range c.over {
		o.ObserveOverhead(d)
	}
}
