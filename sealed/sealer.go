package sealed

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
)

// DefaultMaxSize is the MaxSize a Sealer uses when [SealerOptions.MaxSize]
// is 0: 64 KiB of sealed text.
const DefaultMaxSize = 64 << 10

// MaxPurposeLen is the longest purpose string [NewSealer] accepts.
const MaxPurposeLen = 255

// binOverhead is what an envelope adds to the plaintext before base64url.
const binOverhead = HeaderSize + Overhead

// SealedLen returns the exact length of the text [Sealer.Seal] appends for
// a plaintext of plaintextLen bytes: the unpadded base64url length of
// HeaderSize + plaintextLen + Overhead bytes.
func SealedLen(plaintextLen int) int {
	return b64.EncodedLen(binOverhead + plaintextLen)
}

// OpenedLen returns the largest plaintext length n with SealedLen(n) <=
// textLen, so a caller with a budget of textLen characters knows how much
// plaintext fits. It is also an upper bound on what [Sealer.Open] appends
// for a text of textLen characters. It returns 0 when textLen is less
// than SealedLen(0), where not even an empty plaintext fits.
func OpenedLen(textLen int) int {
	if textLen < SealedLen(0) {
		return 0
	}
	return b64.DecodedLen(textLen) - binOverhead
}

// SealerOptions configures a [Sealer]. A nil *SealerOptions means the
// defaults.
type SealerOptions struct {
	// MaxSize is the longest sealed text, in bytes, that Seal produces and
	// Open accepts; longer texts are [ErrTooLarge], rejected by Open
	// before any decoding. 0 means [DefaultMaxSize]. It must be at least
	// SealedLen(0).
	MaxSize int
}

// Sealer seals and opens envelopes for one purpose (for example
// "cookie"), with the keys of a [Keyring]. Each key's XChaCha20-Poly1305
// key for the purpose is derived once with HKDF-SHA256 and cached, so
// Seal and Open do no key derivation. A Sealer is safe for concurrent use
// and follows changes of its ring ([Keyring.Rotate], [Keyring.Remove]).
//
// Two Sealers with different purposes never open each other's envelopes,
// even with the same key ring.
type Sealer struct {
	ring    *Keyring
	purpose string
	maxSize int

	mu    sync.Mutex // serialises rebuilds of state
	state atomic.Pointer[sealerState]
}

// sealerState caches one AEAD per key of one ring snapshot.
type sealerState struct {
	ring    *ringState
	entries []sealerEntry // same order as ring.keys: primary first
}

type sealerEntry struct {
	id   KeyID
	key  *Key
	aead cipher.AEAD
}

// OpenInfo describes which key opened an envelope.
type OpenInfo struct {
	// KeyID is the ID of the key that opened the envelope.
	KeyID KeyID
	// Primary reports whether that key is the ring's primary key. When it
	// is false the caller should re-seal the plaintext, so that the old
	// key can be retired.
	Primary bool
}

// NewSealer returns a Sealer for ring and purpose. The purpose must be
// 1 to [MaxPurposeLen] bytes; it selects the derived subkeys, so use a
// fixed string per use (for example "cookie", "csrf").
func NewSealer(ring *Keyring, purpose string, opts *SealerOptions) (*Sealer, error) {
	if ring == nil || ring.state.Load() == nil {
		return nil, ErrEmptyKeyring
	}
	if len(purpose) == 0 || len(purpose) > MaxPurposeLen {
		return nil, fmt.Errorf("sealed: purpose must be 1 to %d bytes, got %d", MaxPurposeLen, len(purpose))
	}
	limit := DefaultMaxSize
	if opts != nil && opts.MaxSize != 0 {
		limit = opts.MaxSize
	}
	if limit < SealedLen(0) {
		return nil, fmt.Errorf("sealed: MaxSize %d is below the smallest envelope (%d)", limit, SealedLen(0))
	}
	s := &Sealer{ring: ring, purpose: purpose, maxSize: limit}
	s.refresh(ring.state.Load())
	return s, nil
}

// Purpose returns the Sealer's purpose string.
func (s *Sealer) Purpose() string { return s.purpose }

// MaxSize returns the longest sealed text the Sealer produces and accepts.
func (s *Sealer) MaxSize() int { return s.maxSize }

// Keyring returns the Sealer's key ring.
func (s *Sealer) Keyring() *Keyring { return s.ring }

// current returns the cached AEADs for the ring's current snapshot.
func (s *Sealer) current() *sealerState {
	rs := s.ring.state.Load()
	if st := s.state.Load(); st.ring == rs {
		return st
	}
	return s.refresh(rs)
}

// refresh builds the state for ring snapshot rs, reusing the AEADs of
// keys that were already cached.
func (s *Sealer) refresh(rs *ringState) *sealerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	if old != nil && old.ring == rs {
		return old
	}
	st := &sealerState{ring: rs, entries: make([]sealerEntry, len(rs.keys))}
	for i, k := range rs.keys {
		st.entries[i] = sealerEntry{id: k.id, key: k}
		if old != nil {
			for _, e := range old.entries {
				if e.key == k {
					st.entries[i].aead = e.aead
					break
				}
			}
		}
		if st.entries[i].aead == nil {
			sub := deriveSubkey(k.bytes()[:], s.purpose)
			a, err := chacha20poly1305.NewX(sub[:])
			if err != nil {
				// Only possible in FIPS 140-only mode, where this package
				// cannot work at all; there is no sensible fallback.
				panic("sealed: " + err.Error())
			}
			st.entries[i].aead = a
		}
	}
	s.state.Store(st)
	return st
}

