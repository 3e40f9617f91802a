package redisstore

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/sealedsession/sealedsession/codec"
)

// MessageKind says what an invalidation message announces.
type MessageKind byte

// The kinds of invalidation message. The byte values are the wire form.
const (
	// KindUser announces a user's new own epoch counter.
	KindUser MessageKind = 'u'
	// KindGlobal announces the new global epoch counter.
	KindGlobal MessageKind = 'g'
	// KindRevoke announces a revoked session ID and its expiry.
	KindRevoke MessageKind = 'r'
)

// maxUserIDLen bounds the user ID in a message (codec allows 255 bytes).
const maxUserIDLen = 255

// Message is one decoded invalidation message (see the package
// documentation for the wire form).
type Message struct {
	Kind    MessageKind     // what the message announces
	Value   uint64          // KindUser, KindGlobal: the new counter; KindRevoke: until, unix milliseconds
	UserID  string          // KindUser only
	Session codec.SessionID // KindRevoke only
}

// ParseMessage decodes one invalidation message. Anything but the exact
// forms written by this package gives an error matching ErrBadMessage; it
// never panics.
func ParseMessage(s string) (Message, error) {
	rest, ok := strings.CutPrefix(s, "1 ")
	if !ok || len(rest) < 3 || rest[1] != ' ' {
		return Message{}, badMessage("unknown version or shape")
	}
	m := Message{Kind: MessageKind(rest[0])}
	rest = rest[2:]
	num, tail, _ := strings.Cut(rest, " ")
	v, err := parseUint(num)
	if err != nil {
		return Message{}, err
	}
	m.Value = v
	switch m.Kind {
	case KindGlobal:
		if num != rest {
			return Message{}, badMessage("trailing data")
		}
	case KindUser:
		if num == rest || tail == "" || len(tail) > maxUserIDLen {
			return Message{}, badMessage("bad user ID")
		}
		m.UserID = tail
	case KindRevoke:
		if _, err := hexDecode(m.Session[:], tail); err != nil {
			return Message{}, err
		}
	default:
		return Message{}, badMessage("unknown kind")
	}
	return m, nil
}

// String returns the wire form of m.
func (m Message) String() string {
	switch m.Kind {
	case KindUser:
		return "1 u " + strconv.FormatUint(m.Value, 10) + " " + m.UserID
	case KindGlobal:
		return "1 g " + strconv.FormatUint(m.Value, 10)
	case KindRevoke:
		return "1 r " + strconv.FormatUint(m.Value, 10) + " " + hex.EncodeToString(m.Session[:])
	}
	return fmt.Sprintf("redisstore.Message(kind %d)", byte(m.Kind))
}

// parseUint accepts canonical decimal only (no sign, no leading zeros).
func parseUint(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, badMessage("bad number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, badMessage("bad number")
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badMessage("bad number")
	}
	return v, nil
}

func badMessage(why string) error { return fmt.Errorf("%w: %s", ErrBadMessage, why) }

// hexDecode decodes exactly len(dst) bytes of lower-case hex from s.
func hexDecode(dst []byte, s string) (int, error) {
	if len(s) != 2*len(dst) {
		return 0, badMessage("bad hex length")
	}
	for i := 0; i < len(s); i++ { // lower-case only: one text per ID
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, badMessage("bad hex")
		}
	}
	return hex.Decode(dst, []byte(s))
}
