package wire_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sealedsession/sealedsession/internal/wire"
)

func TestChunkNamesAndContexts(t *testing.T) {
	assert.Equal(t, "s", wire.ChunkName("s", 0))
	assert.Equal(t, "s-3", wire.ChunkName("s", 3))
	assert.Equal(t, []byte("s\x00\x02"), wire.CookieContext("s", 2))
	assert.NotEqual(t, string(wire.CookieContext("Authorization: Bearer", 1)), wire.BearerContext)
}

func TestParseBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "BEARER x": "x", "Bearer ": "", "Bearer    ": "", "Basic abc": "", "Bearerabc": ""} {
		got, ok := wire.ParseBearer(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
}

func TestScanAndJoin(t *testing.T) {
	r := &wire.Reader{Base: "__Host-s", Limit: 4, Legacy: "old", Max: 100}
	for _, tc := range []struct {
		lines []string
		text  string
		n     int
		err   error
	}{
		{[]string{"__Host-s=abc"}, "abc", 1, nil},
		{[]string{"a=1; __Host-s-1=def", " __Host-s=abc ;x=y"}, "abcdef", 2, nil},
		{[]string{"__Host-s=abc; __Host-s-4=zzz; __Host-s-10=q; __Host-s-01=q"}, "abc", 1, nil}, // not session names
		{[]string{"__Host-s=; __Host-s-1=x"}, "x", 2, nil},                                      // an empty value counts
		{[]string{"__Host-s=a; __Host-s=b"}, "", 0, wire.ErrChunks},
		{[]string{"__Host-s-1=a"}, "", 0, wire.ErrChunks},
		{[]string{"__Host-s=a; __Host-s-2=b"}, "", 0, wire.ErrChunks},
		{[]string{"__Host-s=" + string(make([]byte, 101))}, "", 0, wire.ErrOversized},
	} {
		var cs wire.Chunks
		r.Scan(tc.lines, &cs)
		text, n, err := cs.Join(nil)
		if tc.err != nil {
			assert.True(t, errors.Is(err, tc.err), "%v: %v", tc.lines, err)
			continue
		}
		assert.NoError(t, err, tc.lines)
		assert.Equal(t, tc.text, string(text), tc.lines)
		assert.Equal(t, tc.n, n, tc.lines)
	}
	var cs wire.Chunks
	r.Scan([]string{"old=legacy-value; __Host-s=abc"}, &cs)
	assert.Equal(t, "legacy-value", cs.Legacy)
}

func FuzzScanJoin(f *testing.F) {
	f.Add("__Host-s=abc; __Host-s-1=def")
	f.Add("__Host-s=a;__Host-s=b; x")
	f.Fuzz(func(t *testing.T, line string) {
		r := &wire.Reader{Base: "__Host-s", Limit: 4, Max: 4096}
		var cs wire.Chunks
		r.Scan([]string{line}, &cs)
		text, n, err := cs.Join(nil)
		if err == nil && (n < 1 || n > 3 || len(text) > 4096) {
			t.Fatalf("join of %q: %d chunks, %d bytes", line, n, len(text))
		}
	})
}
