// Package eventrec records the events an httpx.Manager reports, for tests.
package eventrec

import (
	"context"
	"sync"

	"github.com/sealedsession/sealedsession/httpx"
)

// Recorder is an httpx.Observer that keeps every event, safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []httpx.Event
}

// Observe records e.
func (r *Recorder) Observe(_ context.Context, e httpx.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []httpx.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]httpx.Event(nil), r.events...)
}

// Kinds returns the kinds of the events so far, in order.
func (r *Recorder) Kinds() []httpx.EventKind {
	var out []httpx.EventKind
	for _, e := range r.Events() {
		out = append(out, e.Kind)
	}
	return out
}

// Reasons returns the ReasonLabel of every event of kind k, in order.
func (r *Recorder) Reasons(k httpx.EventKind) []string {
	var out []string
	for _, e := range r.Events() {
		if e.Kind == k {
			out = append(out, httpx.ReasonLabel(e.Reason))
		}
	}
	return out
}

// Reset forgets the events so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
