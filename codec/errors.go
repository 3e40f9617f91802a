package codec

import "errors"

// Errors returned by this package. Use errors.Is to test for them.
var (
	// ErrUnsupportedVersion means the payload's format version is not one
	// this package reads; versioning uses it to run migrations.
	ErrUnsupportedVersion = errors.New("codec: unsupported payload format version")
	// ErrMalformed means the payload bytes are not a well-formed payload.
	ErrMalformed = errors.New("codec: malformed payload")
	// ErrTooLarge means an encoded payload or field is over its size limit.
	ErrTooLarge = errors.New("codec: too large")
	// ErrNotFound means the session has no value under the key's name.
	ErrNotFound = errors.New("codec: value not found")
	// ErrType means a stored value does not decode into the key's type.
	ErrType = errors.New("codec: value does not decode into the requested type")
	// ErrLimit means a value exceeds a decode limit (depth, items, size).
	ErrLimit = errors.New("codec: decode limit exceeded")
	// ErrSchemaMismatch means a [Strict] key found a stored value whose
	// fields differ from its type's: a field the type does not have, one
	// it has but the value lacks, or one stored in another form. A key
	// that is not strict would have decoded it, silently dropping or
	// zeroing those fields. Errors matching it also match ErrType.
	ErrSchemaMismatch = errors.New("codec: stored value's fields differ from the type's")
)
