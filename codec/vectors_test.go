package codec

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vector is one test vector file of testdata/vectors (made by
// testdata/gen_vectors.go), read by the rules of SPEC.md ("Test vectors"
// of the payload section): "name: value" lines, the value being
// everything after the first ": ", untrimmed; "name:" alone has an empty
// value; blank lines and lines starting with "#" are ignored. "value:"
// lines hold a name and the value's raw CBOR in hex, separated by one
// space.
type vector struct {
	fields map[string]string
	values [][2]string // name, hex
}

// vectorFields are the field names SPEC.md defines for payload vectors.
var vectorFields = map[string]bool{
	"expect": true, "max-size": true, "max-items": true, "version": true, "flags": true, "id": true,
	"issued-at": true, "last-seen": true, "generation": true, "user-epoch": true, "user-id-hex": true,
	"value": true, "payload": true,
}

func readVector(t *testing.T, path string) vector {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	v := vector{fields: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, ": ")
		if !ok {
			k, ok = strings.CutSuffix(line, ":") // "name:" with an empty value
			require.True(t, ok, "bad line %q", line)
			require.NotContains(t, k, ":", "bad line %q", line)
		}
		require.True(t, vectorFields[k], "unknown field %q", k)
		if k == "value" {
			name, raw, ok := strings.Cut(val, " ")
			require.True(t, ok, "bad value line %q", line)
			require.NotContains(t, raw, " ", "bad value line %q", line)
			v.values = append(v.values, [2]string{name, raw})
			continue
		}
		_, dup := v.fields[k]
		require.False(t, dup, "duplicate field %q", k)
		v.fields[k] = val
	}
	require.NoError(t, sc.Err())
	return v
}

// userID returns the vector's user ID, from its hex field.
func (v vector) userID(t *testing.T) string {
	t.Helper()
	b, err := hex.DecodeString(v.fields["user-id-hex"])
	require.NoError(t, err, "user-id-hex")
	return string(b)
}

func (v vector) int(t *testing.T, k string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(v.fields[k], 10, 64)
	require.NoError(t, err, "field %s", k)
	return n
}

func (v vector) millis(t *testing.T, k string) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(v.fields[k], 10, 64)
	require.NoError(t, err, "field %s", k)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.txt"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 38, "vectors found, expected the generated set")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			v := readVector(t, file)
			payload, err := hex.DecodeString(v.fields["payload"])
			require.NoError(t, err, "payload hex")
			var lim Limits
			if s, ok := v.fields["max-size"]; ok {
				lim.MaxSize, _ = strconv.Atoi(s)
			}
			if s, ok := v.fields["max-items"]; ok {
				lim.MaxItems, _ = strconv.Atoi(s)
			}
			p, err := Decode(payload, &lim)
			switch expect := v.fields["expect"]; expect {
			case "success":
				require.NoError(t, err, "Decode")
				checkVectorPayload(t, v, p, payload)
			case "malformed":
				require.ErrorIs(t, err, ErrMalformed)
			case "unsupported version":
				var ve *VersionError
				require.ErrorAs(t, err, &ve)
				require.ErrorIs(t, err, ErrUnsupportedVersion)
				require.Equal(t, v.int(t, "version"), uint64(ve.Version), "unsupported version")
			case "too large":
				require.ErrorIs(t, err, ErrTooLarge)
			case "limit":
				require.ErrorIs(t, err, ErrLimit)
			default:
				require.Failf(t, "unknown expect", "%q", expect)
			}
			if err != nil {
				assert.Nil(t, p, "Decode returned a payload with an error")
			}
		})
	}
}

