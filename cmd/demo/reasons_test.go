package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

var warningRE = regexp.MustCompile(`<div class="warning" id="warning" role="alert"><span aria-hidden="true">⚠</span> ([^<]*)</div>`)

// warningOf returns the warning box's text on page, or "".
func warningOf(page string) string {
	if m := warningRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// A refused cookie is explained in plain words in a warning box, on any
// page, once; never as a raw label, never in the green notice box.
func TestRejectionWarning(t *testing.T) {
	clock := testkit.NewClock()
	h, _ := newTestApp(t, func(c *config) { c.Now = clock.Now })

	check := func(t *testing.T, c *client, path, want string) {
		t.Helper()
		page := body(t, c.do(http.MethodGet, path, nil, nil))
		assert.Contains(t, warningOf(page), want, "GET %s: warning", path)
		for _, label := range []string{"auth_failed", "idle_expired", "absolute_expired", "epoch_bumped", "revoked"} {
			assert.NotContains(t, page, label, "GET %s shows the raw label %s", path, label)
		}
		assert.NotRegexp(t, regexp.MustCompile(`class="flash"[^>]*>[^<]*(session|cookie)`), page, "GET %s: the rejection is in a notice box", path)
		again := body(t, c.do(http.MethodGet, path, nil, nil))
		assert.Empty(t, warningOf(again), "GET %s: the warning shows again on the next page", path)
	}

	t.Run("forged", func(t *testing.T) {
		c := newClient(t, h)
		c.login("alice", "correct-horse-alice")
		v := []byte(c.jar["__Host-session"])
		i := len(v) / 2
		if v[i] == 'A' {
			v[i] = 'B'
		} else {
			v[i] = 'A'
		}
		c.jar["__Host-session"] = string(v)
		check(t, c, "/", "damaged or forged")
	})
	t.Run("idle", func(t *testing.T) {
		c := newClient(t, h)
		c.login("alice", "correct-horse-alice")
		clock.Advance(11 * time.Minute)
		check(t, c, "/cart", "expired after 10 minutes without activity")
	})
	t.Run("absolute", func(t *testing.T) {
		c := newClient(t, h)
		c.login("alice", "correct-horse-alice")
		for range 6 { // active every 9 minutes: 54 minutes
			clock.Advance(9 * time.Minute)
			s := c.session()
			require.Equal(t, true, s["authenticated"], "logged out before the absolute deadline: %v", s)
		}
		clock.Advance(7 * time.Minute) // 61 minutes: past the 1 hour
		check(t, c, "/inside", "maximum lifetime of 1 hour")
	})
	t.Run("everywhere", func(t *testing.T) {
		laptop, phone := newClient(t, h), newClient(t, h)
		laptop.login("alice", "correct-horse-alice")
		phone.login("alice", "correct-horse-alice")
		phone.do(http.MethodPost, "/logout-everywhere", url.Values{}, nil)
		check(t, laptop, "/", "ended on another device")
	})
	t.Run("no rejection", func(t *testing.T) {
		c := newClient(t, h)
		c.login("alice", "correct-horse-alice")
		assert.Empty(t, warningOf(body(t, c.do(http.MethodGet, "/", nil, nil))), "warning on a good session")
	})
}

func TestRejectionWarningEveryReason(t *testing.T) {
	pol := versioning.Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 24 * time.Hour}
	fallback := rejectionWarning(fmt.Errorf("something else"), pol)
	for err, want := range map[error]string{
		versioning.ErrIdleExpired:      "Your session expired after 30 minutes without activity",
		versioning.ErrAbsoluteExpired:  "maximum lifetime of 1 day",
		versioning.ErrEpochBumped:      "ended on another device",
		versioning.ErrRevoked:          "was logged out",
		sealed.ErrAuthFailed:           "damaged or forged",
		sealed.ErrMalformed:            "malformed",
		codec.ErrMalformed:             "malformed",
		httpx.ErrChunks:                "did not fit together",
		httpx.ErrOversizedCookie:       "larger than this server accepts",
		sealed.ErrUnknownKey:           "key this server no longer uses",
		versioning.ErrIssuedInFuture:   "in the future",
		codec.ErrUnsupportedVersion:    "format this server does not read",
		versioning.ErrStoreUnavailable: "store is unavailable",
		httpx.ErrLegacyRejected:        "previous version of this site",
		httpx.ErrClientChanged:         "different network or browser",
		httpx.ErrSimultaneousUse:       "two distant networks",
	} {
		got := rejectionWarning(fmt.Errorf("wrapped: %w", err), pol)
		assert.Contains(t, got, want, "%v (%s)", err, httpx.ReasonLabel(err))
		assert.NotEqual(t, fallback, got, "%v (%s): the fallback warning", err, httpx.ReasonLabel(err))
	}
	assert.Empty(t, rejectionWarning(nil, pol), "a warning without a rejection")
}
