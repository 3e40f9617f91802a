package sealed

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/hkdf"
)

const (
	// KeySize is the size, in bytes, of a configured key's secret.
	KeySize = 32
	// NonceSize is the size, in bytes, of the random XChaCha20-Poly1305
	// nonce carried in every envelope.
	NonceSize = 24
	// Overhead is the size, in bytes, of the Poly1305 authentication tag
	// that follows the ciphertext.
	Overhead = 16
	// Version is the envelope format version byte this package writes and
	// the only one it opens.
	Version = 0x01
	// HeaderSize is the size, in bytes, of the envelope header: the
	// version byte, the 4-byte big-endian key ID and the nonce.
	HeaderSize = 1 + 4 + NonceSize
)

// KeyPrefix starts the text form of a key written by [Key.Export].
const KeyPrefix = "ssk1_"

// Derivation labels (HKDF-SHA256 info strings); see SPEC.md.
const (
	keyIDInfo     = "sealedsession sealed v1 key id"
	subkeyInfoPfx = "sealedsession sealed v1 subkey for purpose "
)

// keyTextLen is the length of a key's text form: the prefix and the
// unpadded base64url of secret || key ID (36 bytes, 48 characters).
var keyTextLen = len(KeyPrefix) + base64.RawURLEncoding.EncodedLen(KeySize+4)

// b64 is the envelope and key encoding: base64url without padding, with
// canonical (zero) trailing bits required on decode.
var b64 = base64.RawURLEncoding.Strict()

// KeyID identifies a key inside an envelope. It is derived from the
// secret (see [Key.ID]) and is public.
type KeyID uint32

// String returns the ID as 8 lowercase hex digits, for example "1a2b3c4d".
func (id KeyID) String() string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(id))
	return hex.EncodeToString(b[:])
}

// Key is one configured secret and its key ID. A Key is immutable and safe
// for concurrent use. A Key and a *Key print as the key ID only, under
// every fmt verb ("sealed.Key(1a2b3c4d)"); the secret leaves a Key only
// through [Key.Export].
type Key struct {
	id KeyID
	// secret is behind two pointers on purpose. fmt cannot call Key's
	// methods when a Key is an unexported field of some other struct; it
	// then walks the fields itself, and for a verb a pointer does not
	// support (%s, %q) it prints the pointed-to array or struct in full.
	// It never follows a pointer to a pointer, so this prints as an
	// address under every verb. Read it only through bytes.
	secret **[KeySize]byte
}

// bytes returns the secret, or nil for a zero Key.
func (k *Key) bytes() *[KeySize]byte {
	if k.secret == nil {
		return nil
	}
	return *k.secret
}

// GenerateKey returns a new key with a secret read from crypto/rand. It
// returns an error, never a nil or weak key, if the random source fails.
func GenerateKey() (*Key, error) {
	var s [KeySize]byte
	if _, err := io.ReadFull(rand.Reader, s[:]); err != nil {
		return nil, fmt.Errorf("sealed: generate key: %w", err)
	}
	return newKey(&s), nil
}

// NewKey returns a key for a secret of exactly [KeySize] bytes. The
// secret is copied; the caller may reuse or wipe its slice afterwards.
// The secret must come from a cryptographically secure random source.
func NewKey(secret []byte) (*Key, error) {
	if len(secret) != KeySize {
		return nil, fmt.Errorf("%w: wrong length %d bytes, want %d", ErrInvalidKey, len(secret), KeySize)
	}
	var s [KeySize]byte
	copy(s[:], secret)
	return newKey(&s), nil
}

func newKey(s *[KeySize]byte) *Key {
	return &Key{id: deriveKeyID(s[:]), secret: &s}
}

// deriveKeyID is HKDF-SHA256(ikm = secret, salt = empty, info =
// keyIDInfo), 4 bytes, read as a big-endian uint32.
func deriveKeyID(secret []byte) KeyID {
	var b [4]byte
	r := hkdf.New(sha256.New, secret, nil, []byte(keyIDInfo))
	if _, err := io.ReadFull(r, b[:]); err != nil {
		panic("sealed: hkdf: " + err.Error()) // cannot happen: 4 bytes is far below the HKDF limit
	}
	return KeyID(binary.BigEndian.Uint32(b[:]))
}

// deriveSubkey is HKDF-SHA256(ikm = secret, salt = empty, info =
// subkeyInfoPfx || purpose), 32 bytes: the XChaCha20-Poly1305 key for
// one purpose.
func deriveSubkey(secret []byte, purpose string) [KeySize]byte {
	var k [KeySize]byte
	r := hkdf.New(sha256.New, secret, nil, []byte(subkeyInfoPfx+purpose))
	if _, err := io.ReadFull(r, k[:]); err != nil {
		panic("sealed: hkdf: " + err.Error()) // cannot happen: 32 bytes is far below the HKDF limit
	}
	return k
}

