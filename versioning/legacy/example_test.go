package legacy_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/gorilla/sessions"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning/legacy"
)

func ExampleReader_Read() {
	hash := []byte("the-old-64-byte-hash-key-of-the-application-0123456789abcdefghij")
	block := []byte("the-old-32-byte-block-key-012345")

	// A cookie as the old application wrote it.
	old := sessions.NewCookieStore(hash, block)
	req := httptest.NewRequest("GET", "/", nil)
	rec := httptest.NewRecorder()
	s, _ := old.New(req, "app-session")
	s.Values["uid"] = "alice"
	s.Values["theme"] = "dark"
	_ = s.Save(req, rec)
	value := rec.Result().Cookies()[0].Value

	theme := codec.NewKey[string]("theme")
	r, err := legacy.NewReader(legacy.Options{
		CookieName:          "app-session",
		AllowUnprefixedName: true, // the old app's name; see the package doc
		HashKey:             hash,
		BlockKey:            block,
		Map: func(values map[any]any, p *codec.Payload) error {
			if uid, ok := values["uid"].(string); ok {
				p.Header().UserID = uid
			}
			if t, ok := values["theme"].(string); ok {
				return theme.Set(p, t)
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	c, err := r.Read(value, time.Now())
	p := c.Payload
	if err != nil {
		panic(err)
	}
	t, _ := theme.Get(p)
	fmt.Println(p.Header().UserID, t, p.Dirty())
	// Output: alice dark true
}
