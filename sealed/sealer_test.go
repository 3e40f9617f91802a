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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		require.NoError(t, err, "Seal(%d bytes)", n)
		require.Len(t, text, SealedLen(n), "Seal(%d bytes) against SealedLen", n)
		require.Equal(t, n, OpenedLen(len(text)), "OpenedLen(%d)", len(text))
		prefix := []byte("prefix")
		got, info, err := s.Open(prefix, text, ctx)
		require.NoError(t, err, "Open(%d bytes)", n)
		require.Equal(t, prefix, got[:6], "Open(%d bytes) returned different bytes", n)
		require.Equal(t, pt, got[6:], "Open(%d bytes) returned different bytes", n)
		require.Equal(t, OpenInfo{KeyID: k.ID(), Primary: true}, info, "Open info")
		// Appending to a prefix of dst keeps the prefix.
		text2, err := s.Seal([]byte("x."), pt, ctx)
		require.NoError(t, err, "Seal with prefix")
		require.Equal(t, "x.", string(text2[:2]), "Seal with prefix")
		require.Len(t, text2, 2+SealedLen(n), "Seal with prefix")
		require.NotEqual(t, text, text2[2:], "two seals of the same plaintext are identical: nonce not random")
	}
}

func TestSealedLenOpenedLen(t *testing.T) {
	for n := 0; n < 3000; n++ {
		require.Equal(t, n, OpenedLen(SealedLen(n)), "OpenedLen(SealedLen(%d))", n)
	}
	smallest := SealedLen(0)
	require.Equal(t, 60, smallest, "SealedLen(0)")
	for L := 0; L < 4000; L++ {
		n := OpenedLen(L)
		if L < smallest {
			require.Equal(t, 0, n, "OpenedLen(%d)", L)
			continue
		}
		require.LessOrEqual(t, SealedLen(n), L, "OpenedLen(%d) = %d does not fit", L, n)
		require.Greater(t, SealedLen(n+1), L, "OpenedLen(%d) = %d is not the largest fitting plaintext", L, n)
	}
}

// envelope returns a sealed text and its decoded bytes.
func envelope(t *testing.T, s *Sealer, pt, ctx []byte) (string, []byte) {
	t.Helper()
	text, err := s.Seal(nil, pt, ctx)
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.Strict().DecodeString(string(text))
	require.NoError(t, err)
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
				require.ErrorIs(t, err, want, "n=%d byte %d bit %d", n, i, bit)
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
			_, _, err := s.Open(nil, mod, ctx)
			require.Error(t, err, "position %d changed to %q: opened", i, c)
		}
	}
}

func TestEveryTruncationRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	ctx := []byte("c")
	text, _ := envelope(t, s, pattern(50), ctx)
	for i := 0; i < len(text); i++ {
		_, _, err := s.Open(nil, []byte(text[:i]), ctx)
		require.Error(t, err, "truncation to %d characters opened", i)
		_, _, err = s.Open(nil, []byte(text[i:]), ctx)
		if i > 0 {
			require.Error(t, err, "dropping the first %d characters opened", i)
		}
	}
	for _, suffix := range []string{"A", "AA", "AAA", "AAAA", "=", "==", "\n", "\r\n", " "} {
		_, _, err := s.Open(nil, []byte(text+suffix), ctx)
		require.Error(t, err, "text with suffix %q opened", suffix)
	}
	// CR/LF anywhere (which encoding/base64 would skip) is malformed.
	for i := 1; i < len(text); i += 7 {
		for _, ins := range []string{"\n", "\r", "\r\n", "\n\n", "\n\n\n\n"} {
			mod := text[:i] + ins + text[i:]
			_, _, err := s.Open(nil, []byte(mod), ctx)
			require.ErrorIs(t, err, ErrMalformed, "text with %q at %d", ins, i)
		}
	}
}

func TestNonCanonicalRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	ctx := []byte("c")
	// Lengths 1 or 2 mod 3 leave unused low bits in the last character.
	for _, n := range []int{1, 2} {
		text, _ := envelope(t, s, pattern(n), ctx)
		_, _, err := s.Open(nil, []byte(text), ctx)
		require.NoError(t, err)
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", text[len(text)-1])
		mod := []byte(text)
		mod[len(mod)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]
		_, _, err = s.Open(nil, mod, ctx)
		require.ErrorIs(t, err, ErrMalformed, "n=%d: non-canonical last character", n)
		// Padded and standard-alphabet forms are not accepted either.
		raw, _ := base64.RawURLEncoding.DecodeString(text)
		for _, alt := range []string{base64.URLEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
			if alt == text {
				continue
			}
			_, _, err := s.Open(nil, []byte(alt), ctx)
			require.Error(t, err, "alternative encoding %q opened", alt)
		}
	}
}

func TestVersionRejected(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	_, raw := envelope(t, s, pattern(10), nil)
	for _, v := range []byte{0x00, 0x02, 0x81, 0xff} {
		raw[0] = v
		_, _, err := s.Open(nil, []byte(base64.RawURLEncoding.EncodeToString(raw)), nil)
		require.ErrorIs(t, err, ErrMalformed, "version %#x", v)
		require.ErrorContains(t, err, "version", "version %#x", v)
	}
}

