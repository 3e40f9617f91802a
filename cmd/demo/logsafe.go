package main

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLogString bounds a user-supplied string in a log line, in bytes.
const maxLogString = 64

// logString makes a user-supplied string (a user name typed at login, a
// form value) safe for a log line: control and format characters
// (newlines, escape sequences, U+2028, bidi overrides...) and invalid
// UTF-8 become "?", and the result is cut to at most maxLogString bytes,
// on a rune boundary, with "…" marking the cut.
func logString(s string) string {
	var b strings.Builder
	const ellipsis = "…"
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				r = '?'
			}
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) || unicode.Is(unicode.Cf, r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > maxLogString {
			// Cut so that the text and the ellipsis fit the bound.
			out := b.String()
			for len(out)+len(ellipsis) > maxLogString {
				_, size := utf8.DecodeLastRuneInString(out)
				out = out[:len(out)-size]
			}
			return out + ellipsis
		}
		b.WriteRune(r)
	}
	return b.String()
}
