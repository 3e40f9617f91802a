package redisstore

import (
	"errors"

	"github.com/sealedsession/sealedsession/versioning"
)

// Errors returned by this package. Failures to reach Redis are not listed
// here: they match [versioning.ErrStoreUnavailable] (see [Store]).
var (
	// ErrInvalidOptions means New was given a nil client or an Options
	// field out of range; the message says which.
	ErrInvalidOptions = errors.New("redisstore: invalid options")
	// ErrNotReplicated means a write ran on the master but fewer than
	// Options.MinReplicas replicas confirmed it within Options.WaitTimeout
	// (or WAIT failed). The write may be lost if the master fails before
	// replicating it, so it must not be reported as done; retrying is safe
	// (a bump twice logs out just the same). It always comes wrapped in an
	// error that also matches versioning.ErrStoreUnavailable.
	ErrNotReplicated = errors.New("redisstore: write not confirmed by enough replicas")
	// ErrBadMessage means an invalidation message on the channel could not
	// be parsed. The store never returns it to callers: it flushes its cache
	// instead. It is exported for [ParseMessage].
	ErrBadMessage = errors.New("redisstore: malformed invalidation message")
	// ErrBucketsMismatch means the bucket count stored in Redis differs
	// from Options.Buckets: the store would look for users in the wrong
	// buckets, so it refuses every call (WaitReady included) from the
	// moment it finds out. It always comes wrapped in an error that also
	// matches versioning.ErrStoreUnavailable.
	ErrBucketsMismatch = errors.New("redisstore: Options.Buckets differs from the bucket count in Redis")
)

// unavailableError is every system failure of the store: Redis could not be
// reached or answered with an error, the context ended, or the store was
// closed. It matches versioning.ErrStoreUnavailable and unwraps to the
// cause (a go-redis or net error, a context error, versioning.ErrClosed).
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	return "redisstore: " + e.op + ": store unavailable: " + e.err.Error()
}

func (e *unavailableError) Unwrap() error { return e.err }

func (e *unavailableError) Is(target error) bool { return target == versioning.ErrStoreUnavailable }

func unavailable(op string, err error) error { return &unavailableError{op: op, err: err} }

// errNotCached is the cause of a stale read that has nothing to serve.
var errNotCached = errors.New("no cached answer young enough")
