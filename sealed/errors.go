package sealed

import "errors"

// Errors returned by this package. Use [errors.Is] to test for them.
// None of them carries key material, plaintext or the sealed text.
var (
	// ErrInvalidKey means a key (or one entry of a key ring's text form)
	// is not a valid key: wrong length, bad encoding, bad checksum.
	ErrInvalidKey = errors.New("sealed: invalid key")
	// ErrEmptyKeyring means a key ring would have no key at all.
	ErrEmptyKeyring = errors.New("sealed: empty key ring")
	// ErrDuplicateKey means two keys of a key ring have the same key ID
	// (the same secret, or, very rarely, two secrets whose IDs collide).
	ErrDuplicateKey = errors.New("sealed: duplicate key")
	// ErrPrimaryKey means the operation would remove the primary key.
	ErrPrimaryKey = errors.New("sealed: cannot remove the primary key")
	// ErrPrimaryDropped means a new key ring (see [Keyring.Replace])
	// would drop the current primary key without an accept-only step: its
	// primary is not in the current ring, and the current primary is not
	// in it either.
	ErrPrimaryDropped = errors.New("sealed: new key ring drops the primary key without an accept-only step")
	// ErrMalformed means a sealed text is not a well-formed envelope:
	// bad or non-canonical base64url, too short, or an unsupported format
	// version.
	ErrMalformed = errors.New("sealed: malformed envelope")
	// ErrUnknownKey means the envelope names a key ID that is not in the
	// key ring (for Open), or the ID is not in the ring (for Remove).
	ErrUnknownKey = errors.New("sealed: unknown key ID")
	// ErrAuthFailed means the envelope did not authenticate: it was
	// tampered with, truncated, sealed for another purpose or context, or
	// sealed by a different secret that happens to share the key ID.
	ErrAuthFailed = errors.New("sealed: message authentication failed")
	// ErrTooLarge means a sealed text is (or would be) longer than the
	// Sealer's MaxSize.
	ErrTooLarge = errors.New("sealed: envelope too large")
)

// errVersion is returned for an envelope whose version byte is not
// [Version]. It is pre-built so rejecting costs no allocation.
var errVersion = &wrapped{msg: "sealed: malformed envelope: unsupported format version", err: ErrMalformed}

// wrapped is a fixed error message that matches a sentinel with errors.Is.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }
