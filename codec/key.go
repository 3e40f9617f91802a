package codec

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// Key names a session value of type T. Declare keys once, at package
// level, and use them from handlers:
//
//	var cartKey = codec.NewKey[Cart]("cart")
//
// The zero Key has no name: Get and Lookup find nothing and Set fails.
type Key[T any] struct {
	name   string
	strict bool
	slots  *sync.Pool // *T destinations for the general decoder, reused
	fast   *compiled  // T's compiled codec (see compiled.go); nil: none
}

// newSlots returns the pool of decode destinations of a Key[T]: the
// general CBOR decoder keeps its destination on the heap, so a reused one
// saves an allocation per read.
func newSlots[T any]() *sync.Pool {
	return &sync.Pool{New: func() any { return new(T) }}
}

// decode decodes raw into a T as the key says, leniently or strictly.
// Scalars take the fast path on the stack first. Everything else is
// decoded into one pooled destination (the CBOR decoder keeps its
// destination on the heap, and one on the stack would escape through the
// compiled functions, which are called through func values): by T's
// compiled codec (compiled.go) when the key is not strict and T has one,
// and by the CBOR decoder when it has none or declines.
func (k Key[T]) decode(p *Payload, raw []byte) (T, error) {
	var val T
	if fastUnmarshal(raw, &val) {
		return val, nil // scalars: nothing a strict key could find different
	}
	var dst *T
	if k.slots != nil {
		dst = k.slots.Get().(*T)
	} else {
		dst = new(T) // the zero Key (which has no compiled codec)
	}
	var zero T
	var err error
	if k.fast == nil || k.strict || !k.fast.decode(raw, unsafe.Pointer(dst), &p.decoding().lim) {
		*dst = zero // a declined compiled decode may leave a partial value
		if k.strict {
			err = decodeStrict(p, raw, dst)
		} else {
			err = decodeGuarded(p.decoding().dm, raw, dst)
		}
	}
	val = *dst
	*dst = zero
	if k.slots != nil {
		k.slots.Put(dst)
	}
	return val, err
}

// KeyOption changes how a [Key] reads its value; pass it to [NewKey].
type KeyOption func(*keyOptions)

type keyOptions struct{ strict bool }

// Strict makes a key refuse a stored value whose shape differs from the
// key's type, instead of filling in what it can. By default (as with
// encoding/json) a struct field the stored value lacks is left at its
// zero value and a stored field the struct lacks is dropped, so renaming
// a field makes Get report ok with that field silently zeroed. A strict
// key's Lookup returns a [*TypeError] matching [ErrSchemaMismatch] (and
// [ErrType]) when the stored value has a field T does not have, lacks a
// field of T (one without omitempty), or holds a field in a form T would
// store differently (its type changed, say int to float64). Its Get
// reports false. This holds at every nesting level (slices and maps of
// structs, nested structs).
//
// The check decodes with unknown fields refused and then re-encodes the
// result, which must give back the stored bytes exactly: a strict read of
// a struct costs about one extra encode of the value. Keys that are not
// strict pay nothing for it. See the package documentation for how to
// evolve a value type.
func Strict() KeyOption { return func(o *keyOptions) { o.strict = true } }

// NewKey returns the key for the value called name, with options such as
// [Strict]. It panics if name is empty, longer than MaxNameLen bytes,
// contains anything but printable ASCII other than space (0x21 to 0x7e),
// or starts with "_" (reserved for the library; flash messages live under
// "_flash"). Keys are declared by the program, never built from input, so
// a bad name is a programming error.
func NewKey[T any](name string, opts ...KeyOption) Key[T] {
	if err := checkName(name); err != nil {
		panic(fmt.Sprintf("codec: invalid key name %q: %v", name, err))
	}
	var o keyOptions
	for _, opt := range opts {
		opt(&o)
	}
	return Key[T]{name: name, strict: o.strict, slots: newSlots[T](), fast: compiledFor(reflect.TypeFor[T]())}
}

