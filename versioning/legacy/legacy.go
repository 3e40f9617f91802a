// Package legacy reads cookies written by gorilla/sessions' CookieStore
// (github.com/gorilla/securecookie with the application's old hash and
// block keys, values gob-encoded as map[interface{}]interface{}), so that
// an application moving to sealedsession keeps its users logged in: the
// HTTP layer tries a Reader on a request that has the old cookie and no
// sealed session, and writes the result as a sealed session.
//
// The application supplies a MapFunc that copies the old, untyped values
// into typed codec keys and, for a logged-in user, sets the payload
// header's UserID. Custom types stored in the old sessions must still be
// registered with encoding/gob (as the old application did) for their
// values to decode.
//
// # Security considerations
//
// The cookie is authenticated with the old hash key (HMAC) before
// anything in it is decoded, and its embedded timestamp is checked against
// MaxAge with the given clock. The result is always a new session: a new
// random session ID, IssuedAt and LastSeen set to now, generation 0 and
// user epoch 0. A caller that uses user epochs should set the header's
// UserEpoch to the user's current epoch after Read (the old cookie
// predates any forced logout it could be compared with). Remove the old
// keys once every legacy cookie has expired (MaxAge after the switch).
package legacy

import (
	"bytes"
	"crypto/aes"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/sealedsession/sealedsession/codec"
)

// DefaultMaxAge is gorilla/sessions' default cookie lifetime, 30 days.
const DefaultMaxAge = 30 * 24 * time.Hour

// maxFuture is how far in the future a legacy timestamp may be (clock
// skew between the old servers and this one).
const maxFuture = 5 * time.Minute

// maxValueLen is the longest cookie value read (securecookie's own limit
// for values it writes).
const maxValueLen = 4096

// MapFunc copies the values of an old session into p, a new current
// payload: typed values with codec keys, and p.Header().UserID for a
// logged-in user. An error from it is returned by Read (wrapped).
type MapFunc func(values map[any]any, p *codec.Payload) error

// Options configures a Reader.
type Options struct {
	// CookieName is the old session's name (the name given to
	// CookieStore.Get), which is also the cookie's name and is bound into
	// its MAC. Required.
	CookieName string
	// HashKey is the old CookieStore's hash (authentication) key. Required.
	HashKey []byte
	// BlockKey is the old CookieStore's block (encryption) key: 16, 24 or
	// 32 bytes, or nil if the old cookies were not encrypted.
	BlockKey []byte
	// MaxAge is the oldest cookie accepted, from the timestamp inside it.
	// Default DefaultMaxAge (gorilla/sessions' default).
	MaxAge time.Duration
	// Map copies the old values into the new payload. Required.
	Map MapFunc
}

// Reader decodes legacy gorilla/sessions cookies. It is safe for
// concurrent use.
type Reader struct {
	name   string
	sc     *securecookie.SecureCookie
	maxAge time.Duration
	mapFn  MapFunc
}

// NewReader returns a Reader for o. It fails with an error matching
// ErrConfig if a required field is missing or a key has a bad length.
func NewReader(o Options) (*Reader, error) {
	switch {
	case o.CookieName == "":
		return nil, fmt.Errorf("%w: CookieName is required", ErrConfig)
	case len(o.HashKey) == 0:
		return nil, fmt.Errorf("%w: HashKey is required", ErrConfig)
	case o.Map == nil:
		return nil, fmt.Errorf("%w: Map is required", ErrConfig)
	case o.MaxAge < 0:
		return nil, fmt.Errorf("%w: MaxAge must not be negative", ErrConfig)
	}
	if o.BlockKey != nil {
		if _, err := aes.NewCipher(o.BlockKey); err != nil {
			return nil, fmt.Errorf("%w: BlockKey must be 16, 24 or 32 bytes, got %d", ErrConfig, len(o.BlockKey))
		}
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	// securecookie copies neither key; keep private copies so the caller
	// may wipe or reuse theirs.
	hash := bytes.Clone(o.HashKey)
	var block []byte
	if o.BlockKey != nil {
		block = bytes.Clone(o.BlockKey)
	}
	// Age is checked here against the caller's clock, so securecookie's own
	// wall-clock check is disabled.
	sc := securecookie.New(hash, block).MaxAge(0).MaxLength(maxValueLen)
	return &Reader{name: o.CookieName, sc: sc, maxAge: o.MaxAge, mapFn: o.Map}, nil
}

// CookieName returns the name of the legacy cookie this Reader reads.
func (r *Reader) CookieName() string { return r.name }

// Read decodes the legacy cookie value (the cookie's value as sent by the
// browser), checks its age against now, hands its values to the MapFunc
// and returns a new, current, dirty payload: a fresh session ID, IssuedAt
// and LastSeen equal to now. A value that fails authentication, decoding
// or the age check gives an error matching ErrInvalid; a MapFunc error is
// returned wrapped, as is a failure to draw a session ID.
func (r *Reader) Read(value string, now time.Time) (*codec.Payload, error) {
	if len(value) > maxValueLen {
		return nil, fmt.Errorf("%w: value is %d bytes, limit %d", ErrInvalid, len(value), maxValueLen)
	}
	values := make(map[any]any)
	if err := r.sc.Decode(r.name, value, &values); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// The MAC has been verified, so the timestamp is authentic.
	ts, err := timestamp(value)
	if err != nil {
		return nil, err
	}
	issued := time.Unix(ts, 0)
	if issued.Add(r.maxAge).Before(now) {
		return nil, fmt.Errorf("%w: expired (issued %s, max age %v)", ErrInvalid, issued.UTC().Format(time.RFC3339), r.maxAge)
	}
	if issued.After(now.Add(maxFuture)) {
		return nil, fmt.Errorf("%w: issued in the future (%s)", ErrInvalid, issued.UTC().Format(time.RFC3339))
	}
	id, err := codec.NewSessionID()
	if err != nil {
		return nil, fmt.Errorf("legacy: %w", err)
	}
	p := codec.NewPayload(codec.Header{Version: codec.Version, ID: id, IssuedAt: now, LastSeen: now})
	if err := r.mapFn(values, p); err != nil {
		return nil, fmt.Errorf("legacy: map values: %w", err)
	}
	h := p.Header()
	if len(h.UserID) > codec.MaxUserIDLen {
		return nil, fmt.Errorf("legacy: map values: user ID is %d bytes, at most %d", len(h.UserID), codec.MaxUserIDLen)
	}
	// Whatever Map did to the header, the result is a new session.
	h.Version, h.ID, h.IssuedAt, h.LastSeen = codec.Version, id, now, now
	p.MarkDirty()
	return p, nil
}

// timestamp extracts the Unix-seconds timestamp securecookie embeds in
// an authenticated value ("date|value|mac", base64url with padding).
func timestamp(value string) (int64, error) {
	b, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		return 0, fmt.Errorf("%w: bad base64", ErrInvalid)
	}
	date, _, ok := bytes.Cut(b, []byte("|"))
	if !ok {
		return 0, fmt.Errorf("%w: no timestamp", ErrInvalid)
	}
	ts, err := strconv.ParseInt(string(date), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad timestamp", ErrInvalid)
	}
	return ts, nil
}
