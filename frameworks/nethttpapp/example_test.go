package nethttpapp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sealedsession/sealedsession/frameworks/nethttpapp"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
)

func ExampleNew() {
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: keys})
	if err != nil {
		panic(err)
	}
	app := nethttpapp.New(m) // http.ListenAndServe(addr, app)

	var cookies []*http.Cookie
	send := func(method, path string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if set := rec.Result().Cookies(); len(set) > 0 {
			cookies = set // what a browser keeps
		}
		return rec
	}
	send(http.MethodPost, "/cart/add", url.Values{"item": {"apple"}})
	send(http.MethodPost, "/login", url.Values{"user": {"alice"}})
	fmt.Println(strings.TrimSpace(send(http.MethodGet, "/cart", nil).Body.String()))
	fmt.Println(strings.TrimSpace(send(http.MethodGet, "/cart", nil).Body.String()))
	// Output:
	// {"user":"alice","items":["apple"],"flashes":["welcome, alice"]}
	// {"user":"alice","items":["apple"],"flashes":null}
}
