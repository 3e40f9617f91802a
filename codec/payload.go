package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// MaxNameLen is the longest value name, in bytes.
const MaxNameLen = 64

// flashName is the reserved name under which flash messages are stored.
const flashName = "_flash"

// Values is anything that holds a session payload. *Payload implements it,
// and so does the session type of the HTTP layer, so a Key works on both.
type Values interface {
	// Payload returns the payload that holds the values. It must not
	// return nil for a usable session.
	Payload() *Payload
}

// entry is one named value, kept as its raw CBOR encoding.
type entry struct {
	name string
	raw  []byte
}

// Payload is a decoded session payload: the header and the named values,
// each kept as raw CBOR and decoded only when a Key asks for it.
//
// Reading (Get, Lookup, Raw, Names, EncodedLen, AppendEncode) may happen
// from several goroutines at once; anything that changes the payload (Set,
// Delete, ClearValues, AddFlash, Flashes, MarkDirty, the Header pointer)
// needs exclusive access.
//
// Ownership: Decode copies the values section of its input once, so the
// caller may reuse or overwrite the input buffer as soon as Decode returns.
type Payload struct {
	hdr     Header
	entries []entry   // sorted by name, names unique
	inline  [6]entry  // backing store for the entries of small payloads (most sessions)
	dec     *decoding // limits and decode mode; nil: the defaults
	dirty   bool
	guard   Guard // vets each change of the values; nil: none
}

// A Guard vets changes to a payload's values (see Payload.SetGuard).
type Guard interface {
	// CheckChange is called after each change of the values (Key.Set,
	// Key.Delete, AddFlash, ClearValues, the removal done by Flashes)
	// with the payload as changed. An error undoes the change and is
	// returned by the call that made it.
	CheckChange(p *Payload) error
}

// NewPayload returns a payload with header h (its Version is set to
// Version) and no values, using the default Limits.
//
// A new payload is not dirty: a brand-new session that nothing was stored in
// has nothing worth writing. Any later change (a Set, Delete, AddFlash...)
// makes it dirty; call MarkDirty to force a write.
func NewPayload(h Header) *Payload {
	h.Version = Version
	return &Payload{hdr: h}
}

// Decode decodes a payload: the header, and an index of the values, which
// stay raw CBOR until a Key asks for one. lim may be nil for the defaults.
//
// An input longer than lim.MaxSize gives ErrTooLarge without being read; an
// unknown format version gives a *VersionError (Is ErrUnsupportedVersion);
// more values than lim.MaxItems gives ErrLimit; any other structural fault
// gives ErrMalformed. Decode keeps no reference to b.
func Decode(b []byte, lim *Limits) (*Payload, error) {
	return decode(b, lim, false)
}

// DecodeOwnedInto is Decode for a caller that hands b over, into a
// Payload the caller provides (for example embedded in a per-request
// structure): the payload keeps referring to b instead of copying it, which
// saves a copy and two allocations per request. The caller must never
// modify b afterwards. p is overwritten entirely; on error its contents are
// unspecified.
func DecodeOwnedInto(p *Payload, b []byte, lim *Limits) error {
	*p = Payload{}
	return decodeInto(p, b, lim, true)
}

func decode(b []byte, lim *Limits, owned bool) (*Payload, error) {
	p := new(Payload)
	if err := decodeInto(p, b, lim, owned); err != nil {
		return nil, err
	}
	return p, nil
}

