package redisstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/sealedsession/sealedsession/codec"
)

func TestParseMessage(t *testing.T) {
	id := codec.SessionID{0x01, 0xab, 0xff, 15: 0x10}
	good := []Message{
		{Kind: KindUser, Value: 1, UserID: "alice"},
		{Kind: KindUser, Value: 18446744073709551615, UserID: "user with spaces"},
		{Kind: KindUser, Value: 0, UserID: strings.Repeat("x", 255)},
		{Kind: KindGlobal, Value: 42},
		{Kind: KindRevoke, Value: 1767225600000, Session: id},
	}
	for _, m := range good {
		got, err := ParseMessage(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMessage(%q) = %+v, %v; want %+v", m.String(), got, err, m)
		}
	}
	if s := (Message{Kind: KindRevoke, Value: 5, Session: id}).String(); s != "1 r 5 01abff00000000000000000000000010" {
		t.Errorf("revoke message = %q", s)
	}
	bad := []string{
		"", "1", "1 ", "1 u", "1 u 1", "1 u 1 ", "2 u 1 alice", "1 x 1 alice", "1 g", "1 g 01", "1 g -1",
		"1 g 1 extra", "1 g 18446744073709551616", "1 g +1", "1 u 1" + " " + strings.Repeat("x", 256),
		"1 r 5 01abff0000000000000000000000001", "1 r 5 01ABFF00000000000000000000000010",
		"1 r 5 01abff0000000000000000000000001g", "1 r 5", "1 r x 01abff00000000000000000000000010",
		"1  u 1 alice", " 1 u 1 alice",
	}
	for _, s := range bad {
		if m, err := ParseMessage(s); !errors.Is(err, ErrBadMessage) {
			t.Errorf("ParseMessage(%q) = %+v, %v; want ErrBadMessage", s, m, err)
		}
	}
}

// FuzzParseMessage checks that ParseMessage never panics on channel
// payloads and that whatever it accepts re-encodes to the same text.
func FuzzParseMessage(f *testing.F) {
	f.Add("1 u 3 alice")
	f.Add("1 g 7")
	f.Add("1 r 1767225600000 01abff00000000000000000000000010")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMessage(s)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v does not match ErrBadMessage", err)
			}
			return
		}
		if got := m.String(); got != s {
			t.Fatalf("ParseMessage(%q).String() = %q", s, got)
		}
	})
}
