package promsession

import "github.com/sealedsession/sealedsession/httpx"

// Chain is httpx.MultiObserver.
//
// Deprecated: use httpx.MultiObserver, which every observer module shares.
func Chain(observers ...httpx.Observer) httpx.Observer {
	return httpx.MultiObserver(observers...)
}
