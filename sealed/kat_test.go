package sealed

import (
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestXChaCha20Poly1305KAT checks the primitive against the
// AEAD_XChaCha20_Poly1305 test vector of draft-irtf-cfrg-xchacha-03,
// appendix A.3.1.
func TestXChaCha20Poly1305KAT(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		require.NoError(t, err)
		return b
	}
	plaintext := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	aad := h("50515253c0c1c2c3c4c5c6c7")
	key := h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
	nonce := h("404142434445464748494a4b4c4d4e4f5051525354555657")
	ciphertext := h("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
		"731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
		"2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
		"21f9664c97637da9768812f615c68b13b52e")
	tag := h("c0875924c1c7987947deafd8780acf49")

	a, err := chacha20poly1305.NewX(key)
	require.NoError(t, err)
	got := a.Seal(nil, nonce, plaintext, aad)
	want := append(append([]byte(nil), ciphertext...), tag...)
	require.Equal(t, want, got, "Seal")
	pt, err := a.Open(nil, nonce, want, aad)
	require.NoError(t, err, "Open")
	require.Equal(t, plaintext, pt, "Open")
	want[len(want)-1] ^= 1
	_, err = a.Open(nil, nonce, want, aad)
	assert.Error(t, err, "Open accepted a modified tag")
}
