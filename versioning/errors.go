package versioning

import (
	"errors"
	"fmt"

	"github.com/sealedsession/sealedsession/codec"
)

// Errors returned by this package and by Store implementations. Use
// errors.Is to test for them: the Checker often returns a struct error
// ([*EpochError], [*RevokedError], [*StoreError]) that matches one of these.
var (
	// ErrIdleExpired means the session was not used for longer than the
	// policy's idle timeout.
	ErrIdleExpired = errors.New("versioning: session idle timeout expired")
	// ErrAbsoluteExpired means the session is older than the policy's
	// absolute timeout.
	ErrAbsoluteExpired = errors.New("versioning: session absolute timeout expired")
	// ErrIssuedInFuture means the session's issued-at or last-seen time is
	// further in the future than the tolerated clock skew.
	ErrIssuedInFuture = errors.New("versioning: session issued in the future")
	// ErrEpochBumped means the user's epoch was bumped (forced logout)
	// after the session was issued.
	ErrEpochBumped = errors.New("versioning: user epoch bumped")
	// ErrRevoked means the session ID was revoked (logout).
	ErrRevoked = errors.New("versioning: session revoked")
	// ErrUnsupportedVersion means the payload format version is not one
	// this build can read and no migration upgrades it. It is
	// codec.ErrUnsupportedVersion (one sentinel for both layers); the error
	// is a *codec.VersionError.
	ErrUnsupportedVersion = codec.ErrUnsupportedVersion
	// ErrStoreUnavailable means the epoch/revocation store could not
	// answer (down, closed, cancelled, unwritable). Store implementations
	// wrap it in their system-failure errors.
	ErrStoreUnavailable = errors.New("versioning: store unavailable")
	// ErrClosed means a Store was used after Close. Stores return it
	// wrapped together with ErrStoreUnavailable.
	ErrClosed = errors.New("versioning: store closed")
	// ErrInvalidPolicy means a Policy or CheckerOptions value is out of
	// range; the message says which field.
	ErrInvalidPolicy = errors.New("versioning: invalid policy")
	// ErrInvalidMigration means a migration was registered twice, for the
	// current version, with a nil step, or produced the wrong version.
	ErrInvalidMigration = errors.New("versioning: invalid migration")
)

// EpochError is the Checker's rejection of a session whose captured user
// epoch is below the user's current effective epoch. It matches
// ErrEpochBumped.
type EpochError struct {
	UserID  string // the session's user
	Have    uint64 // epoch captured in the session
	Current uint64 // effective epoch in the store
}

// Error describes the failure; it never contains key material.
func (e *EpochError) Error() string {
	return fmt.Sprintf("versioning: user epoch bumped (session has %d, current %d)", e.Have, e.Current)
}

// Is reports whether target is ErrEpochBumped.
func (e *EpochError) Is(target error) bool { return target == ErrEpochBumped }

// RevokedError is the Checker's rejection of a revoked session ID. It
// matches ErrRevoked. Its message carries only the ID's log tag.
type RevokedError struct {
	ID     codec.SessionID // the revoked session ID
	UserID string          // the session's user, "" if anonymous
}

// Error describes the failure; it never contains key material.
func (e *RevokedError) Error() string {
	return "versioning: session " + e.ID.Tag() + " revoked"
}

// Is reports whether target is ErrRevoked.
func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// StoreError is a Store failure seen by the Checker. It matches
// ErrStoreUnavailable and unwraps to the store's own error.
type StoreError struct {
	Op  string // "lookup" (the Checker's one per-user read)
	Err error  // the store's error
}

// Error describes the failure; it never contains key material.
func (e *StoreError) Error() string {
	return "versioning: store unavailable (" + e.Op + "): " + e.Err.Error()
}

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// Is reports whether target is ErrStoreUnavailable.
func (e *StoreError) Is(target error) bool { return target == ErrStoreUnavailable }
