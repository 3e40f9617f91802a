package tracklist

import (
	"strings"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

func TestAdd(t *testing.T) {
	t0 := time.Unix(1000, 0)
	mk := func(b byte, created int) versioning.SessionInfo {
		return versioning.SessionInfo{ID: codec.SessionID{b}, Created: t0.Add(time.Duration(created) * time.Second), Expires: t0.Add(time.Hour)}
	}
	list := []versioning.SessionInfo{mk(2, 2), mk(1, 1)}
	out, ev, refused := Add(list, mk(3, 3), 2, false)
	if !refused || ev != nil || len(out) != 2 {
		t.Fatalf("refuse: %v %v %v", out, ev, refused)
	}
	out, ev, refused = Add(list, mk(3, 3), 2, true)
	if refused || len(ev) != 1 || ev[0].ID[0] != 1 || len(out) != 2 || out[1].ID[0] != 3 {
		t.Fatalf("evict: %v %v %v", out, ev, refused)
	}
	again := mk(3, 9)
	out, ev, refused = Add(out, again, 2, false)
	if refused || ev != nil || len(out) != 2 || !out[1].Created.Equal(again.Created) {
		t.Fatalf("re-add: %v %v %v", out, ev, refused)
	}
	if l := Live([]versioning.SessionInfo{mk(1, 1)}, t0.Add(time.Hour)); len(l) != 0 {
		t.Fatal("expired entry kept")
	}
	c := ClipClient(versioning.SessionInfo{Client: strings.Repeat("é", 100)})
	if len(c.Client) > MaxClient || !strings.HasPrefix(strings.Repeat("é", 100), c.Client) {
		t.Fatalf("clip %d", len(c.Client))
	}
}
