// Package bench measures sealedsession against its peers and against the
// physical limit of its construction (XChaCha20-Poly1305 plus base64url of
// the same bytes). Every contender carries the same session, defined here,
// and does the same request work: read the cookie, open it and read a value
// (read-only), or additionally change the cart and write the cookie back
// (read-modify-write).
//
// The benchmarks live in bench_test.go, the report generator in
// cmd/report, the load-test server in cmd/helloserver and the load script
// in load.sh. This is its own module so that the peers never enter the
// library's go.mod.
package bench

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// CartItem is one line of the shopping cart carried in the session.
type CartItem struct {
	SKU        string `json:"sku" cbor:"1,keyasint"`
	Qty        int    `json:"qty" cbor:"2,keyasint"`
	PriceCents int64  `json:"price" cbor:"3,keyasint"`
}

// Session is the application session every contender stores: who the user
// is, what they may do, a CSRF token, a flash message, a cart and a locale,
// plus the bookkeeping fields a stateless session needs (issued-at,
// last-seen, generation, user epoch).
type Session struct {
	UserID     string
	Roles      []string
	CSRF       []byte // 32 bytes
	Flash      string
	Cart       []CartItem
	Locale     string
	IssuedAt   time.Time
	LastSeen   time.Time
	Generation uint32
	UserEpoch  uint64
}

// Value names used by every contender that stores named values.
const (
	NameRoles  = "roles"
	NameCSRF   = "csrf"
	NameFlash  = "flash"
	NameCart   = "cart"
	NameLocale = "locale"
	NameUserID = "uid"
	NameIssued = "iat"
	NameSeen   = "seen"
	NameGen    = "gen"
	NameEpoch  = "epoch"
)

// CSRFToken returns the fixed 32-byte CSRF token of the benchmark payloads
// (fixed so that cookie sizes are the same on every run).
func CSRFToken() []byte {
	sum := sha256.Sum256([]byte("sealedsession bench csrf token"))
	return sum[:]
}

// baseTime is a fixed instant used by tests; benchmarks use time.Now so that
// the sessions are current.
var baseTime = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func newSession(items int, now time.Time) Session {
	if now.IsZero() {
		now = baseTime
	}
	now = now.Truncate(time.Millisecond)
	cart := make([]CartItem, items)
	for i := range cart {
		cart[i] = CartItem{
			SKU:        fmt.Sprintf("SKU-%05d", 10000+i*137),
			Qty:        1 + i%4,
			PriceCents: int64(499 + i*250),
		}
	}
	return Session{
		UserID:     "u-1842",
		Roles:      []string{"admin", "editor"},
		CSRF:       CSRFToken(),
		Flash:      "Saved successfully",
		Cart:       cart,
		Locale:     "en-GB",
		IssuedAt:   now.Add(-10 * time.Minute),
		LastSeen:   now,
		Generation: 3,
		UserEpoch:  7,
	}
}

// Typical returns the typical session: user "u-1842", roles admin and
// editor, a 32-byte CSRF token, one flash message, a cart of 3 items and
// locale "en-GB". Timestamps are relative to now (a fixed instant if now is
// zero), truncated to milliseconds.
func Typical(now time.Time) Session { return newSession(3, now) }

// Large returns the large session: the typical one with 40 cart items.
func Large(now time.Time) Session { return newSession(40, now) }

// Payloads lists the named payloads the contender benchmarks run on.
func Payloads(now time.Time) []NamedSession {
	return []NamedSession{{"typical", Typical(now)}, {"large", Large(now)}}
}

// NamedSession is a session with the name benchmarks and reports use.
type NamedSession struct {
	Name    string
	Session Session
}

// Bump is the read-modify-write change every contender makes: one more of
// the first cart item, in place (every contender decodes a fresh cart per
// request, so changing it in place is safe).
func Bump(cart []CartItem) {
	if len(cart) > 0 {
		cart[0].Qty++
	}
}