// NewReservedKey returns a key in the namespace reserved for sealedsession's
// own layers (names starting with "_", such as httpx's client binding).
// Applications use NewKey. It panics if name does not start with "_", is
// "_flash" (owned by AddFlash), or is otherwise invalid.
func NewReservedKey[T any](name string) Key[T] {
	switch {
	case len(name) < 2 || name[0] != '_':
		panic(fmt.Sprintf("codec: invalid reserved key name %q: must start with \"_\"", name))
	case name == flashName:
		panic(fmt.Sprintf("codec: invalid reserved key name %q: owned by AddFlash", name))
	case len(name) > MaxNameLen:
		panic(fmt.Sprintf("codec: invalid reserved key name %q: too long", name))
	}
	if err := checkNameChars([]byte(name)); err != nil {
		panic(fmt.Sprintf("codec: invalid reserved key name %q: %v", name, err))
	}
	return Key[T]{name: name, slots: newSlots[T](), fast: compiledFor(reflect.TypeFor[T]())}
}

// checkName validates a user-chosen value name.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%d bytes, at most %d", len(name), MaxNameLen)
	case name[0] == '_':
		return errors.New(`names starting with "_" are reserved for the library`)
	}
	return checkNameChars([]byte(name))
}

// checkNameChars checks that every byte of a name is printable ASCII
// other than space.
func checkNameChars(name []byte) error {
	for i, c := range name {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("byte %d is 0x%02x; only printable ASCII without spaces (0x21-0x7e) is allowed", i, c)
		}
	}
	return nil
}

// Name returns the key's name.
func (k Key[T]) Name() string { return k.name }

// IsStrict reports whether the key was made with [Strict].
func (k Key[T]) IsStrict() bool { return k.strict }

// String returns a description of the key for debugging, e.g.
// `codec.Key[main.Cart]("cart")`, or `codec.Key[main.Cart]("cart", strict)`.
func (k Key[T]) String() string {
	if k.strict {
		return fmt.Sprintf("codec.Key[%s](%q, strict)", typeName[T](), k.name)
	}
	return fmt.Sprintf("codec.Key[%s](%q)", typeName[T](), k.name)
}

// Get returns the value stored under the key and true, or the zero T and
// false if there is none or it does not decode into T, or, for a [Strict]
// key, if its shape differs from T (use Lookup to tell these apart). It
// never panics on stored bytes.
func (k Key[T]) Get(v Values) (T, bool) {
	var val T
	p := payloadOf(v)
	if p == nil {
		return val, false
	}
	raw, ok := p.raw(k.name)
	if !ok {
		return val, false
	}
	val, err := k.decode(p, raw)
	if err != nil {
		var zero T
		return zero, false
	}
	return val, true
}

// Lookup returns the value stored under the key. If there is none, the
// error Is ErrNotFound. If the stored bytes do not decode into T, it is a
// *TypeError (Is ErrType; also Is ErrLimit if a decode limit was hit, and
// Is ErrSchemaMismatch if the key is [Strict] and the value's fields
// differ from T's) and the zero T is returned.
func (k Key[T]) Lookup(v Values) (T, error) {
	var val T
	p := payloadOf(v)
	if p == nil {
		return val, fmt.Errorf("%w: %q (no payload)", ErrNotFound, k.name)
	}
	raw, ok := p.raw(k.name)
	if !ok {
		return val, fmt.Errorf("%w: %q", ErrNotFound, k.name)
	}
	val, err := k.decode(p, raw)
	if err != nil {
		var zero T
		return zero, &TypeError{Name: k.name, Type: typeName[T](), Err: err}
	}
	return val, nil
}