func TestContextAndPurposeBinding(t *testing.T) {
	r := testRing(t, testKey(t, 1))
	cookie := testSealer(t, r, "cookie")
	csrf := testSealer(t, r, "csrf")
	text, err := cookie.Seal(nil, []byte("payload"), []byte("session"))
	require.NoError(t, err)
	for _, ctx := range []string{"", "Session", "session ", "sessio", "session\x00", "__Host-session"} {
		_, _, err := cookie.Open(nil, text, []byte(ctx))
		require.ErrorIs(t, err, ErrAuthFailed, "context %q", ctx)
	}
	_, _, err = csrf.Open(nil, text, []byte("session"))
	require.ErrorIs(t, err, ErrAuthFailed, "other purpose")
	// nil and empty context are the same AAD.
	t2, _ := cookie.Seal(nil, []byte("x"), nil)
	_, _, err = cookie.Open(nil, t2, []byte{})
	assert.NoError(t, err, "nil vs empty context")
}

func TestTooLarge(t *testing.T) {
	r := testRing(t, testKey(t, 1))
	s, err := NewSealer(r, "cookie", &SealerOptions{MaxSize: 200})
	require.NoError(t, err)
	fit := OpenedLen(200)
	text, err := s.Seal(nil, pattern(fit), nil)
	require.NoError(t, err, "Seal(%d) at the limit", fit)
	require.LessOrEqual(t, len(text), 200, "Seal(%d) at the limit", fit)
	_, _, err = s.Open(nil, text, nil)
	require.NoError(t, err)
	dst := []byte("keep")
	got, err := s.Seal(dst, pattern(fit+1), nil)
	require.ErrorIs(t, err, ErrTooLarge, "Seal over the limit")
	require.Equal(t, "keep", string(got), "Seal over the limit")
	// Garbage over the limit is ErrTooLarge, not ErrMalformed: no decoding.
	_, _, err = s.Open(nil, bytes.Repeat([]byte("!"), 201), nil)
	require.ErrorIs(t, err, ErrTooLarge, "Open over the limit")
	big := testSealer(t, r, "cookie")
	require.Equal(t, DefaultMaxSize, big.MaxSize(), "default MaxSize")
	text, err = big.Seal(nil, pattern(300), nil)
	require.NoError(t, err)
	_, _, err = s.Open(nil, text, nil)
	require.ErrorIs(t, err, ErrTooLarge, "Open of a valid but too long text")
	_, err = big.Seal(nil, make([]byte, DefaultMaxSize), nil)
	assert.ErrorIs(t, err, ErrTooLarge, "Seal of 64 KiB")
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
		s, err := NewSealer(tc.ring, tc.purpose, tc.opts)
		assert.Error(t, err, "NewSealer(%v, %d-byte purpose, %+v) = %v", tc.ring, len(tc.purpose), tc.opts, s)
	}
	_, err := NewSealer(r, strings.Repeat("p", MaxPurposeLen), &SealerOptions{MaxSize: SealedLen(0)})
	assert.NoError(t, err)
}

func TestRotation(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	r := testRing(t, k1)
	s := testSealer(t, r, "cookie")
	old, err := s.Seal(nil, []byte("old"), nil)
	require.NoError(t, err)
	// Roll k2 out accept-only, then promote it.
	r2 := testRing(t, k1, k2)
	s2 := testSealer(t, r2, "cookie")
	_, info, err := s2.Open(nil, old, nil)
	require.NoError(t, err, "before rotation")
	require.Equal(t, OpenInfo{k1.ID(), true}, info, "before rotation")
	require.NoError(t, r.Rotate(k2))
	require.Same(t, k2, r.Primary(), "after Rotate: %v", r)
	require.Len(t, r.Keys(), 2, "after Rotate: %v", r)
	require.Same(t, k1, r.Keys()[1], "after Rotate: %v", r)
	got, info, err := s.Open(nil, old, nil)
	require.NoError(t, err, "old envelope after rotation")
	require.Equal(t, "old", string(got), "old envelope after rotation")
	require.Equal(t, OpenInfo{k1.ID(), false}, info, "old envelope after rotation")
	fresh, _ := s.Seal(nil, []byte("new"), nil)
	_, info, err = s.Open(nil, fresh, nil)
	require.NoError(t, err, "new envelope")
	require.Equal(t, OpenInfo{k2.ID(), true}, info, "new envelope")
	// Rotating to the primary again is a no-op; to an open-only key promotes it.
	require.NoError(t, r.Rotate(k2), "Rotate(primary)")
	require.Len(t, r.Keys(), 2, "Rotate(primary): %v", r)
	require.NoError(t, r.Rotate(k3))
	require.NoError(t, r.Rotate(k1))
	require.Equal(t, fmt.Sprintf("sealed.Keyring[%s* %s %s]", k1.ID(), k3.ID(), k2.ID()), r.String(), "after promoting k1")
	require.NoError(t, r.Rotate(k2))
	// Removing.
	require.ErrorIs(t, r.Remove(k2.ID()), ErrPrimaryKey, "Remove(primary)")
	require.NoError(t, r.Remove(k1.ID()))
	_, _, err = s.Open(nil, old, nil)
	require.ErrorIs(t, err, ErrUnknownKey, "removed key")
	require.ErrorIs(t, r.Remove(k1.ID()), ErrUnknownKey, "Remove(absent)")
	_, ok := r.Lookup(k1.ID())
	require.False(t, ok, "Lookup found a removed key")
	k, ok := r.Lookup(k3.ID())
	require.True(t, ok, "Lookup(k3) failed")
	require.Same(t, k3, k, "Lookup(k3) failed")
	// A different secret with an ID already in the ring is refused.
	impostor := &Key{id: k3.id, secret: testKey(t, 9).secret}
	require.ErrorIs(t, r.Rotate(impostor), ErrDuplicateKey, "Rotate(colliding ID)")
	_, err = NewKeyring(k1, impostor, k3)
	require.ErrorIs(t, err, ErrDuplicateKey, "NewKeyring(colliding ID)")
	require.ErrorContains(t, err, "same key ID", "NewKeyring(colliding ID)")
	assert.ErrorIs(t, r.Rotate(nil), ErrInvalidKey, "Rotate(nil)")
}

