// Package sealedsession is the root of a Go library that keeps a web
// application's whole session in the browser, sealed with
// XChaCha20-Poly1305 into size-bounded cookies.
//
// The work is split into packages with one job each:
//
//   - [github.com/sealedsession/sealedsession/sealed]: bytes to a sealed,
//     authenticated envelope and back, with a rotating key ring.
//   - [github.com/sealedsession/sealedsession/codec]: the session payload
//     (a fixed binary header and lazily decoded typed values).
//   - [github.com/sealedsession/sealedsession/versioning]: whether a sealed
//     session is still current (timeouts, generations, user epochs,
//     revocations) and the stores that hold the little server state.
//   - [github.com/sealedsession/sealedsession/httpx]: the http.Handler
//     middleware and the Session a handler sees.
//
// # Backwards compatibility
//
// The wire format is versioned (see SPEC.md). A payload written by an
// older format version is upgraded by a registered migration; an unknown
// version is rejected, never guessed at.
package sealedsession
