package codec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Strict decoding modes: the payload's modes with unknown struct fields
// refused. Only strict keys use them.
var (
	strictOnce      sync.Once
	defaultStrictDM cbor.DecMode
	strictDecModes  sync.Map // modeKey -> cbor.DecMode
)

func newStrictDecMode(l Limits) (cbor.DecMode, error) {
	o := decOptions(l)
	o.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	return o.DecMode()
}

// strictDecModeFor returns the strict decoding mode for resolved limits l.
func strictDecModeFor(l Limits) (cbor.DecMode, error) {
	if l.MaxDepth == defaultLimits.MaxDepth && l.MaxItems == defaultLimits.MaxItems {
		strictOnce.Do(func() {
			dm, err := newStrictDecMode(defaultLimits)
			if err != nil {
				panic("codec: building strict CBOR decoding mode: " + err.Error())
			}
			defaultStrictDM = dm
		})
		return defaultStrictDM, nil
	}
	k := modeKey{l.MaxDepth, l.MaxItems}
	if dm, ok := strictDecModes.Load(k); ok {
		return dm.(cbor.DecMode), nil
	}
	dm, err := newStrictDecMode(l)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLimit, err)
	}
	actual, _ := strictDecModes.LoadOrStore(k, dm)
	return actual.(cbor.DecMode), nil
}

// decodeStrict decodes raw into dst (a non-nil pointer) with the CBOR
// decoder in strict mode, and then requires that the stored value and
// dst's type have the same fields: no stored field dst's type lacks (the
// CBOR library's unknown field check) and no field of dst's type the
// stored value lacks or holds in another form (the decoded value must
// re-encode to exactly raw; every value was written by the deterministic
// encoder, so a value of the same type does). Both failures wrap
// ErrSchemaMismatch. Scalars take fastUnmarshal before this (Key.decode):
// they have no fields to differ.
func decodeStrict(p *Payload, raw []byte, dst any) error {
	dm, err := strictDecModeFor(p.decoding().lim)
	if err != nil {
		return err
	}
	err = decodeGuarded(dm, raw, dst)
	var unknown *cbor.UnknownFieldError
	switch {
	case errors.As(err, &unknown):
		return schemaMismatch(p.decoding().dm, raw, reflect.TypeOf(dst).Elem())
	case err != nil:
		return err
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	err = encodeToGuarded(dst, buf)
	same := err == nil && bytes.Equal(buf.Bytes(), raw)
	if buf.Cap() <= maxPooledBuf {
		bufPool.Put(buf)
	}
	if !same {
		return schemaMismatch(p.decoding().dm, raw, reflect.TypeOf(dst).Elem())
	}
	return nil
}

// bufPool holds the buffers strict reads re-encode into; buffers larger
// than maxPooledBuf are left to the garbage collector.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuf = 16 << 10

// encodeToGuarded is bufEncMode.MarshalToBuffer with a panic (of a user's
// MarshalCBOR) turned into an error.
func encodeToGuarded(v any, buf *bytes.Buffer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while encoding: %v", r)
		}
	}()
	return bufEncMode.MarshalToBuffer(v, buf)
}

// decodeGuarded is dm.Unmarshal with limit errors turned into ErrLimit and
// a panic (of the CBOR library or a user's UnmarshalCBOR) into an error.
func decodeGuarded(dm cbor.DecMode, raw []byte, dst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while decoding: %v", r)
		}
	}()
	if err := dm.Unmarshal(raw, dst); err != nil {
		if isLimitErr(err) {
			return fmt.Errorf("%w: %v", ErrLimit, err)
		}
		return err
	}
	return nil
}

// encodeGuarded is encMode.Marshal with a panic (of a user's MarshalCBOR)
// turned into an error.
func encodeGuarded(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while encoding: %v", r)
		}
	}()
	return encMode.Marshal(v)
}

// schemaMismatch builds the error for a stored value raw whose fields
// differ from type t's. It runs only on that failure path, so it may be
// slow: it decodes raw leniently into a new t, re-encodes that, and
// compares the two as generic CBOR to name the first differing field. The
// message names fields of t only, never stored keys or values.
func schemaMismatch(dm cbor.DecMode, raw []byte, t reflect.Type) error {
	detail := "a field is stored in another form than the type's (its type changed?)"
	v := reflect.New(t)
	if decodeGuarded(dm, raw, v.Interface()) == nil {
		if back, err := encodeGuarded(v.Interface()); err == nil {
			var stored, want any
			if decodeGuarded(dm, raw, &stored) == nil && decodeGuarded(dm, back, &want) == nil {
				if d := fieldDiff(stored, want); d != "" {
					detail = d
				}
			}
		}
	}
	return fmt.Errorf("%w: %s", ErrSchemaMismatch, detail)
}

// fieldDiff describes the first struct whose stored keys differ from the
// ones its type writes, searching depth first; "" if none. It names only
// fields of the type: a stored key may be data (a map's key read as a
// struct), so those are only counted.
func fieldDiff(stored, want any) string {
	switch s := stored.(type) {
	case map[any]any:
		w, ok := want.(map[any]any)
		if !ok {
			return ""
		}
		unknown := 0
		for k := range s {
			if _, ok := w[k]; !ok {
				unknown++
			}
		}
		var missing []string
		for k := range w {
			if _, ok := s[k]; !ok {
				missing = append(missing, fmt.Sprintf("%q", fmt.Sprint(k)))
			}
		}
		sort.Strings(missing)
		switch {
		case unknown > 0 && len(missing) > 0:
			return fmt.Sprintf("%d stored field(s) not in the type; not stored: %s (renamed?)", unknown, strings.Join(missing, ", "))
		case unknown > 0:
			return fmt.Sprintf("%d stored field(s) not in the type", unknown)
		case len(missing) > 0:
			return fmt.Sprintf("not stored: %s", strings.Join(missing, ", "))
		}
		for k, sv := range s {
			if d := fieldDiff(sv, w[k]); d != "" {
				return d
			}
		}
	case []any:
		w, ok := want.([]any)
		if !ok || len(w) != len(s) {
			return ""
		}
		for i := range s {
			if d := fieldDiff(s[i], w[i]); d != "" {
				return d
			}
		}
	}
	return ""
}
