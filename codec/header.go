package codec

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
	"unsafe"
)

// Version is the payload format version this package writes. It is the
// first byte of every encoded payload.
const Version = 1

// FixedHeaderSize is the size in bytes of the header without the user ID:
// version, flags, session ID, issued-at, last-seen, generation, user epoch
// and the user ID's length byte.
const FixedHeaderSize = 1 + 1 + 16 + 8 + 8 + 4 + 8 + 1

// MaxUserIDLen is the longest user ID a header can carry, in bytes.
const MaxUserIDLen = 255

// SessionID is a 128-bit random session identifier.
type SessionID [16]byte

// NewSessionID returns a session ID of 128 bits from crypto/rand.
func NewSessionID() (SessionID, error) {
	var id SessionID
	if _, err := rand.Read(id[:]); err != nil {
		return SessionID{}, fmt.Errorf("codec: new session ID: %w", err)
	}
	return id, nil
}

// String returns the session ID as 32 lowercase hex digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// Tag returns a short, non-reversible tag of the session ID (the first 8
// hex digits of its SHA-256), safe to write to logs.
func (id SessionID) Tag() string {
	sum := sha256.Sum256(id[:])
	return hex.EncodeToString(sum[:4])
}

// IsZero reports whether id is the zero ID (no session).
func (id SessionID) IsZero() bool { return id == SessionID{} }

// ParseSessionID parses the 32-hex-digit form that String returns.
func ParseSessionID(s string) (SessionID, error) {
	var id SessionID
	if len(s) != 2*len(id) {
		return SessionID{}, fmt.Errorf("%w: session ID must be %d hex digits, got %d characters", ErrMalformed, 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return SessionID{}, fmt.Errorf("%w: session ID is not hex", ErrMalformed)
	}
	return id, nil
}

// Header is the fixed part of a session payload: who the session is, when
// it was issued and last seen, and the counters that decide whether it is
// still current.
type Header struct {
	// Version is the payload format version (Version when written by this package).
	Version uint8
	// Flags is reserved for future use; writers set it to 0.
	Flags uint8
	// ID is the session ID; it changes on login and regeneration.
	ID SessionID
	// IssuedAt is when this session ID was issued (millisecond precision).
	IssuedAt time.Time
	// LastSeen is the time of the last request that renewed the session
	// (millisecond precision).
	LastSeen time.Time
	// Generation rises on login, ID regeneration and privilege change.
	Generation uint32
	// UserEpoch is the user's epoch captured at login.
	UserEpoch uint64
	// UserID is the authenticated user, or "" for an anonymous session.
	UserID string
}

// EncodedLen returns the number of bytes AppendHeader adds.
func (h *Header) EncodedLen() int { return FixedHeaderSize + len(h.UserID) }

// AppendHeader appends the wire form of h to dst. It writes Version
// regardless of h.Version. A user ID longer than MaxUserIDLen is an error.
func AppendHeader(dst []byte, h *Header) ([]byte, error) {
	if len(h.UserID) > MaxUserIDLen {
		return dst, fmt.Errorf("%w: user ID is %d bytes, at most %d", ErrTooLarge, len(h.UserID), MaxUserIDLen)
	}
	dst = append(dst, Version, h.Flags)
	dst = append(dst, h.ID[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixMilli(h.IssuedAt)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixMilli(h.LastSeen)))
	dst = binary.BigEndian.AppendUint32(dst, h.Generation)
	dst = binary.BigEndian.AppendUint64(dst, h.UserEpoch)
	dst = append(dst, byte(len(h.UserID)))
	dst = append(dst, h.UserID...)
	return dst, nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// DecodeHeader decodes the header at the start of b and returns it with
// the number of bytes it used. A payload whose first byte is not Version
// gives an error that Is ErrUnsupportedVersion (b[0] is the version found).
func DecodeHeader(b []byte) (Header, int, error) {
	var h Header
	n, err := decodeHeaderInto(&h, b, false)
	if err != nil {
		return Header{}, 0, err
	}
	return h, n, nil
}

// decodeHeaderInto decodes the header into h. With owned, the user ID
// shares b's memory (the caller never modifies b).
func decodeHeaderInto(h *Header, b []byte, owned bool) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	if b[0] != Version {
		return 0, &VersionError{Version: b[0]}
	}
	if len(b) < FixedHeaderSize {
		return 0, fmt.Errorf("%w: header truncated", ErrMalformed)
	}
	h.Version = b[0]
	h.Flags = b[1]
	copy(h.ID[:], b[2:18])
	h.IssuedAt = fromUnixMilli(int64(binary.BigEndian.Uint64(b[18:26])))
	h.LastSeen = fromUnixMilli(int64(binary.BigEndian.Uint64(b[26:34])))
	h.Generation = binary.BigEndian.Uint32(b[34:38])
	h.UserEpoch = binary.BigEndian.Uint64(b[38:46])
	n := int(b[46])
	end := FixedHeaderSize + n
	if len(b) < end {
		return 0, fmt.Errorf("%w: user ID truncated", ErrMalformed)
	}
	switch {
	case n == 0:
		h.UserID = ""
	case owned:
		h.UserID = unsafe.String(&b[FixedHeaderSize], n)
	default:
		h.UserID = string(b[FixedHeaderSize:end])
	}
	return end, nil
}

// VersionError reports a payload format version this package cannot read.
// It matches ErrUnsupportedVersion with errors.Is; versioning uses Version
// to pick a migration.
type VersionError struct {
	Version uint8
}

// Error describes the failure; it never contains key material.
func (e *VersionError) Error() string {
	return fmt.Sprintf("codec: unsupported payload format version %d", e.Version)
}

// Is reports whether target is ErrUnsupportedVersion.
func (e *VersionError) Is(target error) bool { return target == ErrUnsupportedVersion }
