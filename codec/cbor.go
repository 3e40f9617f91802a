package codec

import (
	"errors"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Default decode limits; a zero field of Limits means the default.
const (
	// DefaultMaxSize is the default limit on an encoded payload, in bytes.
	DefaultMaxSize = 64 << 10
	// DefaultMaxDepth is the default limit on the nesting depth of a
	// value (arrays, maps and tags together).
	DefaultMaxDepth = 16
	// DefaultMaxItems is the default limit on the number of values in a
	// payload and on the number of elements of any one CBOR array or map.
	DefaultMaxItems = 1024
)

// The CBOR library refuses limits below these; smaller Limits fields are
// raised to them.
const (
	minDepth = 4
	minItems = 16
)

// Limits bounds the work Decode and the value decoders do on untrusted
// bytes. A zero field (or a nil *Limits) means the default.
type Limits struct {
	// MaxDepth limits the nesting of arrays, maps and tags inside one value
	// (default DefaultMaxDepth; values below 4 count as 4).
	MaxDepth int
	// MaxItems limits the number of values in the payload and the number of
	// elements of any one array or map inside a value (default
	// DefaultMaxItems; values below 16 count as 16).
	MaxItems int
	// MaxSize limits the whole encoded payload, in bytes (default
	// DefaultMaxSize). Decode refuses a longer input before reading it.
	MaxSize int
}

// resolve returns l with defaults filled in and floors applied.
func (l *Limits) resolve() Limits {
	var r Limits
	if l != nil {
		r = *l
	}
	if r.MaxDepth <= 0 {
		r.MaxDepth = DefaultMaxDepth
	} else if r.MaxDepth < minDepth {
		r.MaxDepth = minDepth
	}
	if r.MaxItems <= 0 {
		r.MaxItems = DefaultMaxItems
	} else if r.MaxItems < minItems {
		r.MaxItems = minItems
	}
	if r.MaxSize <= 0 {
		r.MaxSize = DefaultMaxSize
	}
	return r
}

// encMode is the one CBOR encoding profile: RFC 8949 core deterministic
// encoding, with time.Time as an RFC 3339 text string with nanoseconds
// (exact to the nanosecond, keeps the UTC offset).
var encMode cbor.EncMode

// bufEncMode is encMode's profile, encoding into a caller's buffer (for
// the re-encoding check of strict keys).
var bufEncMode cbor.UserBufferEncMode

// Decoding modes, one per (depth, items) pair; built once and cached.
var (
	defaultLimits  = (*Limits)(nil).resolve()
	defaultDecMode cbor.DecMode
	decModes       sync.Map // modeKey -> cbor.DecMode
)

type modeKey struct{ depth, items int }

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339Nano
	eo.TimeTag = cbor.EncTagNone
	var err error
	if encMode, err = eo.EncMode(); err != nil {
		panic("codec: building CBOR encoding mode: " + err.Error())
	}
	if bufEncMode, err = eo.UserBufferEncMode(); err != nil {
		panic("codec: building CBOR encoding mode: " + err.Error())
	}
	if defaultDecMode, err = newDecMode(defaultLimits); err != nil {
		panic("codec: building CBOR decoding mode: " + err.Error())
	}
	decModes.Store(modeKey{defaultLimits.MaxDepth, defaultLimits.MaxItems}, defaultDecMode)
	defaultDecoding.dm = defaultDecMode
}

func newDecMode(l Limits) (cbor.DecMode, error) {
	return decOptions(l).DecMode()
}

// decOptions are the decoding options for resolved limits l.
func decOptions(l Limits) cbor.DecOptions {
	return cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  l.MaxDepth,
		MaxArrayElements: l.MaxItems,
		MaxMapPairs:      l.MaxItems,
		UTF8:             cbor.UTF8RejectInvalid,
	}
}

// decModeFor returns the cached decoding mode for resolved limits l.
func decModeFor(l Limits) (cbor.DecMode, error) {
	k := modeKey{l.MaxDepth, l.MaxItems}
	if dm, ok := decModes.Load(k); ok {
		return dm.(cbor.DecMode), nil
	}
	dm, err := newDecMode(l)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLimit, err)
	}
	actual, _ := decModes.LoadOrStore(k, dm)
	return actual.(cbor.DecMode), nil
}

// decoding is what a payload decodes its values with: its limits and the
// CBOR decode mode made for them. Payloads with the same limits share one.
type decoding struct {
	lim Limits
	dm  cbor.DecMode
}

// defaultDecoding is the decoding of the default Limits.
var defaultDecoding = &decoding{lim: defaultLimits} // dm set by init

// decodings caches a *decoding per resolved Limits.
var decodings sync.Map

// decodingFor returns the shared decoding of resolved limits l.
func decodingFor(l Limits) (*decoding, error) {
	if l == defaultLimits {
		return defaultDecoding, nil
	}
	if d, ok := decodings.Load(l); ok {
		return d.(*decoding), nil
	}
	dm, err := decModeFor(l)
	if err != nil {
		return nil, err
	}
	d, _ := decodings.LoadOrStore(l, &decoding{lim: l, dm: dm})
	return d.(*decoding), nil
}

// decoding returns p's decoding (the defaults for a zero Payload).
func (p *Payload) decoding() *decoding {
	if p.dec == nil {
		return defaultDecoding
	}
	return p.dec
}

// isLimitErr reports whether err is one of the CBOR library's decode
// limit errors.
func isLimitErr(err error) bool {
	var e1 *cbor.MaxNestedLevelError
	var e2 *cbor.MaxArrayElementsError
	var e3 *cbor.MaxMapPairsError
	return errors.As(err, &e1) || errors.As(err, &e2) || errors.As(err, &e3)
}
