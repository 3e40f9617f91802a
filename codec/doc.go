// Package codec turns a session payload into bytes and back. It knows
// nothing of cryptography or HTTP.
//
// A payload is a fixed binary [Header] (session ID, timestamps, generation,
// user ID and epoch) followed by named values. Each value is stored as one
// deterministic CBOR item and stays raw until a typed [Key] asks for it, so
// reading the header, or one value, costs nothing for the others; values
// that were not changed are written back byte for byte.
//
//	var cartKey = codec.NewKey[Cart]("cart")
//	cart, ok := cartKey.Get(session)
//	err := cartKey.Set(session, cart)
//
// # Values
//
// Values are encoded with github.com/fxamacker/cbor/v2 in the RFC 8949 core
// deterministic profile. A time.Time is stored as RFC 3339 text with
// nanoseconds: it round-trips to the nanosecond with its UTC offset (a UTC
// time comes back as UTC; a time in the local zone comes back in
// time.Local when the offset matches; other zones come back as a fixed
// zone with the same offset; the monotonic clock reading is dropped). The
// zero time.Time is stored as CBOR null and comes back as the zero time.
//
// Decoding is bounded by [Limits]: the payload size (checked before any
// work), the number of values, the nesting depth and the number of
// elements of any array or map. Duplicate map keys and indefinite-length
// items are rejected.
//
// # Errors
//
// Untrusted bytes never cause a panic. An unknown format version gives a
// [*VersionError] (errors.Is [ErrUnsupportedVersion]) for the versioning
// package's migrations; other faults give [ErrMalformed], [ErrTooLarge] or
// [ErrLimit]; a value that does not decode into the key's type gives a
// [*TypeError] ([ErrType]).
//
// The wire layout is specified in the project's SPEC.md (payload section).
package codec
