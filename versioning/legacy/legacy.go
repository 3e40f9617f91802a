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
// user epoch 0, with the old cookie's Fingerprint (the same for every copy
// of one cookie) and Expires, so that the HTTP layer imports a logged-in
// cookie at most once and never after the user was logged out (see
// httpx.Config.Legacy). Remove the old keys once every legacy cookie has
// expired (MaxAge after the switch).
//
// A legacy cookie name without the __Host- prefix can be planted by a
// sibling subdomain or a plain-http page: someone holding a legacy cookie
// of their own account could log a victim in as themselves during the
// migration window. NewReader refuses such a name unless
// Options.AllowUnprefixedName accepts that risk; keep the window short.
package legacy

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
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
	// Domain and Path are the old cookie's Domain and Path attributes, so
	// that clearing it reaches the cookie the browser holds. Default: no
	// Domain, Path "/" (gorilla/sessions' defaults).
	Domain, Path string
	// AllowUnprefixedName accepts a CookieName without the __Host- prefix
	// (gorilla/sessions applications rarely used one). Such a cookie can be
	// planted by a sibling subdomain or over plain http, so an attacker's
	// own legacy cookie could log a victim in as the attacker until the
	// legacy reader is turned off or the attacker's cookie is imported once.
	AllowUnprefixedName bool
}

// Cookie is a legacy cookie read by Read.
type Cookie struct {
	// Payload is the new session: the old values, the user (if the Map
	// set one), a fresh session ID, IssuedAt and LastSeen now.
	Payload *codec.Payload
	// Fingerprint identifies the old cookie (a hash of its authenticated
	// bytes): every copy of one cookie has the same fingerprint, however
	// its value is encoded, so an import can be remembered.
	Fingerprint codec.SessionID
	// Issued is the old cookie's own timestamp; Expires is when Read stops
	// accepting it (Issued + MaxAge).
	Issued, Expires time.Time
}

// Reader decodes legacy gorilla/sessions cookies. It is safe for
// concurrent use.
type Reader struct {
	name   string
	sc     *securecookie.SecureCookie
	maxAge time.Duration
	mapFn  MapFunc
	clear  string
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
	case !strings.HasPrefix(o.CookieName, "__Host-") && !o.AllowUnprefixedName:
		return nil, fmt.Errorf("%w: CookieName %q has no __Host- prefix, so it can be planted by a sibling subdomain; set AllowUnprefixedName to accept that for the migration window", ErrConfig, o.CookieName)
	case strings.ContainsAny(o.Domain+o.Path, "; \t\r\n,"):
		return nil, fmt.Errorf("%w: Domain and Path must be plain attribute values", ErrConfig)
	}
	if o.Path == "" {
		o.Path = "/"
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
	clear := o.CookieName + "=; Path=" + o.Path
	if o.Domain != "" {
		clear += "; Domain=" + o.Domain
	}
	clear += "; Max-Age=0"
	if strings.HasPrefix(o.CookieName, "__Host-") || strings.HasPrefix(o.CookieName, "__Secure-") {
		clear += "; Secure" // browsers ignore a prefixed cookie without it
	}
	return &Reader{name: o.CookieName, sc: sc, maxAge: o.MaxAge, mapFn: o.Map, clear: clear}, nil
}

// ClearCookie returns the Set-Cookie value that deletes the legacy cookie,
// with the Domain and Path it was issued with.
func (r *Reader) ClearCookie() string { return r.clear }

// CookieName returns the name of the legacy cookie this Reader reads.
func (r *Reader) CookieName() string { return r.name }

// Read decodes the legacy cookie value (the cookie's value as sent by the
// browser), checks its age against now, hands its values to the MapFunc
// and returns the old cookie with a new, current, dirty payload: a fresh
// session ID, IssuedAt and LastSeen equal to now. A value that fails
// authentication, decoding or the age check gives an error matching
// ErrInvalid; a MapFunc error is returned wrapped, as is a failure to draw
// a session ID.
func (r *Reader) Read(value string, now time.Time) (Cookie, error) {
	if len(value) > maxValueLen {
		return Cookie{}, fmt.Errorf("%w: value is %d bytes, limit %d", ErrInvalid, len(value), maxValueLen)
	}
	values := make(map[any]any)
	if err := r.sc.Decode(r.name, value, &values); err != nil {
		return Cookie{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// The MAC has been verified, so the timestamp is authentic.
	ts, fp, err := timestamp(value)
	if err != nil {
		return Cookie{}, err
	}
	issued := time.Unix(ts, 0)
	if issued.Add(r.maxAge).Before(now) {
		return Cookie{}, fmt.Errorf("%w: expired (issued %s, max age %v)", ErrInvalid, issued.UTC().Format(time.RFC3339), r.maxAge)
	}
	if issued.After(now.Add(maxFuture)) {
		return Cookie{}, fmt.Errorf("%w: issued in the future (%s)", ErrInvalid, issued.UTC().Format(time.RFC3339))
	}
	id, err := codec.NewSessionID()
	if err != nil {
		return Cookie{}, fmt.Errorf("legacy: %w", err)
	}
	p := codec.NewPayload(codec.Header{Version: codec.Version, ID: id, IssuedAt: now, LastSeen: now})
	if err := r.mapFn(values, p); err != nil {
		return Cookie{}, fmt.Errorf("legacy: map values: %w", err)
	}
	h := p.Header()
	if len(h.UserID) > codec.MaxUserIDLen {
		return Cookie{}, fmt.Errorf("legacy: map values: user ID is %d bytes, at most %d", len(h.UserID), codec.MaxUserIDLen)
	}
	// Whatever Map did to the header, the result is a new session.
	h.Version, h.ID, h.IssuedAt, h.LastSeen = codec.Version, id, now, now
	p.MarkDirty()
	return Cookie{Payload: p, Fingerprint: fp, Issued: issued, Expires: issued.Add(r.maxAge)}, nil
}

// timestamp extracts the Unix-seconds timestamp securecookie embeds in
// an authenticated value ("date|value|mac", base64url with padding), and
// the fingerprint of those decoded bytes.
func timestamp(value string) (int64, codec.SessionID, error) {
	var fp codec.SessionID
	b, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		return 0, fp, fmt.Errorf("%w: bad base64", ErrInvalid)
	}
	date, _, ok := bytes.Cut(b, []byte("|"))
	if !ok {
		return 0, fp, fmt.Errorf("%w: no timestamp", ErrInvalid)
	}
	ts, err := strconv.ParseInt(string(date), 10, 64)
	if err != nil {
		return 0, fp, fmt.Errorf("%w: bad timestamp", ErrInvalid)
	}
	sum := sha256.Sum256(append([]byte("sealedsession legacy cookie\x00"), b...))
	copy(fp[:], sum[:])
	return ts, fp, nil
}
