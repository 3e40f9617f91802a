package csrf_test

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/csrf"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

var page = template.Must(template.New("page").Parse(
	`<form method="post" action="/comment">{{.CSRF}}<input name="text"><button>Send</button></form>`))

func ExampleProtect() {
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: keys, Store: memstore.New(nil)})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		field, err := csrf.Field(httpx.FromContext(r.Context())) // before the page is written
		if err != nil {
			http.Error(w, "cannot render the form", http.StatusInternalServerError)
			return
		}
		_ = page.Execute(w, map[string]any{"CSRF": field})
	})
	mux.HandleFunc("POST /comment", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "posted %q", r.PostFormValue("text"))
	})
	h := m.Wrap(http.NewCrossOriginProtection().Handler(csrf.Protect(m, csrf.Options{})(mux)))

	// The browser loads the form: it gets a session cookie and a token.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookie := rec.Result().Cookies()[0]
	token := regexp.MustCompile(`value="([^"]+)"`).FindStringSubmatch(rec.Body.String())[1]

	post := func(form url.Values) string {
		req := httptest.NewRequest(http.MethodPost, "/comment", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return fmt.Sprint(rec.Code, " ", strings.TrimSpace(rec.Body.String()))
	}
	fmt.Println(post(url.Values{"text": {"hello"}, "csrf_token": {token}}))
	fmt.Println(post(url.Values{"text": {"forged"}})) // a cross-site form carries the cookie, not the token
	// Output:
	// 200 posted "hello"
	// 403 Forbidden
}

// A script sends the token in a header; the page hands it over, for
// example in a meta tag.
func ExampleToken() {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, _ := httpx.New(httpx.Config{Keys: keys})
	h := m.Wrap(csrf.Protect(m, csrf.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			tok, err := csrf.Token(httpx.FromContext(r.Context()))
			if err != nil {
				http.Error(w, "no token", http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, `<meta name="csrf-token" content="%s">`, tok)
			return
		}
		fmt.Fprint(w, "deleted")
	})))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	token := regexp.MustCompile(`content="([^"]+)"`).FindStringSubmatch(rec.Body.String())[1]

	req := httptest.NewRequest(http.MethodDelete, "/item/7", nil)
	req.Header.Set("X-CSRF-Token", token) // fetch(url, {method: "DELETE", headers: {"X-CSRF-Token": token}})
	req.AddCookie(rec.Result().Cookies()[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 deleted
}