func TestUnknownKeyNotTried(t *testing.T) {
	a := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	b := testSealer(t, testRing(t, testKey(t, 2), testKey(t, 3)), "cookie")
	text, _ := a.Seal(nil, []byte("x"), nil)
	_, _, err := b.Open(nil, text, nil)
	require.ErrorIs(t, err, ErrUnknownKey)
	// Same key ID, different secret: the one key with that ID is tried and fails.
	k := testKey(t, 1)
	impostor := &Key{id: k.id, secret: testKey(t, 5).secret}
	c := testSealer(t, testRing(t, testKey(t, 3), impostor), "cookie")
	_, _, err = c.Open(nil, text, nil)
	assert.ErrorIs(t, err, ErrAuthFailed, "colliding ID")
}

func TestOpenErrorKeepsDst(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	text, _ := s.Seal(nil, []byte("hello"), nil)
	text[len(text)/2] ^= 1
	dst := append(make([]byte, 0, 64), "abc"...)
	got, info, err := s.Open(dst, text, nil)
	assert.Error(t, err, "Open(tampered)")
	assert.Equal(t, "abc", string(got), "Open(tampered)")
	assert.Equal(t, OpenInfo{}, info, "Open(tampered)")
}

func TestZeroAllocs(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1), testKey(t, 2)), "cookie")
	ctx := []byte("__Host-session")
	for _, n := range []int{0, 64, 1024, 4000} {
		pt := pattern(n)
		text := make([]byte, 0, SealedLen(n))
		out := make([]byte, 0, n)
		sealed, err := s.Seal(text, pt, ctx)
		require.NoError(t, err)
		var sealErr, openErr error
		sealAllocs := testing.AllocsPerRun(200, func() {
			_, sealErr = s.Seal(text[:0], pt, ctx)
		})
		openAllocs := testing.AllocsPerRun(200, func() {
			_, _, openErr = s.Open(out[:0], sealed, ctx)
		})
		require.NoError(t, sealErr)
		require.NoError(t, openErr)
		// The race detector makes sync.Pool drop items at random.
		limit := 0.0
		if raceEnabled {
			limit = 1
		}
		assert.LessOrEqual(t, sealAllocs, limit, "%d bytes: Seal allocs", n)
		assert.LessOrEqual(t, openAllocs, limit, "%d bytes: Open allocs", n)
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
		require.NoError(t, r.Rotate(keys[i]))
		if i >= 3 {
			require.NoError(t, r.Remove(keys[i-3].ID()))
		}
		// Let the workers seal and open a while with this ring.
		deadline := time.Now().Add(10 * time.Second)
		for target := ops.Load() + 50; ops.Load() < target && time.Now().Before(deadline); {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	assert.Len(t, r.Keys(), 3, "final ring %v", r)
	assert.Same(t, keys[len(keys)-1], r.Primary(), "final ring %v", r)
}

func TestInPlace(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1)), "cookie")
	pt := pattern(300)
	buf := make([]byte, SealedLen(len(pt)))
	copy(buf, pt)
	ctx := []byte("ctx")
	text, err := s.Seal(buf[:0], buf[:len(pt)], ctx)
	require.NoError(t, err)
	require.Same(t, &buf[0], &text[0], "Seal did not use dst's capacity")
	out, _, err := s.Open(text[:0], text, ctx)
	require.NoError(t, err, "Open in place")
	require.Equal(t, pt, out, "Open in place")
	assert.Equal(t, "", new(Key).Export(), "zero Key exported something")
}