func decodeInto(p *Payload, b []byte, lim *Limits, owned bool) error {
	d := defaultDecoding
	if lim != nil {
		var err error
		if d, err = decodingFor(lim.resolve()); err != nil {
			return err
		}
	}
	if len(b) > d.lim.MaxSize {
		return fmt.Errorf("%w: payload is %d bytes, limit is %d", ErrTooLarge, len(b), d.lim.MaxSize)
	}
	p.dec = d
	n, err := decodeHeaderInto(&p.hdr, b, owned)
	if err != nil {
		return err
	}
	rest := b[n:]
	count, k := binary.Uvarint(rest)
	if k <= 0 || k != uvarintLen(count) {
		return fmt.Errorf("%w: bad value count", ErrMalformed)
	}
	rest = rest[k:]
	if count > uint64(d.lim.MaxItems) {
		return fmt.Errorf("%w: %d values, limit is %d", ErrLimit, count, d.lim.MaxItems)
	}
	// Each entry takes at least 3 bytes (name length, 1-byte name, value
	// length) plus a value of at least 1 byte.
	if count > uint64(len(rest)/4) {
		return fmt.Errorf("%w: %d values do not fit in %d bytes", ErrMalformed, count, len(rest))
	}
	if count == 0 {
		if len(rest) != 0 {
			return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
		}
		return nil
	}
	// One private copy of the values section. It is never written to, so
	// names can be strings that share its memory.
	buf := rest
	if !owned {
		buf = bytes.Clone(rest)
	}
	if count <= uint64(len(p.inline)) {
		p.entries = p.inline[:0]
	} else {
		p.entries = make([]entry, 0, count)
	}
	i := 0
	prev := ""
	for c := uint64(0); c < count; c++ {
		if i >= len(buf) {
			return fmt.Errorf("%w: value %d truncated", ErrMalformed, c)
		}
		nl := int(buf[i])
		i++
		if nl == 0 || nl > MaxNameLen || len(buf)-i < nl {
			return fmt.Errorf("%w: value %d: bad name length %d", ErrMalformed, c, nl)
		}
		if err := checkNameChars(buf[i : i+nl]); err != nil {
			return fmt.Errorf("%w: value %d: name %v", ErrMalformed, c, err)
		}
		name := unsafe.String(&buf[i], nl)
		i += nl
		if c > 0 && name <= prev {
			return fmt.Errorf("%w: value names not in strictly ascending order at %q", ErrMalformed, name)
		}
		prev = name
		vl, k := binary.Uvarint(buf[i:])
		if k <= 0 || k != uvarintLen(vl) {
			return fmt.Errorf("%w: value %q: bad length", ErrMalformed, name)
		}
		i += k
		if vl == 0 || vl > uint64(len(buf)-i) {
			return fmt.Errorf("%w: value %q: length %d out of range", ErrMalformed, name, vl)
		}
		end := i + int(vl)
		p.entries = append(p.entries, entry{name: name, raw: buf[i:end:end]})
		i = end
	}
	if i != len(buf) {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(buf)-i)
	}
	return nil
}

// uvarintLen returns the length of the minimal unsigned varint form of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Header returns a pointer to the payload's header. Changing the header
// through it does not make the payload dirty; call MarkDirty if the change
// must be written.
func (p *Payload) Header() *Header { return &p.hdr }

// Payload returns p, which makes *Payload a Values.
func (p *Payload) Payload() *Payload { return p }

// Limits returns the decode limits the payload's values are decoded with.
func (p *Payload) Limits() Limits { return p.decoding().lim }

// EncodedLen returns the exact number of bytes AppendEncode adds.
func (p *Payload) EncodedLen() int {
	n := p.hdr.EncodedLen() + uvarintLen(uint64(len(p.entries)))
	for _, e := range p.entries {
		n += 1 + len(e.name) + uvarintLen(uint64(len(e.raw))) + len(e.raw)
	}
	return n
}

// AppendEncode appends the wire form of the payload to dst. Values that
// were not changed are copied as the raw bytes they were decoded from.
// The output is deterministic: the same header and values always give the
// same bytes.
//
// It panics if the header's UserID is longer than MaxUserIDLen; use Encode
// to get an error instead.
func (p *Payload) AppendEncode(dst []byte) []byte {
	dst = slices.Grow(dst, p.EncodedLen())
	dst, err := AppendHeader(dst, &p.hdr)
	if err != nil {
		panic(err.Error() + " (check the user ID length or use Payload.Encode)")
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.entries)))
	for _, e := range p.entries {
		dst = append(dst, byte(len(e.name)))
		dst = append(dst, e.name...)
		dst = binary.AppendUvarint(dst, uint64(len(e.raw)))
		dst = append(dst, e.raw...)
	}
	return dst
}

// Encode is AppendEncode that returns an error (Is ErrTooLarge) instead
// of panicking when the header's user ID is too long.
func (p *Payload) Encode(dst []byte) ([]byte, error) {
	if len(p.hdr.UserID) > MaxUserIDLen {
		return dst, fmt.Errorf("%w: user ID is %d bytes, at most %d", ErrTooLarge, len(p.hdr.UserID), MaxUserIDLen)
	}
	return p.AppendEncode(dst), nil
}

// Dirty reports whether the values changed since Decode or NewPayload
// (a Set that stored different bytes, a Delete or ClearValues that removed
// something, AddFlash, a Flashes call that returned messages) or MarkDirty
// was called.
func (p *Payload) Dirty() bool { return p.dirty }

// MarkDirty marks the payload as changed, for example after a header update.
func (p *Payload) MarkDirty() { p.dirty = true }

// ClearValues deletes every value, flash messages included. It makes the
// payload dirty if there was anything to delete. It fails, changing
// nothing, when the payload's Guard refuses.
func (p *Payload) ClearValues() error {
	if len(p.entries) == 0 {
		return nil
	}
	old, oldDirty := p.entries, p.dirty
	p.entries = nil
	p.dirty = true
	if err := p.runCheck(); err != nil {
		p.entries, p.dirty = old, oldDirty
		return err
	}
	return nil
}

