package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogString(t *testing.T) {
	long := strings.Repeat("a", 200)
	for in, want := range map[string]string{
		"alice":                        "alice",
		"":                             "",
		"evil\nmsg=forged level=ERROR": "evil?msg=forged level=ERROR",
		"esc\x1b[31mred\x7f":           "esc?[31mred?",
		"bidi\u202egnp.exe\u2028x":     "bidi?gnp.exe?x",
		"bad\xffutf8":                  "bad?utf8",
		long:                           strings.Repeat("a", 61) + "…",
		strings.Repeat("a", 64):        strings.Repeat("a", 64),
		strings.Repeat("é", 40):        strings.Repeat("é", 30) + "…", // 2-byte runes: never cut inside one
		strings.Repeat("a", 62) + "日本": strings.Repeat("a", 61) + "…",
	} {
		got := logString(in)
		assert.Equal(t, want, got, "logString(%q)", in)
		assert.LessOrEqual(t, len(got), maxLogString, "logString(%q) bytes", in)
	}
}

// A failed login logs the typed user name bounded and without its
// control characters.
func TestLoginFailureLogBounded(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestApp(t, func(c *config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c := newClient(t, h)
	c.login("mallory\nlevel=ERROR msg=\"admin logged in\""+strings.Repeat("x", 5000), "nope")
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "login failed") {
			line = l
		}
	}
	require.NotEmpty(t, line, "no 'login failed' line:\n%s", logs.String())
	assert.NotContains(t, line, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "user name not bounded")
	assert.LessOrEqual(t, len(line), 300, "user name not bounded: %s", line)
	assert.Contains(t, line, `user="mallory?level=ERROR msg=\"admin logged in\"xxxx`, "login failure line")
	assert.Contains(t, line, "…", "login failure line")
}
