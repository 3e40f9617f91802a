package redisstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseMessage(t *testing.T) {
	good := []Message{
		{Seq: 1, Kind: KindUser, UserID: "alice"},
		{Seq: 9223372036854775807, Kind: KindUser, UserID: "user with spaces"},
		{Seq: 3, Kind: KindUser, UserID: strings.Repeat("x", 255)},
		{Seq: 5, Kind: KindGlobal, Value: 42},
		{Seq: 6, Kind: KindGlobal, Value: 0},
		{Seq: 7, Kind: KindGlobal, Value: 9223372036854775807},
	}
	for _, m := range good {
		got, err := ParseMessage(m.String())
		assert.NoError(t, err, "ParseMessage(%q)", m.String())
		assert.Equal(t, m, got, "ParseMessage(%q)", m.String())
	}
	assert.Equal(t, "2 12 g 5", (Message{Seq: 12, Kind: KindGlobal, Value: 5}).String(), "global message")
	bad := []string{
		"", "2", "2 ", "2 1", "2 1 ", "2 1 u", "1 u 1 alice", "1 g 7", "2 1 x alice", "2 1 g", "2 1 g 01", "2 1 g -1",
		"2 1 g 1 extra", "2 0 g 1", "2 01 g 1", "2 1 g +1", "2 1 u " + strings.Repeat("x", 256),
		// Numbers past the largest Redis integer are forged (issue 14).
		"2 1 g 18446744073709551615", "2 1 g 9223372036854775808", "2 18446744073709551615 u alice",
		"2 1 g 18446744073709551616", "2  1 g 1", " 2 1 g 1", "2 1 gg 1", "2 4 u ",
	}
	for _, s := range bad {
		m, err := ParseMessage(s)
		assert.ErrorIs(t, err, ErrBadMessage, "ParseMessage(%q) = %+v", s, m)
	}
}

// FuzzParseMessage checks that ParseMessage never panics on channel
// payloads and that whatever it accepts re-encodes to the same text.
func FuzzParseMessage(f *testing.F) {
	f.Add("2 1 u alice")
	f.Add("2 7 g 7")
	f.Add("2 3 g 18446744073709551615")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMessage(s)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v does not match ErrBadMessage", err)
			}
			return
		}
		if m.Kind == KindGlobal && m.Value > maxCounter {
			t.Fatalf("ParseMessage(%q) accepted %d", s, m.Value)
		}
		if got := m.String(); got != s {
			t.Fatalf("ParseMessage(%q).String() = %q", s, got)
		}
	})
}
