package codec

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	if err != nil {
		t.Fatal(err)
	}
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
			if !ok || strings.Contains(k, ":") {
				t.Fatalf("bad line %q", line)
			}
		}
		if !vectorFields[k] {
			t.Fatalf("unknown field %q", k)
		}
		if k == "value" {
			name, raw, ok := strings.Cut(val, " ")
			if !ok || strings.Contains(raw, " ") {
				t.Fatalf("bad value line %q", line)
			}
			v.values = append(v.values, [2]string{name, raw})
			continue
		}
		if _, dup := v.fields[k]; dup {
			t.Fatalf("duplicate field %q", k)
		}
		v.fields[k] = val
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

// userID returns the vector's user ID, from its hex field.
func (v vector) userID(t *testing.T) string {
	t.Helper()
	b, err := hex.DecodeString(v.fields["user-id-hex"])
	if err != nil {
		t.Fatalf("user-id-hex: %v", err)
	}
	return string(b)
}

func (v vector) int(t *testing.T, k string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(v.fields[k], 10, 64)
	if err != nil {
		t.Fatalf("field %s: %v", k, err)
	}
	return n
}

func (v vector) millis(t *testing.T, k string) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(v.fields[k], 10, 64)
	if err != nil {
		t.Fatalf("field %s: %v", k, err)
	}
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 38 {
		t.Fatalf("found %d vectors, expected the generated set", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			v := readVector(t, file)
			payload, err := hex.DecodeString(v.fields["payload"])
			if err != nil {
				t.Fatalf("payload hex: %v", err)
			}
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
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				checkVectorPayload(t, v, p, payload)
			case "malformed":
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
			case "unsupported version":
				var ve *VersionError
				if !errors.As(err, &ve) || !errors.Is(err, ErrUnsupportedVersion) || uint64(ve.Version) != v.int(t, "version") {
					t.Fatalf("err = %v, want version %s", err, v.fields["version"])
				}
			case "too large":
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
			case "limit":
				if !errors.Is(err, ErrLimit) {
					t.Fatalf("err = %v, want ErrLimit", err)
				}
			default:
				t.Fatalf("unknown expect %q", expect)
			}
			if err != nil && p != nil {
				t.Fatal("Decode returned a payload with an error")
			}
		})
	}
}

func checkVectorPayload(t *testing.T, v vector, p *Payload, payload []byte) {
	t.Helper()
	h := p.Header()
	id, err := ParseSessionID(v.fields["id"])
	if err != nil {
		t.Fatal(err)
	}
	if uint64(h.Version) != v.int(t, "version") || uint64(h.Flags) != v.int(t, "flags") || h.ID != id ||
		!h.IssuedAt.Equal(v.millis(t, "issued-at")) || !h.LastSeen.Equal(v.millis(t, "last-seen")) ||
		uint64(h.Generation) != v.int(t, "generation") || h.UserEpoch != v.int(t, "user-epoch") ||
		h.UserID != v.userID(t) {
		t.Fatalf("header %+v does not match the vector %v", *h, v.fields)
	}
	names := p.Names()
	if len(names) != len(v.values) {
		t.Fatalf("%d values, vector has %d", len(names), len(v.values))
	}
	for i, nv := range v.values {
		raw, ok := p.Raw(nv[0])
		if names[i] != nv[0] || !ok || hex.EncodeToString(raw) != nv[1] {
			t.Fatalf("value %d: got %s %x, want %s %s", i, names[i], raw, nv[0], nv[1])
		}
	}
	// Decode then encode gives the same bytes.
	if out := p.AppendEncode(nil); !bytes.Equal(out, payload) {
		t.Fatalf("re-encoded:\n got %x\nwant %x", out, payload)
	}
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
	if out := q.AppendEncode(nil); !bytes.Equal(out, payload) {
		t.Fatalf("built from fields:\n got %x\nwant %x", out, payload)
	}
	if q.EncodedLen() != len(payload) {
		t.Fatalf("EncodedLen %d, payload %d", q.EncodedLen(), len(payload))
	}
}

// TestTypicalVectorValues checks the typed values of the typical vector, so
// the CBOR profile (not only the layout) is pinned byte for byte.
func TestTypicalVectorValues(t *testing.T) {
	v := readVector(t, filepath.Join("testdata", "vectors", "typical.txt"))
	payload, _ := hex.DecodeString(v.fields["payload"])
	p, err := Decode(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	if out := q.AppendEncode(nil); !bytes.Equal(out, payload) {
		t.Fatalf("typed encode:\n got %x\nwant %x", out, payload)
	}
	cart, err := NewKey[[]cartItem]("cart").Lookup(p)
	if err != nil || len(cart) != 3 || cart[2].PriceCents != 12000 {
		t.Fatalf("cart %+v, %v", cart, err)
	}
}

// TestTimesVector checks that the package writes times exactly as the
// times vector (built from SPEC.md's profile) holds them, and reads them
// back.
func TestTimesVector(t *testing.T) {
	v := readVector(t, filepath.Join("testdata", "vectors", "times.txt"))
	payload, _ := hex.DecodeString(v.fields["payload"])
	p, err := Decode(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
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
		if err := k.Set(q, c.t); err != nil {
			t.Fatal(err)
		}
		got, err := k.Lookup(p)
		if err != nil || !got.Equal(c.t) {
			t.Errorf("%s: read %v, %v; want %v", c.name, got, err, c.t)
		}
	}
	if out := q.AppendEncode(nil); !bytes.Equal(out, payload) {
		t.Fatalf("typed encode:\n got %x\nwant %x", out, payload)
	}
}

// TestSpecTypicalSize checks the size SPEC.md states for the typical
// payload against the typical vector.
func TestSpecTypicalSize(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join("..", "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`typical payload \([^)]*\)\s+is (\d+) bytes: (\d+) of header\s+and (\d+) of values`)
	m := re.FindSubmatch(spec)
	if m == nil {
		t.Fatal("SPEC.md no longer states the typical payload's size")
	}
	v := readVector(t, filepath.Join("testdata", "vectors", "typical.txt"))
	payload, _ := hex.DecodeString(v.fields["payload"])
	p, err := Decode(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr := p.Header().EncodedLen()
	got := []int{len(payload), hdr, len(payload) - hdr}
	for i, g := range got {
		if want, _ := strconv.Atoi(string(m[i+1])); want != g {
			t.Errorf("SPEC.md says %s, the vector has %d bytes: %d of header and %d of values", m[0], got[0], got[1], got[2])
			break
		}
	}
}
