package httpx

import (
	"net/http"

	"github.com/sealedsession/sealedsession/internal/wire"
)

// bearerTransport carries a session in an "Authorization: Bearer" request
// header and a Session-Token response header (Config.AllowBearer). The
// token is sealed for BearerContext, which no cookie context equals.
type bearerTransport struct{ m *Manager }

// tokenLinePrefix is the bytes a Session-Token line adds to its value.
var tokenLinePrefix = len(TokenHeader) + len(": ") + crlf

func (t *bearerTransport) read(r *http.Request) (text, ad []byte, present bool, err error) {
	tok, ok := bearerToken(r)
	if !ok {
		return nil, nil, false, nil
	}
	if len(tok) > t.m.readMax {
		return nil, nil, true, ErrOversizedCookie
	}
	return wire.StringBytes(tok), t.m.bearer, true, nil
}

func (t *bearerTransport) plan(textLen, extra int) (layout, error) {
	l := layout{pieces: 1, ad: t.m.bearer, headerBytes: extra + tokenLinePrefix + textLen, cookieBytes: textLen}
	if max := t.m.cfg.Cookie.MaxHeaderBytes; l.headerBytes > max {
		return l, l.over(LimitHeaderBytes, l.headerBytes, max)
	}
	return l, nil
}

func (t *bearerTransport) write(h http.Header, text []byte, _ layout, _ int) {
	h[TokenHeader] = []string{string(text)}
}

// clear sends an empty token: the client discards the one it holds.
func (t *bearerTransport) clear(h http.Header, _ bool) {
	h[TokenHeader] = []string{""}
}

// bearerToken returns the token of a request's single "Authorization:
// Bearer" header (wire.ParseBearer). A request with no such header,
// several Authorization headers or an empty token has none.
func bearerToken(r *http.Request) (string, bool) {
	v := r.Header["Authorization"]
	if len(v) != 1 {
		return "", false
	}
	return wire.ParseBearer(v[0])
}
