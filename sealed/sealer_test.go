package sealed

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// headerKeyID reads the key ID from a sealed text's header.
func headerKeyID(text []byte) KeyID {
	var hdr [6]byte
	if _, err := b64.Decode(hdr[:], text[:8]); err != nil {
		return 0
	}
	return KeyID(uint32(hdr[1])<<24 | uint32(hdr[2])<<16 | uint32(hdr[3])<<8 | uint32(hdr[4]))
}

var roundTripSizes = func() []int {
	var s []int
	for n := 0; n <= 80; n++ {
		s = append(s, n)
	}
	s = append(s, 127, 128, 129, 255, 256, 257, 511, 512, 1000, 1023, 1024, 1025, 2047, 3000, 4000, 4096, 5000, 8191, 8192, 12345, 16383, 16384)
	return s
}()

func TestRoundTrip(t *testing.T) {
	k := testKey(t, 1)
	s := testSealer(t, testRing(t, k), "cookie")
	ctx := []byte("__Host-session")
	for _, n := range roundTripSizes {
		pt := pattern(n)
		text, err := s.Seal(nil, pt, ctx)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", n, err)
		}
		if len(text) != SealedLen(n) {
			t.Fatalf("Seal(%d bytes) gave %d characters, SealedLen says %d", n, len(text), SealedLen(n))
		}
		if OpenedLen(len(text)) != n {
			t.Fatalf("OpenedLen(%d) = %d, want %d", len(text), OpenedLen(len(text)), n)
		}
		prefix := []byte("prefix")
		got, info, err := s.Open(prefix, text, ctx)
		if err != nil {
			t.Fatalf("Open(%d bytes): %v", n, err)
		}
		if !bytes.Equal(got[:6], prefix) || !bytes.Equal(got[6:], pt) {
			t.Fatalf("Open(%d bytes) returned different bytes", n)
		}
		if info != (OpenInfo{KeyID: k.ID(), Primary: true}) {
			t.Fatalf("Open info = %+v", info)
		}
		// Appending to a prefix of dst keeps the prefix.
		text2, err := s.Seal([]byte("x."), pt, ctx)
		if err != nil || string(text2[:2]) != "x." || len(text2) != 2+SealedLen(n) {
			t.Fatalf("Seal with prefix: %q..., %v", text2[:2], err)
		}
		if bytes.Equal(text2[2:], text) {
			t.Fatal("two seals of the same plaintext are identical: nonce not random")
		}
	}
}

func TestSealedLenOpenedLen(t *testing.T) {
	for n := 0; n < 3000; n++ {
		if got := OpenedLen(SealedLen(n)); got != n {
			t.Fatalf("OpenedLen(SealedLen(%d)) = %d", n, got)
		}
	}
	smallest := SealedLen(0)
	if smallest != 60 {
		t.Fatalf("SealedLen(0) = %d, want 60", smallest)
	}
	for L := 0; L < 4000; L++ {
		n := OpenedLen(L)
		if L < smallest {
			if n != 0 {
				t.Fatalf("OpenedLen(%d) = %d, want 0", L, n)
			}
			continue
		}
		if SealedLen(n) > L || SealedLen(n+1) <= L {
			t.Fatalf("OpenedLen(%d) = %d is not the largest fitting plaintext", L, n)
		}
	}
}

// envelope returns a sealed text and its decoded bytes.
func envelope(t *testing.T, s *Sealer, pt, ctx []byte) (string, []byte) {
	t.Helper()
	text, err := s.Seal(nil, pt, ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return string(text), raw
}

func TestEveryBitFlipRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	ctx := []byte("c")
	for _, n := range []int{0, 1, 33} {
		_, raw := envelope(t, s, pattern(n), ctx)
		for i := range raw {
			for bit := 0; bit < 8; bit++ {
				mod := bytes.Clone(raw)
				mod[i] ^= 1 << bit
				text := base64.RawURLEncoding.EncodeToString(mod)
				_, _, err := s.Open(nil, []byte(text), ctx)
				var want error
				switch {
				case i == 0:
					want = ErrMalformed
				case i < 5:
					want = ErrUnknownKey
				default:
					want = ErrAuthFailed
				}
				if !errors.Is(err, want) {
					t.Fatalf("n=%d byte %d bit %d: err = %v, want %v", n, i, bit, err, want)
				}
			}
		}
	}
}

func TestEveryCharacterChangeRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	ctx := []byte("c")
	text, _ := envelope(t, s, pattern(20), ctx)
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" + "+/=\n\r \t.\x00\xff"
	for i := 0; i < len(text); i++ {
		for _, c := range []byte(alphabet) {
			if c == text[i] {
				continue
			}
			mod := []byte(text)
			mod[i] = c
			if _, _, err := s.Open(nil, mod, ctx); err == nil {
				t.Fatalf("position %d changed to %q: opened", i, c)
			}
		}
	}
}

func TestEveryTruncationRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	ctx := []byte("c")
	text, _ := envelope(t, s, pattern(50), ctx)
	for i := 0; i < len(text); i++ {
		if _, _, err := s.Open(nil, []byte(text[:i]), ctx); err == nil {
			t.Fatalf("truncation to %d characters opened", i)
		}
		if _, _, err := s.Open(nil, []byte(text[i:]), ctx); i > 0 && err == nil {
			t.Fatalf("dropping the first %d characters opened", i)
		}
	}
	for _, suffix := range []string{"A", "AA", "AAA", "AAAA", "=", "==", "\n", "\r\n", " "} {
		if _, _, err := s.Open(nil, []byte(text+suffix), ctx); err == nil {
			t.Fatalf("text with suffix %q opened", suffix)
		}
	}
	// CR/LF anywhere (which encoding/base64 would skip) is malformed.
	for i := 1; i < len(text); i += 7 {
		for _, ins := range []string{"\n", "\r", "\r\n", "\n\n", "\n\n\n\n"} {
			mod := text[:i] + ins + text[i:]
			if _, _, err := s.Open(nil, []byte(mod), ctx); !errors.Is(err, ErrMalformed) {
				t.Fatalf("text with %q at %d: err = %v, want ErrMalformed", ins, i, err)
			}
		}
	}
}

func TestNonCanonicalRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	ctx := []byte("c")
	// Lengths 1 or 2 mod 3 leave unused low bits in the last character.
	for _, n := range []int{1, 2} {
		text, _ := envelope(t, s, pattern(n), ctx)
		if _, _, err := s.Open(nil, []byte(text), ctx); err != nil {
			t.Fatal(err)
		}
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", text[len(text)-1])
		mod := []byte(text)
		mod[len(mod)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]
		if _, _, err := s.Open(nil, mod, ctx); !errors.Is(err, ErrMalformed) {
			t.Fatalf("n=%d: non-canonical last character: err = %v, want ErrMalformed", n, err)
		}
		// Padded and standard-alphabet forms are not accepted either.
		raw, _ := base64.RawURLEncoding.DecodeString(text)
		for _, alt := range []string{base64.URLEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
			if alt == text {
				continue
			}
			if _, _, err := s.Open(nil, []byte(alt), ctx); err == nil {
				t.Fatalf("alternative encoding %q opened", alt)
			}
		}
	}
}

func TestVersionRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	_, raw := envelope(t, s, pattern(10), nil)
	for _, v := range []byte{0x00, 0x02, 0x81, 0xff} {
		raw[0] = v
		_, _, err := s.Open(nil, []byte(base64.RawURLEncoding.EncodeToString(raw)), nil)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "version") {
			t.Fatalf("version %#x: err = %v", v, err)
		}
	}
}