// Set encodes val (deterministic CBOR) and stores it under the key, so the
// payload's EncodedLen includes it at once. The payload becomes dirty
// unless the stored bytes were already identical. An error (Is ErrType)
// means T cannot be encoded (channels, functions...); ErrLimit means the
// value is nested deeper or has more elements than the payload's Limits
// allow; ErrTooLarge means the value alone exceeds Limits.MaxSize. When
// the payload's Guard refuses the result (for a session: over the cookie
// budget, or the response has started), the value is not stored and the
// Guard's error is returned.
func (k Key[T]) Set(v Values, val T) error {
	p := payloadOf(v)
	if p == nil {
		return fmt.Errorf("codec: set %q: no payload", k.name)
	}
	if k.name == "" {
		return errors.New("codec: set on the zero Key; create keys with NewKey")
	}
	d := p.decoding()
	raw, compiled := k.encodeCompiled(val, &d.lim)
	if !compiled {
		var err error
		if raw, err = encMode.Marshal(val); err != nil {
			return &encodeError{fmt.Sprintf("codec: set %q: a %s cannot be encoded: %v", k.name, typeName[T](), err)}
		}
	}
	if len(raw) > d.lim.MaxSize {
		return fmt.Errorf("%w: value %q is %d bytes, limit is %d", ErrTooLarge, k.name, len(raw), d.lim.MaxSize)
	}
	if !compiled {
		// The compiled encoder checks depth and items as it writes; the
		// library's output is checked here.
		if err := d.dm.Wellformed(raw); err != nil {
			if isLimitErr(err) {
				return fmt.Errorf("%w: value %q: %v", ErrLimit, k.name, err)
			}
			return &encodeError{fmt.Sprintf("codec: set %q: a %s encodes to invalid CBOR: %v", k.name, typeName[T](), err)}
		}
	}
	return p.setRaw(k.name, raw)
}

// encodeCompiled encodes val with T's compiled encoder (see compiled.go),
// which writes encMode's bytes within lim; false when T has none or val
// is beyond what it handles (then the library encodes it). It encodes a
// pooled copy of val, for val itself would escape.
func (k Key[T]) encodeCompiled(val T, lim *Limits) ([]byte, bool) {
	if k.fast == nil || k.fast.enc == nil {
		return nil, false
	}
	src := k.slots.Get().(*T)
	*src = val
	raw, ok := k.fast.encode(unsafe.Pointer(src), lim)
	var zero T
	*src = zero
	k.slots.Put(src)
	return raw, ok
}

// Delete removes the value stored under the key, if any; removing one
// makes the payload dirty. It fails, changing nothing, when the payload's
// Guard refuses (for a session: once its response has started).
func (k Key[T]) Delete(v Values) error {
	if p := payloadOf(v); p != nil {
		_, err := p.del(k.name)
		return err
	}
	return nil
}

// encodeError reports a value Set cannot store because its type does not
// encode (or encodes to invalid CBOR). It matches ErrType with errors.Is,
// but says what went wrong: ErrType's own text is about decoding.
type encodeError struct{ msg string }

func (e *encodeError) Error() string { return e.msg }

// Is reports whether target is ErrType.
func (e *encodeError) Is(target error) bool { return target == ErrType }

// TypeError reports a stored value that does not decode into the key's
// type. It matches ErrType with errors.Is, and unwraps to the cause (which
// matches ErrLimit when a decode limit was hit, and ErrSchemaMismatch when
// a [Strict] key found fields that differ from its type's).
type TypeError struct {
	// Name is the value's name.
	Name string
	// Type is the Go type it was decoded into.
	Type string
	// Err is the cause.
	Err error
}

// Error describes the failure; it never contains key material.
func (e *TypeError) Error() string {
	return fmt.Sprintf("codec: value %q does not decode into %s: %v", e.Name, e.Type, e.Err)
}

// Is reports whether target is ErrType.
func (e *TypeError) Is(target error) bool { return target == ErrType }

// Unwrap returns the cause.
func (e *TypeError) Unwrap() error { return e.Err }

func payloadOf(v Values) *Payload {
	if v == nil {
		return nil
	}
	return v.Payload()
}

func typeName[T any]() string {
	return reflect.TypeFor[T]().String()
}

// unmarshal decodes one raw value into dst, turning limit errors into
// ErrLimit and any panic inside the CBOR library or a user's UnmarshalCBOR
// method into an error.
func unmarshal(dm cbor.DecMode, raw []byte, dst any) error {
	if fastUnmarshal(raw, dst) {
		return nil
	}
	return decodeGuarded(dm, raw, dst)
}
