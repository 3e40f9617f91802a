package codec_test

import (
	"fmt"

	"github.com/sealedsession/sealedsession/codec"
)

type CartItem struct {
	SKU        string
	Qty        int
	PriceCents int64
}

// Keys are declared once, at package level; a bad name panics at start-up.
var cartKey = codec.NewKey[[]CartItem]("cart")

func ExampleNewKey() {
	p := codec.NewPayload(codec.Header{UserID: "u-1842"})

	if err := cartKey.Set(p, []CartItem{{SKU: "SKU-1001", Qty: 2, PriceCents: 1999}}); err != nil {
		fmt.Println(err)
		return
	}
	b := p.AppendEncode(nil) // what gets sealed; len(b) == p.EncodedLen()

	q, err := codec.Decode(b, nil) // values stay raw until asked for
	if err != nil {
		fmt.Println(err)
		return
	}
	cart, ok := cartKey.Get(q)
	fmt.Println(cart, ok, len(b) == p.EncodedLen())

	// A value of another type under the same name is an error, not a panic.
	_, err = codec.NewKey[string]("cart").Lookup(q)
	fmt.Println(err != nil)
	// Output:
	// [{SKU-1001 2 1999}] true true
	// true
}

func ExamplePayload_AddFlash() {
	p := codec.NewPayload(codec.Header{})
	p.AddFlash("Saved successfully")

	// Next request: the flash is read once, then gone.
	q, _ := codec.Decode(p.AppendEncode(nil), nil)
	fmt.Println(q.Flashes(), q.Dirty())
	fmt.Println(q.Flashes())
	// Output:
	// [Saved successfully] true
	// []
}

func ExampleDecode() {
	p := codec.NewPayload(codec.Header{UserID: "u-1842", Generation: 2})
	b := p.AppendEncode(nil)

	q, err := codec.Decode(b, &codec.Limits{MaxSize: 4096})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.Header().UserID, q.Header().Generation, q.Dirty())

	b[0] = 7 // a format version this package does not know
	_, err = codec.Decode(b, nil)
	fmt.Println(err)
	// Output:
	// u-1842 2 false
	// codec: unsupported payload format version 7
}