func TestContextAndPurposeBinding(t *testing.T) {
	r := testRing(t, testKey(t, 1))
	cookie := testSealer(t, r, "cookie")
	csrf := testSealer(t, r, "csrf")
	text, err := cookie.Seal(nil, []byte("payload"), []byte("session"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ctx := range []string{"", "Session", "session ", "sessio", "session\x00", "__Host-session"} {
		if _, _, err := cookie.Open(nil, text, []byte(ctx)); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("context %q: err = %v, want ErrAuthFailed", ctx, err)
		}
	}
	if _, _, err := csrf.Open(nil, text, []byte("session")); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("other purpose: err = %v, want ErrAuthFailed", err)
	}
	// nil and empty context are the same AAD.
	t2, _ := cookie.Seal(nil, []byte("x"), nil)
	if _, _, err := cookie.Open(nil, t2, []byte{}); err != nil {
		t.Fatalf("nil vs empty context: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	r := testRing(t, testKey(t, 1))
	s, err := NewSealer(r, "cookie", &SealerOptions{MaxSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	fit := OpenedLen(200)
	text, err := s.Seal(nil, pattern(fit), nil)
	if err != nil || len(text) > 200 {
		t.Fatalf("Seal(%d) at the limit: %d, %v", fit, len(text), err)
	}
	if _, _, err := s.Open(nil, text, nil); err != nil {
		t.Fatal(err)
	}
	dst := []byte("keep")
	got, err := s.Seal(dst, pattern(fit+1), nil)
	if !errors.Is(err, ErrTooLarge) || string(got) != "keep" {
		t.Fatalf("Seal over the limit: %q, %v", got, err)
	}
	// Garbage over the limit is ErrTooLarge, not ErrMalformed: no decoding.
	if _, _, err := s.Open(nil, bytes.Repeat([]byte("!"), 201), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Open over the limit: %v", err)
	}
	big := testSealer(t, r, "cookie")
	if big.MaxSize() != DefaultMaxSize {
		t.Fatalf("default MaxSize = %d", big.MaxSize())
	}
	text, err = big.Seal(nil, pattern(300), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(nil, text, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Open of a valid but too long text: %v", err)
	}
	if _, err := big.Seal(nil, make([]byte, DefaultMaxSize), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Seal of 64 KiB: %v", err)
	}
}

func TestNewSealerErrors(t *testing.T) {
	r := testRing(t, testKey(t, 1))
	for _, tc := range []struct {
		ring    *Keyring
		purpose string
		opts    *SealerOptions
	}{
		{nil, "cookie", nil},
		{new(Keyring), "cookie", nil},
		{r, "", nil},
		{r, strings.Repeat("p", MaxPurposeLen+1), nil},
		{r, "cookie", &SealerOptions{MaxSize: SealedLen(0) - 1}},
		{r, "cookie", &SealerOptions{MaxSize: -1}},
	} {
		if s, err := NewSealer(tc.ring, tc.purpose, tc.opts); err == nil {
			t.Errorf("NewSealer(%v, %d-byte purpose, %+v) = %v, want error", tc.ring, len(tc.purpose), tc.opts, s)
		}
	}
	if _, err := NewSealer(r, strings.Repeat("p", MaxPurposeLen), &SealerOptions{MaxSize: SealedLen(0)}); err != nil {
		t.Fatal(err)
	}
}

func TestRotation(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	r := testRing(t, k1)
	s := testSealer(t, r, "cookie")
	old, err := s.Seal(nil, []byte("old"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Roll k2 out accept-only, then promote it.
	r2 := testRing(t, k1, k2)
	s2 := testSealer(t, r2, "cookie")
	if _, info, err := s2.Open(nil, old, nil); err != nil || info != (OpenInfo{k1.ID(), true}) {
		t.Fatalf("before rotation: %+v, %v", info, err)
	}
	if err := r.Rotate(k2); err != nil {
		t.Fatal(err)
	}
	if r.Primary() != k2 || len(r.Keys()) != 2 || r.Keys()[1] != k1 {
		t.Fatalf("after Rotate: %v", r)
	}
	got, info, err := s.Open(nil, old, nil)
	if err != nil || string(got) != "old" || info != (OpenInfo{k1.ID(), false}) {
		t.Fatalf("old envelope after rotation: %q, %+v, %v", got, info, err)
	}
	fresh, _ := s.Seal(nil, []byte("new"), nil)
	if _, info, err := s.Open(nil, fresh, nil); err != nil || info != (OpenInfo{k2.ID(), true}) {
		t.Fatalf("new envelope: %+v, %v", info, err)
	}
	// Rotating to the primary again is a no-op; to an open-only key promotes it.
	if err := r.Rotate(k2); err != nil || len(r.Keys()) != 2 {
		t.Fatalf("Rotate(primary): %v, %v", err, r)
	}
	if err := r.Rotate(k3); err != nil {
		t.Fatal(err)
	}
	if err := r.Rotate(k1); err != nil {
		t.Fatal(err)
	}
	if ids := r.String(); ids != fmt.Sprintf("sealed.Keyring[%s* %s %s]", k1.ID(), k3.ID(), k2.ID()) {
		t.Fatalf("after promoting k1: %s", ids)
	}
	if err := r.Rotate(k2); err != nil {
		t.Fatal(err)
	}
	// Removing.
	if err := r.Remove(k2.ID()); !errors.Is(err, ErrPrimaryKey) {
		t.Fatalf("Remove(primary) = %v", err)
	}
	if err := r.Remove(k1.ID()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(nil, old, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("removed key: err = %v, want ErrUnknownKey", err)
	}
	if err := r.Remove(k1.ID()); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Remove(absent) = %v", err)
	}
	if _, ok := r.Lookup(k1.ID()); ok {
		t.Fatal("Lookup found a removed key")
	}
	if k, ok := r.Lookup(k3.ID()); !ok || k != k3 {
		t.Fatal("Lookup(k3) failed")
	}
	// A different secret with an ID already in the ring is refused.
	impostor := &Key{id: k3.id, secret: testKey(t, 9).secret}
	if err := r.Rotate(impostor); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("Rotate(colliding ID) = %v", err)
	}
	if _, err := NewKeyring(k1, impostor, k3); !errors.Is(err, ErrDuplicateKey) || !strings.Contains(err.Error(), "same key ID") {
		t.Fatalf("NewKeyring(colliding ID) = %v", err)
	}
	if err := r.Rotate(nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Rotate(nil) = %v", err)
	}
}

func TestUnknownKeyNotTried(t *testing.T) {
	a := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	b := testSealer(t, testRing(t, testKey(t, 2), testKey(t, 3)), "cookie")
	text, _ := a.Seal(nil, []byte("x"), nil)
	if _, _, err := b.Open(nil, text, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	// Same key ID, different secret: the one key with that ID is tried and fails.
	k := testKey(t, 1)
	impostor := &Key{id: k.id, secret: testKey(t, 5).secret}
	c := testSealer(t, testRing(t, testKey(t, 3), impostor), "cookie")
	if _, _, err := c.Open(nil, text, nil); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("colliding ID: err = %v, want ErrAuthFailed", err)
	}
}

func TestOpenErrorKeepsDst(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	text, _ := s.Seal(nil, []byte("hello"), nil)
	text[len(text)/2] ^= 1
	dst := append(make([]byte, 0, 64), "abc"...)
	got, info, err := s.Open(dst, text, nil)
	if err == nil || string(got) != "abc" || info != (OpenInfo{}) {
		t.Fatalf("Open(tampered) = %q, %+v, %v", got, info, err)
	}
}

func TestZeroAllocs(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1), testKey(t, 2)), "cookie")
	ctx := []byte("__Host-session")
	for _, n := range []int{0, 64, 1024, 4000} {
		pt := pattern(n)
		text := make([]byte, 0, SealedLen(n))
		out := make([]byte, 0, n)
		sealed, err := s.Seal(text, pt, ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sealErr, openErr error
		sealAllocs := testing.AllocsPerRun(200, func() {
			_, sealErr = s.Seal(text[:0], pt, ctx)
		})
		openAllocs := testing.AllocsPerRun(200, func() {
			_, _, openErr = s.Open(out[:0], sealed, ctx)
		})
		if sealErr != nil || openErr != nil {
			t.Fatal(sealErr, openErr)
		}
		// The race detector makes sync.Pool drop items at random.
		limit := 0.0
		if raceEnabled {
			limit = 1
		}
		if sealAllocs > limit || openAllocs > limit {
			t.Errorf("%d bytes: Seal %v allocs, Open %v allocs; want 0", n, sealAllocs, openAllocs)
		}
	}
}

func TestConcurrentSealOpenRotate(t *testing.T) {
	keys := make([]*Key, 12)
	for i := range keys {
		keys[i] = testKey(t, byte(10*i))
	}
	r := testRing(t, keys[0])
	s := testSealer(t, r, "cookie")
	var wg sync.WaitGroup
	var ops atomic.Int64
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			pt := pattern(100 + w)
			var text, out []byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				text, err = s.Seal(text[:0], pt, []byte("ctx"))
				if err != nil {
					t.Error(err)
					return
				}
				var info OpenInfo
				out, info, err = s.Open(out[:0], text, []byte("ctx"))
				switch {
				case errors.Is(err, ErrUnknownKey):
					// The sealing key was removed in between: allowed.
				case err != nil:
					t.Errorf("Open: %v", err)
					return
				case !bytes.Equal(out, pt):
					t.Error("Open returned other bytes")
					return
				case info.KeyID != headerKeyID(text):
					t.Errorf("Open reported key %s for an envelope of key %s", info.KeyID, headerKeyID(text))
					return
				}
				_ = r.Keys()
				_ = r.String()
				ops.Add(1)
			}
		}(w)
	}
	for i := 1; i < len(keys); i++ {
		if err := r.Rotate(keys[i]); err != nil {
			t.Fatal(err)
		}
		if i >= 3 {
			if err := r.Remove(keys[i-3].ID()); err != nil {
				t.Fatal(err)
			}
		}
		// Let the workers seal and open a while with this ring.
		deadline := time.Now().Add(10 * time.Second)
		for target := ops.Load() + 50; ops.Load() < target && time.Now().Before(deadline); {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	if len(r.Keys()) != 3 || r.Primary() != keys[len(keys)-1] {
		t.Fatalf("final ring %v", r)
	}
}

func TestInPlace(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	pt := pattern(300)
	buf := make([]byte, SealedLen(len(pt)))
	copy(buf, pt)
	ctx := []byte("ctx")
	text, err := s.Seal(buf[:0], buf[:len(pt)], ctx)
	if err != nil {
		t.Fatal(err)
	}
	if &text[0] != &buf[0] {
		t.Fatal("Seal did not use dst's capacity")
	}
	out, _, err := s.Open(text[:0], text, ctx)
	if err != nil || !bytes.Equal(out, pt) {
		t.Fatalf("Open in place: %v", err)
	}
	if new(Key).Export() != "" {
		t.Fatal("zero Key exported something")
	}
}
