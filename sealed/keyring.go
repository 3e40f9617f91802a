package sealed

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Keyring is an ordered set of keys: the first (primary) key seals, every
// key opens. It is safe for concurrent use: [Keyring.Rotate] and
// [Keyring.Remove] may run while other goroutines seal and open; each
// Seal or Open sees the ring either wholly before or wholly after a change,
// and changes apply to operations that start after they return.
//
// Reads take no lock: the ring is an immutable snapshot behind an atomic
// pointer, replaced as a whole by Rotate and Remove.
type Keyring struct {
	mu    sync.Mutex // serialises writers
	state atomic.Pointer[ringState]
}

// ringState is one immutable snapshot of a key ring.
type ringState struct {
	keys []*Key // primary first; never empty
}

func (s *ringState) lookup(id KeyID) (*Key, int) {
	for i, k := range s.keys {
		if k.id == id {
			return k, i
		}
	}
	return nil, -1
}

// NewKeyring returns a ring whose primary (sealing) key is primary and
// whose previous keys only open, newest first. A nil key is
// [ErrInvalidKey]; two keys with the same ID are [ErrDuplicateKey].
func NewKeyring(primary *Key, previous ...*Key) (*Keyring, error) {
	keys := make([]*Key, 0, 1+len(previous))
	keys = append(keys, primary)
	keys = append(keys, previous...)
	for i, k := range keys {
		if k == nil || k.secret == nil {
			return nil, fmt.Errorf("%w at position %d: nil key", ErrInvalidKey, i+1)
		}
		if err := checkDuplicate(keys[:i], k, i+1); err != nil {
			return nil, err
		}
	}
	r := new(Keyring)
	r.state.Store(&ringState{keys: keys})
	return r, nil
}

// checkDuplicate reports whether k (at 1-based position pos) repeats a key
// of before, in words that never include key material.
func checkDuplicate(before []*Key, k *Key, pos int) error {
	for j, o := range before {
		if o.id != k.id {
			continue
		}
		if o.equal(k) {
			return fmt.Errorf("%w: position %d repeats position %d", ErrDuplicateKey, pos, j+1)
		}
		return fmt.Errorf("%w: position %d has the same key ID (%s) as position %d; generate another key", ErrDuplicateKey, pos, k.id, j+1)
	}
	return nil
}

// ParseKeyring parses the text form written by [Keyring.Export]: key texts
// (see [ParseKey]) separated by commas, the primary first and then older
// keys, newest first. White space around entries is ignored. Errors name
// the 1-based position and the problem (empty entry, bad base64url, wrong
// length, bad checksum, duplicate of an earlier position) and wrap
// [ErrEmptyKeyring], [ErrInvalidKey] or [ErrDuplicateKey]; they never
// contain key material.
func ParseKeyring(s string) (*Keyring, error) {
	if trimWS(s) == "" {
		return nil, ErrEmptyKeyring
	}
	parts := strings.Split(s, ",")
	keys := make([]*Key, 0, len(parts))
	for i, p := range parts {
		k, reason := parseKey(trimWS(p))
		if reason != "" {
			return nil, fmt.Errorf("%w at position %d: %s", ErrInvalidKey, i+1, reason)
		}
		if err := checkDuplicate(keys, k, i+1); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys[0], keys[1:]...)
}

// Primary returns the key that seals.
func (r *Keyring) Primary() *Key { return r.state.Load().keys[0] }

// Keys returns the ring's keys, primary first. The slice is a copy.
func (r *Keyring) Keys() []*Key {
	ks := r.state.Load().keys
	return append([]*Key(nil), ks...)
}

// Lookup returns the key with the given ID, if the ring holds it.
func (r *Keyring) Lookup(id KeyID) (*Key, bool) {
	k, _ := r.state.Load().lookup(id)
	return k, k != nil
}

// Rotate makes newPrimary the sealing key; the previous primary stays in
// the ring as an open-only key. If newPrimary is already in the ring as an
// open-only key (rolled out accept-only first), it is promoted; if it is
// already the primary, Rotate does nothing. A different secret with the
// ID of a key in the ring is [ErrDuplicateKey]. Rotate is safe for
// concurrent use and applies to Seal calls that start after it returns.
func (r *Keyring) Rotate(newPrimary *Key) error {
	if newPrimary == nil || newPrimary.secret == nil {
		return fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.state.Load()
	keys := make([]*Key, 0, len(old.keys)+1)
	keys = append(keys, newPrimary)
	if k, i := old.lookup(newPrimary.id); k != nil {
		if !k.equal(newPrimary) {
			return fmt.Errorf("%w: the new key has the same key ID (%s) as position %d; generate another key", ErrDuplicateKey, k.id, i+1)
		}
		if i == 0 {
			return nil
		}
		keys = append(keys, old.keys[:i]...)
		keys = append(keys, old.keys[i+1:]...)
	} else {
		keys = append(keys, old.keys...)
	}
	r.state.Store(&ringState{keys: keys})
	return nil
}

// Remove drops the key with the given ID, so that envelopes it sealed no
// longer open. Removing the primary is [ErrPrimaryKey] (rotate first); an
// ID not in the ring is [ErrUnknownKey]. Remove is safe for concurrent
// use and applies to Open calls that start after it returns.
func (r *Keyring) Remove(id KeyID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.state.Load()
	_, i := old.lookup(id)
	switch {
	case i < 0:
		return fmt.Errorf("%w: %s", ErrUnknownKey, id)
	case i == 0:
		return fmt.Errorf("%w: %s", ErrPrimaryKey, id)
	}
	keys := make([]*Key, 0, len(old.keys)-1)
	keys = append(keys, old.keys[:i]...)
	keys = append(keys, old.keys[i+1:]...)
	r.state.Store(&ringState{keys: keys})
	return nil
}

// Export returns the ring's text form (see [ParseKeyring]): every key's
// [Key.Export], primary first, joined by commas. Treat it as a secret.
func (r *Keyring) Export() string {
	ks := r.state.Load().keys
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.Export())
	}
	return b.String()
}

// String returns the key IDs only, primary first and marked with "*", for
// example "sealed.Keyring[1a2b3c4d* 5e6f7081]".
func (r *Keyring) String() string {
	if r == nil {
		return "sealed.Keyring(nil)"
	}
	var b strings.Builder
	b.WriteString("sealed.Keyring[")
	for i, k := range r.state.Load().keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k.id.String())
		if i == 0 {
			b.WriteByte('*')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// GoString returns the same as [Keyring.String].
func (r *Keyring) GoString() string { return r.String() }

// Format implements [fmt.Formatter]: every verb prints [Keyring.String],
// padded to the width if one is set (as [Key.Format]).
func (r *Keyring) Format(f fmt.State, verb rune) { writePadded(f, r.String()) }