// scratch is a reusable buffer for the binary envelope and the AAD, so
// that Seal and Open allocate nothing in steady state.
type scratch struct{ b []byte }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch(n int) *scratch {
	sc := scratchPool.Get().(*scratch)
	if cap(sc.b) < n {
		sc.b = make([]byte, n)
	}
	sc.b = sc.b[:n]
	return sc
}

// grow returns dst extended by n bytes and the extension.
func grow(dst []byte, n int) (whole, tail []byte) {
	if total := len(dst) + n; cap(dst) >= total {
		whole = dst[:total]
	} else {
		whole = make([]byte, total)
		copy(whole, dst)
	}
	return whole, whole[len(dst):]
}

// Seal seals plaintext with the ring's primary key and appends the
// envelope's text to dst: the unpadded base64url of
// version || key ID || nonce || ciphertext || tag, with a fresh random
// 24-byte nonce. The additional data is version || key ID || context, so
// the envelope opens only with the same context (for example the cookie
// name). It appends exactly SealedLen(len(plaintext)) bytes and allocates
// nothing when dst has the capacity. It returns [ErrTooLarge] (and dst
// unchanged) if the text would be longer than MaxSize. dst may overlap
// plaintext and context: both are consumed before dst is written.
func (s *Sealer) Seal(dst, plaintext, context []byte) ([]byte, error) {
	return s.seal(dst, plaintext, context, nil)
}

// seal is Seal with an optional fixed nonce (for test vectors only).
func (s *Sealer) seal(dst, plaintext, context, nonce []byte) ([]byte, error) {
	if len(plaintext) > s.maxSize || SealedLen(len(plaintext)) > s.maxSize {
		return dst, ErrTooLarge
	}
	e := &s.current().entries[0]
	binLen := binOverhead + len(plaintext)
	sc := getScratch(binLen + 5 + len(context))
	buf := sc.b
	buf[0] = Version
	binary.BigEndian.PutUint32(buf[1:5], uint32(e.id))
	if nonce != nil {
		copy(buf[5:HeaderSize], nonce)
	} else if _, err := rand.Read(buf[5:HeaderSize]); err != nil {
		scratchPool.Put(sc)
		return dst, fmt.Errorf("sealed: read nonce: %w", err)
	}
	aad := buf[binLen:]
	copy(aad, buf[:5])
	copy(aad[5:], context)
	e.aead.Seal(buf[HeaderSize:HeaderSize:binLen], buf[5:HeaderSize], plaintext, aad)
	whole, tail := grow(dst, b64.EncodedLen(binLen))
	b64.Encode(tail, buf[:binLen])
	scratchPool.Put(sc)
	return whole, nil
}

// Open opens an envelope text sealed by [Sealer.Seal] with the same
// purpose and context and a key still in the ring, and appends the
// plaintext to dst. It checks, in this order: the text length against
// MaxSize ([ErrTooLarge], before any decoding), the canonical base64url
// form and minimum length ([ErrMalformed]), the version byte
// ([ErrMalformed]), the key ID ([ErrUnknownKey]: no other key is tried)
// and the authentication tag ([ErrAuthFailed]). On error dst is returned
// with its original length (its spare capacity may have been written).
// Open allocates nothing when dst has capacity for OpenedLen(len(text))
// more bytes. dst may overlap text and context (for example
// Open(text[:0], text, context) opens in place): both are consumed before
// dst is written.
func (s *Sealer) Open(dst, text, context []byte) ([]byte, OpenInfo, error) {
	if len(text) > s.maxSize {
		return dst, OpenInfo{}, ErrTooLarge
	}
	// A length of 1 mod 4 is never valid unpadded base64; checking it here
	// also makes the decoded-length check below catch ignored CR/LF.
	if len(text) < SealedLen(0) || len(text)%4 == 1 {
		return dst, OpenInfo{}, ErrMalformed
	}
	binLen := b64.DecodedLen(len(text))
	sc := getScratch(binLen + 5 + len(context))
	out, info, err := s.open(dst, text, context, sc.b, binLen)
	scratchPool.Put(sc)
	return out, info, err
}

// open is Open after the length checks, with buf (binLen bytes for the
// envelope, then room for the AAD) from the scratch pool.
func (s *Sealer) open(dst, text, context, buf []byte, binLen int) ([]byte, OpenInfo, error) {
	// encoding/base64 skips '\r' and '\n'; requiring the full decoded
	// length rejects any text that contains them.
	if n, err := b64.Decode(buf[:binLen], text); err != nil || n != binLen {
		return dst, OpenInfo{}, ErrMalformed
	}
	if buf[0] != Version {
		return dst, OpenInfo{}, errVersion
	}
	id := KeyID(binary.BigEndian.Uint32(buf[1:5]))
	st := s.current()
	var e *sealerEntry
	for i := range st.entries {
		if st.entries[i].id == id {
			e = &st.entries[i]
			break
		}
	}
	if e == nil {
		return dst, OpenInfo{}, ErrUnknownKey
	}
	aad := buf[binLen:]
	copy(aad, buf[:5])
	copy(aad[5:], context)
	out, err := e.aead.Open(dst, buf[5:HeaderSize], buf[HeaderSize:binLen], aad)
	if err != nil {
		return dst, OpenInfo{}, ErrAuthFailed
	}
	return out, OpenInfo{KeyID: id, Primary: e == &st.entries[0]}, nil
}
