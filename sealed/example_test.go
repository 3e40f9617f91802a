package sealed_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/sealedsession/sealedsession/sealed"
)

// A fixed key for the examples. Real keys come from sealed.GenerateKey
// (or sealctl keygen) and are kept out of source code.
func exampleKey(b byte) *sealed.Key {
	secret := make([]byte, sealed.KeySize)
	for i := range secret {
		secret[i] = b
	}
	k, err := sealed.NewKey(secret)
	if err != nil {
		log.Fatal(err)
	}
	return k
}

func ExampleNewKeyring() {
	primary, older := exampleKey(1), exampleKey(2)
	ring, err := sealed.NewKeyring(primary, older)
	if err != nil {
		log.Fatal(err)
	}
	// The text form is what an operator puts in configuration, for
	// example SESSION_KEYS; ParseKeyring reads it back.
	again, err := sealed.ParseKeyring(ring.Export())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Primary().ID() == primary.ID(), len(again.Keys()))
	// Keys and rings print as key IDs only, never as secrets.
	fmt.Println(primary)
	fmt.Println(ring)
	// Output:
	// true 2
	// sealed.Key(e67ad885)
	// sealed.Keyring[e67ad885* 7b59d51c]
}

func ExampleKeyring_Rotate() {
	oldKey, newKey := exampleKey(1), exampleKey(2)
	ring, err := sealed.NewKeyring(oldKey)
	if err != nil {
		log.Fatal(err)
	}
	s, err := sealed.NewSealer(ring, "cookie", nil)
	if err != nil {
		log.Fatal(err)
	}
	text, err := s.Seal(nil, []byte("sealed before the rotation"), []byte("session"))
	if err != nil {
		log.Fatal(err)
	}

	if err := ring.Rotate(newKey); err != nil {
		log.Fatal(err)
	}
	plaintext, info, err := s.Open(nil, text, []byte("session"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (primary key: %v)\n", plaintext, info.Primary)
	if !info.Primary {
		// Re-seal with the new primary so the old key can be retired.
		text, _ = s.Seal(nil, plaintext, []byte("session"))
	}

	// Once nothing sealed with the old key is in use, remove it.
	if err := ring.Remove(oldKey.ID()); err != nil {
		log.Fatal(err)
	}
	_, info, err = s.Open(nil, text, []byte("session"))
	fmt.Println(info.Primary, err)
	// Output:
	// sealed before the rotation (primary key: false)
	// true <nil>
}

func ExampleSealer_Seal() {
	ring, err := sealed.NewKeyring(exampleKey(1))
	if err != nil {
		log.Fatal(err)
	}
	s, err := sealed.NewSealer(ring, "cookie", nil)
	if err != nil {
		log.Fatal(err)
	}
	payload := []byte(`{"user":"ada"}`)
	// Reuse buffers: with enough capacity, Seal and Open allocate nothing.
	buf := make([]byte, 0, sealed.SealedLen(len(payload)))
	text, err := s.Seal(buf, payload, []byte("__Host-session"))
	if err != nil {
		log.Fatal(err)
	}
	// The nonce is random, so the text differs every time; its length does not.
	fmt.Println(len(text) == sealed.SealedLen(len(payload)), len(text))

	out, info, err := s.Open(nil, text, []byte("__Host-session"))
	fmt.Printf("%s %v %v\n", out, info.Primary, err)

	// The context is authenticated: the same text under another cookie
	// name does not open.
	_, _, err = s.Open(nil, text, []byte("__Host-other"))
	fmt.Println(errors.Is(err, sealed.ErrAuthFailed))
	// Output:
	// true 79
	// {"user":"ada"} true <nil>
	// true
}
