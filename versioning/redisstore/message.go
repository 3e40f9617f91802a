package redisstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sealedsession/sealedsession/codec"
)

// MessageKind says what an invalidation message announces.
type MessageKind byte

// The kinds of invalidation message. The byte values are the wire form.
const (
	// KindUser announces that a user's state (epoch or revocations)
	// changed: caches drop that user and refetch it on demand.
	KindUser MessageKind = 'u'
	// KindGlobal announces the new global epoch counter.
	KindGlobal MessageKind = 'g'
)

// maxUserIDLen bounds a user ID: the payload header's bound.
const maxUserIDLen = codec.MaxUserIDLen

// maxCounter is the largest counter value Redis can hold (INCR works on
// signed 64-bit integers). Any larger value read from Redis, in a message
// or a reply, is corrupt or forged and refused.
const maxCounter = math.MaxInt64

// Message is one decoded invalidation message. Its wire form is ASCII:
// "2 <seq> u <userID>" or "2 <seq> g <global epoch>", where seq is the
// value of the store's sequence counter, incremented by every write in the
// same atomic step as its PUBLISH, so that a subscriber sees a gap when it
// missed a message.
type Message struct {
	Seq    uint64      // the sequence number (1, 2, ...)
	Kind   MessageKind // what the message announces
	Value  uint64      // KindGlobal: the new global counter
	UserID string      // KindUser only
}

// ParseMessage decodes one invalidation message. Anything but the exact
// forms written by this package, including any number above the largest
// Redis integer (2^63-1), gives an error matching ErrBadMessage; it never
// panics.
func ParseMessage(s string) (Message, error) {
	rest, ok := strings.CutPrefix(s, "2 ")
	if !ok {
		return Message{}, badMessage("unknown version")
	}
	num, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return Message{}, badMessage("no kind")
	}
	seq, err := parseCounter(num)
	if err != nil {
		return Message{}, err
	}
	if seq == 0 {
		return Message{}, badMessage("sequence 0")
	}
	if len(rest) < 3 || rest[1] != ' ' {
		return Message{}, badMessage("bad shape")
	}
	m := Message{Seq: seq, Kind: MessageKind(rest[0])}
	arg := rest[2:]
	switch m.Kind {
	case KindGlobal:
		if m.Value, err = parseCounter(arg); err != nil {
			return Message{}, err
		}
	case KindUser:
		if arg == "" || len(arg) > maxUserIDLen {
			return Message{}, badMessage("bad user ID")
		}
		m.UserID = arg
	default:
		return Message{}, badMessage("unknown kind")
	}
	return m, nil
}

// String returns the wire form of m.
func (m Message) String() string {
	switch m.Kind {
	case KindUser:
		return "2 " + strconv.FormatUint(m.Seq, 10) + " u " + m.UserID
	case KindGlobal:
		return "2 " + strconv.FormatUint(m.Seq, 10) + " g " + strconv.FormatUint(m.Value, 10)
	}
	return fmt.Sprintf("redisstore.Message(kind %d)", byte(m.Kind))
}

// parseCounter accepts canonical decimal only (no sign, no leading zeros)
// up to maxCounter.
func parseCounter(s string) (uint64, error) {
	v, err := parseCanonical(s)
	switch {
	case errors.Is(err, errOutOfRange):
		return 0, badMessage("number out of range")
	case err != nil:
		return 0, badMessage("bad number")
	}
	return v, nil
}

// errNotCanonical is a counter that is not canonical decimal.
var errNotCanonical = errors.New("not a canonical decimal counter")

// parseCanonical is the one reader of the counters the store writes as
// text (messages, bucket values): canonical decimal (digits only, no
// leading zero) gives the number, anything else errNotCanonical, and a
// number above maxCounter errOutOfRange.
func parseCanonical(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errNotCanonical
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotCanonical
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > maxCounter {
		return 0, errOutOfRange
	}
	return v, nil
}

func badMessage(why string) error { return fmt.Errorf("%w: %s", ErrBadMessage, why) }