// SetGuard installs g to vet every later change of the values: when
// g.CheckChange returns an error, the change is undone and the error
// returned by the call that made it. The HTTP layer uses it to refuse a
// value that would not fit the cookie budget when it is set, and every
// change once the response has started. nil removes the guard.
func (p *Payload) SetGuard(g Guard) { p.guard = g }

func (p *Payload) runCheck() error {
	if p.guard == nil {
		return nil
	}
	return p.guard.CheckChange(p)
}

// Len returns the number of stored values (flash messages count as one).
func (p *Payload) Len() int { return len(p.entries) }

// Names returns the names of the stored values in ascending byte order,
// including reserved names such as "_flash".
func (p *Payload) Names() []string {
	names := make([]string, len(p.entries))
	for i, e := range p.entries {
		names[i] = e.name
	}
	return names
}

// Raw returns a copy of the raw CBOR encoding of the named value.
func (p *Payload) Raw(name string) ([]byte, bool) {
	raw, ok := p.raw(name)
	if !ok {
		return nil, false
	}
	return bytes.Clone(raw), true
}

// find returns the index of name, or where it would be inserted.
func (p *Payload) find(name string) (int, bool) {
	// Payloads hold few values: a linear scan beats binary search for
	// small counts.
	if len(p.entries) <= 8 {
		for i, e := range p.entries {
			if e.name >= name {
				return i, e.name == name
			}
		}
		return len(p.entries), false
	}
	return slices.BinarySearchFunc(p.entries, name, func(e entry, n string) int {
		return strings.Compare(e.name, n)
	})
}

func (p *Payload) raw(name string) ([]byte, bool) {
	i, ok := p.find(name)
	if !ok {
		return nil, false
	}
	return p.entries[i].raw, true
}

// setRaw stores raw (owned by the payload from now on) under name. When
// the Guard refuses the result, nothing changes and its error is returned.
func (p *Payload) setRaw(name string, raw []byte) error {
	i, ok := p.find(name)
	oldDirty := p.dirty
	var oldRaw []byte
	if ok {
		if bytes.Equal(p.entries[i].raw, raw) {
			return nil
		}
		oldRaw = p.entries[i].raw
		p.entries[i].raw = raw
	} else {
		p.entries = slices.Insert(p.entries, i, entry{name: name, raw: raw})
	}
	p.dirty = true
	if p.guard != nil {
		if err := p.guard.CheckChange(p); err != nil {
			if ok {
				p.entries[i].raw = oldRaw
			} else {
				p.entries = slices.Delete(p.entries, i, i+1)
			}
			p.dirty = oldDirty
			return err
		}
	}
	return nil
}

// del removes name and reports whether it was present. When the Guard
// refuses, nothing changes and its error is returned.
func (p *Payload) del(name string) (bool, error) {
	i, ok := p.find(name)
	if !ok {
		return false, nil
	}
	e, oldDirty := p.entries[i], p.dirty
	p.entries = slices.Delete(p.entries, i, i+1)
	p.dirty = true
	if p.guard != nil {
		if err := p.guard.CheckChange(p); err != nil {
			p.entries = slices.Insert(p.entries, i, e)
			p.dirty = oldDirty
			return false, err
		}
	}
	return true, nil
}

// AddFlash appends a flash message, to be read once by Flashes (typically
// on the next request). It makes the payload dirty. It fails, changing
// nothing, when the payload's Guard refuses (for a session: the message
// would not fit the cookie budget, or the response has started).
func (p *Payload) AddFlash(msg string) error {
	msgs := p.flashes()
	msgs = append(msgs, msg)
	raw, err := encMode.Marshal(msgs)
	if err != nil {
		// A []string always encodes; unreachable.
		panic("codec: encoding flash messages: " + err.Error())
	}
	return p.setRaw(flashName, raw)
}

// Flashes returns the flash messages in the order they were added and
// removes them, so each is read once. It makes the payload dirty if there
// were any (or if a corrupt flash value had to be dropped). When the
// Guard refuses the removal, the messages are returned but stay stored.
func (p *Payload) Flashes() []string {
	if _, ok := p.raw(flashName); !ok {
		return nil
	}
	msgs := p.flashes()
	_, _ = p.del(flashName)
	return msgs
}

// flashes decodes the stored flash messages; a corrupt value counts as none.
func (p *Payload) flashes() []string {
	raw, ok := p.raw(flashName)
	if !ok {
		return nil
	}
	var msgs []string
	if err := unmarshal(p.decoding().dm, raw, &msgs); err != nil {
		return nil
	}
	return msgs
}
