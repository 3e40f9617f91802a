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
// # Evolving a value type
//
// A value outlives the code that wrote it: a cookie sealed before a deploy
// comes back after it. By default a key reads leniently, like
// encoding/json: a struct field the stored value lacks stays zero and a
// stored field the struct lacks is dropped, so renaming Qty to Quantity
// makes every existing cart read back with ok == true and Quantity == 0.
// Adding a field, or dropping one, is safe in that mode; renaming or
// retyping one is not.
//
// A key made with [Strict] refuses such a value instead: Lookup returns an
// error matching [ErrSchemaMismatch] (Get reports false) when the stored
// value has a field the type lacks, lacks a field of the type (one without
// omitempty), or stores a field in another form. To change a value's type:
//
//  1. give the new type a new key name, versioned: "cart.v2" beside "cart";
//  2. read the new key; if it is not found, read the old key with the old
//     type, convert the value, Set it under the new key and Delete the old
//     one (see the example of [Strict]);
//  3. once every session has passed the absolute timeout since the deploy,
//     remove the old key and type.
//
// Adding a field with omitempty (`cbor:",omitempty"`) keeps one key name,
// strict or not: values written before it simply lack the field.
//
// # Errors
//
// Untrusted bytes never cause a panic. An unknown format version gives a
// [*VersionError] (errors.Is [ErrUnsupportedVersion]) for the versioning
// package's migrations; other faults give [ErrMalformed], [ErrTooLarge] or
// [ErrLimit]; a value that does not decode into the key's type gives a
// [*TypeError] ([ErrType]; also [ErrSchemaMismatch] for a [Strict] key
// whose type's fields differ from the stored value's).
//
// The wire layout is specified in the project's SPEC.md (payload section).
package codec