func checkVectorPayload(t *testing.T, v vector, p *Payload, payload []byte) {
	t.Helper()
	h := p.Header()
	id, err := ParseSessionID(v.fields["id"])
	require.NoError(t, err)
	require.Equal(t, v.int(t, "version"), uint64(h.Version), "header version")
	require.Equal(t, v.int(t, "flags"), uint64(h.Flags), "header flags")
	require.Equal(t, id, h.ID, "header ID")
	require.WithinDuration(t, v.millis(t, "issued-at"), h.IssuedAt, 0, "header issued-at")
	require.WithinDuration(t, v.millis(t, "last-seen"), h.LastSeen, 0, "header last-seen")
	require.Equal(t, v.int(t, "generation"), uint64(h.Generation), "header generation")
	require.Equal(t, v.int(t, "user-epoch"), h.UserEpoch, "header user epoch")
	require.Equal(t, v.userID(t), h.UserID, "header user ID")
	names := p.Names()
	require.Len(t, names, len(v.values), "values against the vector's")
	for i, nv := range v.values {
		raw, ok := p.Raw(nv[0])
		require.Equal(t, nv[0], names[i], "value %d name", i)
		require.True(t, ok, "value %d: Raw(%q)", i, nv[0])
		require.Equal(t, nv[1], hex.EncodeToString(raw), "value %d", i)
	}
	// Decode then encode gives the same bytes.
	require.Equal(t, payload, p.AppendEncode(nil), "re-encoded")
	// Building the payload from the vector's fields gives the same bytes.
	q := NewPayload(Header{
		Flags: uint8(v.int(t, "flags")), ID: id,
		IssuedAt: v.millis(t, "issued-at"), LastSeen: v.millis(t, "last-seen"),
		Generation: uint32(v.int(t, "generation")), UserEpoch: v.int(t, "user-epoch"), UserID: v.userID(t),
	})
	for i := len(v.values) - 1; i >= 0; i-- { // any insertion order gives sorted output
		raw, _ := hex.DecodeString(v.values[i][1])
		q.setRaw(v.values[i][0], raw)
	}
	require.Equal(t, payload, q.AppendEncode(nil), "built from fields")
	assert.Equal(t, len(payload), q.EncodedLen(), "EncodedLen")
}

// TestTypicalVectorValues checks the typed values of the typical vector, so
// the CBOR profile (not only the layout) is pinned byte for byte.
func TestTypicalVectorValues(t *testing.T) {
	v := readVector(t, filepath.Join("testdata", "vectors", "typical.txt"))
	payload, _ := hex.DecodeString(v.fields["payload"])
	p, err := Decode(payload, nil)
	require.NoError(t, err)
	csrf := make([]byte, 32)
	for i := range csrf {
		csrf[i] = byte(i)
	}
	q := NewPayload(*p.Header())
	_ = NewKey[[]string]("roles").Set(q, []string{"admin", "editor"})
	_ = NewKey[[]byte]("csrf").Set(q, csrf)
	q.AddFlash("Saved successfully")
	_ = NewKey[[]cartItem]("cart").Set(q, []cartItem{{"SKU-1001", 1, 1999}, {"SKU-2002", 2, 550}, {"SKU-3003", 1, 12000}})
	_ = NewKey[string]("locale").Set(q, "en-GB")
	require.Equal(t, payload, q.AppendEncode(nil), "typed encode")
	cart, err := NewKey[[]cartItem]("cart").Lookup(p)
	require.NoError(t, err, "cart")
	require.Len(t, cart, 3, "cart")
	assert.Equal(t, int64(12000), cart[2].PriceCents, "cart %+v", cart)
}

// TestTimesVector checks that the package writes times exactly as the
// times vector (built from SPEC.md's profile) holds them, and reads them
// back.
func TestTimesVector(t *testing.T) {
	v := readVector(t, filepath.Join("testdata", "vectors", "times.txt"))
	payload, _ := hex.DecodeString(v.fields["payload"])
	p, err := Decode(payload, nil)
	require.NoError(t, err)
	q := NewPayload(*p.Header())
	cases := []struct {
		name string
		t    time.Time
	}{
		{"t-frac", time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)},
		{"t-nano", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		{"t-offset", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 2*3600+30*60))},
		{"t-whole", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"t-zero", time.Time{}},
	}
	for _, c := range cases {
		k := NewKey[time.Time](c.name)
		require.NoError(t, k.Set(q, c.t))
		got, err := k.Lookup(p)
		assert.NoError(t, err, c.name)
		assert.True(t, got.Equal(c.t), "%s: read %v; want %v", c.name, got, c.t)
	}
	assert.Equal(t, payload, q.AppendEncode(nil), "typed encode")
}

// TestSpecTypicalSize checks the size SPEC.md states for the typical
// payload against the typical vector.
func TestSpecTypicalSize(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join("..", "SPEC.md"))
	require.NoError(t, err)
	re := regexp.MustCompile(`typical payload \([^)]*\)\s+is (\d+) bytes: (\d+) of header\s+and (\d+) of values`)
	m := re.FindSubmatch(spec)
	require.NotNil(t, m, "SPEC.md no longer states the typical payload's size")
	v := readVector(t, filepath.Join("testdata", "vectors", "typical.txt"))
	payload, _ := hex.DecodeString(v.fields["payload"])
	p, err := Decode(payload, nil)
	require.NoError(t, err)
	hdr := p.Header().EncodedLen()
	got := []int{len(payload), hdr, len(payload) - hdr}
	for i, g := range got {
		want, _ := strconv.Atoi(string(m[i+1]))
		if !assert.Equal(t, want, g, "SPEC.md says %s, the vector has %d bytes: %d of header and %d of values", m[0], got[0], got[1], got[2]) {
			break
		}
	}
}
