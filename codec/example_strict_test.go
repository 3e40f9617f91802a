package codec_test

import (
	"errors"
	"fmt"

	"github.com/sealedsession/sealedsession/codec"
)

// The cart line as version 1 of the application stored it.
type LineV1 struct {
	SKU string
	Qty int
}

// Version 2 renamed Qty and added a currency.
type LineV2 struct {
	SKU      string
	Quantity int
	Currency string
}

// The new type gets a new, versioned key name; the old key stays declared
// until every session written before the deploy has expired.
var (
	cartV1 = codec.NewKey[[]LineV1]("cart", codec.Strict())
	cartV2 = codec.NewKey[[]LineV2]("cart.v2", codec.Strict())
)

// loadCart reads the current cart, migrating one stored by version 1.
func loadCart(s codec.Values) ([]LineV2, error) {
	cart, err := cartV2.Lookup(s)
	if !errors.Is(err, codec.ErrNotFound) {
		return cart, err // found, or unreadable (codec.ErrSchemaMismatch...)
	}
	old, err := cartV1.Lookup(s)
	if errors.Is(err, codec.ErrNotFound) {
		return nil, nil // no cart yet
	}
	if err != nil {
		return nil, err
	}
	cart = make([]LineV2, len(old))
	for i, l := range old {
		cart[i] = LineV2{SKU: l.SKU, Quantity: l.Qty, Currency: "EUR"}
	}
	if err := cartV2.Set(s, cart); err != nil {
		return nil, err
	}
	cartV1.Delete(s)
	return cart, nil
}

func ExampleStrict() {
	// A session written by version 1.
	p := codec.NewPayload(codec.Header{})
	_ = cartV1.Set(p, []LineV1{{SKU: "SKU-1001", Qty: 2}})

	// Reading it with the new type under the old name: a lenient key
	// silently zeroes the renamed field, a strict one says so.
	lenient, ok := codec.NewKey[[]LineV2]("cart").Get(p)
	fmt.Printf("lenient: %+v %v\n", lenient, ok)
	_, err := codec.NewKey[[]LineV2]("cart", codec.Strict()).Lookup(p)
	fmt.Println("strict:", errors.Is(err, codec.ErrSchemaMismatch))
	fmt.Println(err)

	// The versioned key and a migration.
	cart, err := loadCart(p)
	fmt.Printf("%+v %v %v\n", cart, err, p.Names())
	// Output:
	// lenient: [{SKU:SKU-1001 Quantity:0 Currency:}] true
	// strict: true
	// codec: value "cart" does not decode into []codec_test.LineV2: codec: stored value's fields differ from the type's: 1 stored field(s) not in the type; not stored: "Currency", "Quantity" (renamed?)
	// [{SKU:SKU-1001 Quantity:2 Currency:EUR}] <nil> [cart.v2]
}