// ParseKey parses the text form written by [Key.Export]: "ssk1_" followed
// by the unpadded base64url of the 32-byte secret and its 4-byte key ID
// (which serves as a checksum against typing and pasting mistakes).
// Spaces, tabs, CR and LF around it are ignored. Errors wrap [ErrInvalidKey]
// and say what is wrong without quoting the input.
func ParseKey(s string) (*Key, error) {
	k, reason := parseKey(trimWS(s))
	if reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidKey, reason)
	}
	return k, nil
}

// parseKey returns the key or a reason that never contains input bytes.
func parseKey(s string) (*Key, string) {
	if s == "" {
		return nil, "empty"
	}
	if !strings.HasPrefix(s, KeyPrefix) {
		return nil, fmt.Sprintf("missing %q prefix (make keys with sealed.GenerateKey and Key.Export)", KeyPrefix)
	}
	body := s[len(KeyPrefix):]
	var raw [KeySize + 4 + 3]byte // room to report slightly-too-long input
	if b64.DecodedLen(len(body)) > len(raw) {
		return nil, fmt.Sprintf("wrong length: %d characters, want %d", len(s), keyTextLen)
	}
	if i := strings.IndexAny(body, "\r\n"); i >= 0 {
		return nil, fmt.Sprintf("bad base64url at offset %d", len(KeyPrefix)+i)
	}
	n, err := b64.Decode(raw[:], []byte(body))
	if err != nil {
		off := -1
		if ce, ok := err.(base64.CorruptInputError); ok {
			off = len(KeyPrefix) + int(ce)
		}
		if off >= 0 {
			return nil, fmt.Sprintf("bad base64url at offset %d (want the URL-safe alphabet without padding)", off)
		}
		return nil, "bad base64url"
	}
	if n != KeySize+4 {
		return nil, fmt.Sprintf("wrong length: %d bytes after decoding, want %d", n, KeySize+4)
	}
	var sec [KeySize]byte
	copy(sec[:], raw[:KeySize])
	k := newKey(&sec)
	var want [4]byte
	binary.BigEndian.PutUint32(want[:], uint32(k.id))
	if subtle.ConstantTimeCompare(want[:], raw[KeySize:KeySize+4]) != 1 {
		return nil, "checksum mismatch (the key ID suffix does not match the secret: mistyped or truncated key?)"
	}
	return k, ""
}

// ID returns the key's ID: the first 4 bytes of HKDF-SHA256 with the
// secret as input keying material, an empty salt and the info string
// "sealedsession sealed v1 key id", read big-endian (see SPEC.md).
func (k *Key) ID() KeyID { return k.id }

// String returns "sealed.Key(<id>)", the ID as 8 hex digits. It never
// includes the secret.
//
// String, GoString and Format have value receivers so that a Key value
// prints the same as a *Key. Calling them directly on a nil *Key panics,
// as any value method does; fmt prints a nil *Key as "<nil>".
func (k Key) String() string { return "sealed.Key(" + k.id.String() + ")" }

// GoString returns the same as [Key.String], so %#v never prints the secret.
func (k Key) GoString() string { return k.String() }

// Format implements [fmt.Formatter]: every verb, including %x, %d and %q
// that would otherwise print a struct field by field, prints [Key.String].
// A width pads it (on the left, or on the right with the '-' flag); other
// flags and the precision are ignored.
func (k Key) Format(f fmt.State, verb rune) { writePadded(f, k.String()) }

// writePadded writes s to f, padded with spaces to f's width if one is set.
func writePadded(f fmt.State, s string) {
	pad := ""
	if w, ok := f.Width(); ok && w > len(s) {
		pad = strings.Repeat(" ", w-len(s))
	}
	if f.Flag('-') {
		_, _ = io.WriteString(f, s+pad)
		return
	}
	_, _ = io.WriteString(f, pad+s)
}

// Export returns the key's secret in its text form (see [ParseKey]). Treat
// the result as a secret: it is all an attacker needs to forge sessions.
func (k *Key) Export() string {
	if k == nil || k.secret == nil {
		return "" // a zero Key has no secret
	}
	var raw [KeySize + 4]byte
	copy(raw[:], k.bytes()[:])
	binary.BigEndian.PutUint32(raw[KeySize:], uint32(k.id))
	return KeyPrefix + b64.EncodeToString(raw[:])
}

// equal reports whether two keys have the same secret.
func (k *Key) equal(o *Key) bool {
	return k.id == o.id && subtle.ConstantTimeCompare(k.bytes()[:], o.bytes()[:]) == 1
}

// trimWS removes the white space the text forms allow around a key: space,
// tab, CR and LF (see SPEC.md).
func trimWS(s string) string { return strings.Trim(s, " \t\r\n") }
