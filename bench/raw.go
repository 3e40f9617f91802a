package bench

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// RawLimit is the physical limit of sealedsession's construction: the same
// envelope layout (version byte, 4-byte key ID, 24-byte nonce, ciphertext,
// 16-byte tag, base64url without padding, AAD = version, key ID and cookie
// name) over the same plaintext bytes, with no framework at all. It finds
// its cookie with a plain scan of the Cookie header, opens it in a pooled
// buffer and, for read-modify-write, changes one byte, seals with a fresh
// nonce and writes the Set-Cookie line by hand.
type RawLimit struct {
	aead   cipher.AEAD
	name   string
	prefix string // name + "="
	hdr    [5]byte
	pool   sync.Pool
}

var errRawMalformed = errors.New("bench: raw limit: malformed cookie")

const rawHeader = 5 + chacha20poly1305.NonceSizeX

// NewRawLimit returns the raw limit for cookies named name.
func NewRawLimit(name string) *RawLimit {
	key := sha256.Sum256([]byte("bench raw limit key"))
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic(err) // a 32-byte key cannot fail
	}
	rl := &RawLimit{aead: aead, name: name, prefix: name + "="}
	rl.hdr = [5]byte{0x01, 0x5e, 0xa1, 0xed, 0x01}
	rl.pool.New = func() any { b := make([]byte, 0, 8192); return &b }
	return rl
}

// Seal returns the cookie text of plaintext.
func (rl *RawLimit) Seal(plaintext []byte) string {
	buf := rl.seal(make([]byte, 0, rawHeader+len(plaintext)+16), plaintext)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (rl *RawLimit) seal(dst, plaintext []byte) []byte {
	dst = append(dst, rl.hdr[:]...)
	var nonce [chacha20poly1305.NonceSizeX]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
	dst = append(dst, nonce[:]...)
	var aad [5 + 64]byte
	a := append(append(aad[:0], rl.hdr[:]...), rl.name...)
	return rl.aead.Seal(dst, nonce[:], plaintext, a)
}

// Open returns the plaintext of a cookie text, appended to dst.
func (rl *RawLimit) Open(dst []byte, text string) ([]byte, error) {
	n := base64.RawURLEncoding.DecodedLen(len(text))
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	raw := dst[len(dst) : len(dst)+n]
	if _, err := base64.RawURLEncoding.Decode(raw, []byte(text)); err != nil {
		return nil, errRawMalformed
	}
	if len(raw) < rawHeader+16 || [5]byte(raw[:5]) != rl.hdr {
		return nil, errRawMalformed
	}
	var aad [5 + 64]byte
	a := append(append(aad[:0], rl.hdr[:]...), rl.name...)
	ct := raw[rawHeader:]
	return rl.aead.Open(ct[:0], raw[5:rawHeader], ct, a)
}

// cookieValue finds the value of the cookie named by rl in a Cookie header
// without allocating.
func (rl *RawLimit) cookieValue(h string) (string, bool) {
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ";")
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, rl.prefix); ok {
			return v, true
		}
	}
	return "", false
}

func (rl *RawLimit) serve(w http.ResponseWriter, r *http.Request, write bool) {
	var text string
	ok := false
	for _, h := range r.Header["Cookie"] {
		if text, ok = rl.cookieValue(h); ok {
			break
		}
	}
	if !ok {
		fail(w, errNoSession)
		return
	}
	bp := rl.pool.Get().(*[]byte)
	defer rl.pool.Put(bp)
	pt, err := rl.Open((*bp)[:0], text)
	if err != nil || len(pt) == 0 {
		fail(w, errNoSession)
		return
	}
	if !write {
		return
	}
	pt[len(pt)-1]++ // the change
	// Seal into the same buffer after the plaintext, then base64 after that.
	sealed := rl.seal(pt[len(pt):], pt)
	enc := base64.RawURLEncoding.EncodedLen(len(sealed))
	line := make([]byte, 0, len(rl.prefix)+enc+64)
	line = append(line, rl.prefix...)
	line = base64.RawURLEncoding.AppendEncode(line, sealed)
	line = append(line, "; Path=/; Max-Age="...)
	line = strconv.AppendInt(line, 1800, 10)
	line = append(line, "; HttpOnly; Secure; SameSite=Lax"...)
	w.Header()["Set-Cookie"] = append(w.Header()["Set-Cookie"], string(line))
}

// NewRaw sets up the raw-limit contender over plaintext (sealedsession's
// encoded payload, so that the cookie is byte for byte as long as ours).
func NewRaw(name string, plaintext []byte) (*Contender, *RawLimit) {
	rl := NewRawLimit(name)
	cookie := name + "=" + rl.Seal(plaintext)
	return &Contender{
		Name:   "raw",
		Cookie: cookie,
		Read:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rl.serve(w, r, false) }),
		RMW:    http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rl.serve(w, r, true) }),
	}, rl
}
