package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
)

// CartItem is one line of the cart, stored as a typed value in the session.
type CartItem struct {
	SKU        string `cbor:"sku"`
	Name       string `cbor:"name"`
	Qty        int    `cbor:"qty"`
	PriceCents int    `cbor:"price"`
}

// cartKey is the cart's typed key in the session.
var cartKey = codec.NewKey[[]CartItem]("cart")

type product struct {
	SKU        string
	Name       string
	PriceCents int
}

var catalogue = []product{
	{"MUG", "Hand-thrown stoneware mug", 1850},
	{"TEA", "Loose-leaf green tea, 100 g", 990},
	{"BOOK", "Paperback notebook, dotted", 1200},
	{"PEN", "Fountain pen, fine nib", 3400},
}

func formatMoney(cents int) string {
	return fmt.Sprintf("€%d.%02d", cents/100, cents%100)
}

func cartTotal(items []CartItem) string {
	t := 0
	for _, it := range items {
		t += it.Qty * it.PriceCents
	}
	return formatMoney(t)
}

// maxAddAtOnce bounds the "count" form field.
const maxAddAtOnce = 10

func (a *app) cart(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	d := a.page(w, r, s, "Cart")
	d.Cart, _ = cartKey.Get(s)
	d.CartTotal = cartTotal(d.Cart)
	d.Catalogue = catalogue
	switch r.URL.Query().Get("msg") {
	case "full":
		d.Error = "The cart is full: the session would no longer fit the cookie budget, so nothing was added and your previous cart is kept."
	case "added":
		d.Notice = "Added to the cart."
	case "cleared":
		d.Notice = "The cart is empty."
	}
	a.render(w, r, http.StatusOK, "cart", d)
}

func (a *app) cartAdd(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	count := 1
	if c := r.PostFormValue("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > maxAddAtOnce {
			http.Error(w, fmt.Sprintf("count must be 1 to %d", maxAddAtOnce), http.StatusBadRequest)
			return
		}
		count = n
	}
	old, _ := cartKey.Get(s)
	items := append([]CartItem(nil), old...)
	sku := r.PostFormValue("sku")
	for i := 0; i < count; i++ {
		p := catalogue[(len(items))%len(catalogue)]
		if sku != "" && count == 1 {
			found := false
			for _, c := range catalogue {
				if c.SKU == sku {
					p, found = c, true
				}
			}
			if !found {
				http.Error(w, "unknown product", http.StatusBadRequest)
				return
			}
		}
		n := len(items) + 1
		items = append(items, CartItem{
			SKU:        fmt.Sprintf("%s-%03d", p.SKU, n),
			Name:       fmt.Sprintf("%s (line %d)", p.Name, n),
			Qty:        1,
			PriceCents: p.PriceCents,
		})
	}
	// A cart that would not fit the session's size budget is refused when
	// it is set: the session keeps the previous cart.
	if err := cartKey.Set(s, items); err != nil {
		var se *httpx.SizeError
		if errors.As(err, &se) {
			a.log.InfoContext(r.Context(), "cart refused at the size budget",
				"session", s.Tag(), "limit", se.Limit.String(), "needed", se.Size, "max", se.Max, "over", se.Over())
			http.Redirect(w, r, "/cart?msg=full", http.StatusSeeOther)
			return
		}
		http.Error(w, "could not store the cart", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/cart?msg=added", http.StatusSeeOther)
}

func (a *app) cartClear(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if err := cartKey.Delete(s); err != nil {
		http.Error(w, "could not clear the cart", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/cart?msg=cleared", http.StatusSeeOther)
}
