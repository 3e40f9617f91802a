package tracklist

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	require.True(t, refused, "refuse: not refused")
	require.Nil(t, ev, "refuse: evicted")
	require.Len(t, out, 2, "refuse")
	out, ev, refused = Add(list, mk(3, 3), 2, true)
	require.False(t, refused, "evict: refused")
	require.Len(t, ev, 1, "evict: evicted")
	require.Equal(t, byte(1), ev[0].ID[0], "evict: evicted ID")
	require.Len(t, out, 2, "evict")
	require.Equal(t, byte(3), out[1].ID[0], "evict: added ID")
	again := mk(3, 9)
	out, ev, refused = Add(out, again, 2, false)
	require.False(t, refused, "re-add: refused")
	require.Nil(t, ev, "re-add: evicted")
	require.Len(t, out, 2, "re-add")
	require.WithinDuration(t, again.Created, out[1].Created, 0, "re-add: Created")
	require.Empty(t, Live([]versioning.SessionInfo{mk(1, 1)}, t0.Add(time.Hour)), "expired entry kept")
	c := ClipClient(versioning.SessionInfo{Client: strings.Repeat("é", 100)})
	require.LessOrEqual(t, len(c.Client), MaxClient, "clip: bytes kept")
	require.True(t, strings.HasPrefix(strings.Repeat("é", 100), c.Client), "clip: %q is not a prefix of the input", c.Client)
}
