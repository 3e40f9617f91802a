package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// revocationLifetime is how long a revocation made now has to last: a
// copy of the session (an attacker's included) was last seen no later
// than now, and from now on every use of it is refused, so no copy can
// move its last-seen time forward. It therefore dies of the idle timeout
// by now + idle (+ skew, since the application accepts times up to skew
// in the future), and of the absolute timeout no later than now +
// absolute, whichever comes first. This is the rule the library's own
// Logout follows: a revocation ends at logout + idle timeout + skew.
func revocationLifetime(idle, absolute, skew time.Duration) time.Duration {
	return min(absolute, idle+skew)
}

func runRevoke(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("revoke", "-user USER [-store S] [-idle D] [-absolute D] [-skew D] [-until DURATION|RFC3339] SESSIONID",
		"Refuses one session of USER (its 32-hex-digit ID and its user, as 'sealctl inspect' prints them;\n"+
			"revocations are kept per user, and anonymous sessions are never revoked) in the store the\n"+
			"application uses, from now until the session could no longer be used anyway:\n"+
			"    now + min(-absolute, -idle + -skew)\n"+
			"(every copy was last seen no later than now and cannot be renewed while revoked, so it\n"+
			"dies of the idle timeout by then, and of the absolute timeout no later than now + -absolute).\n"+
			"Pass the application's timeouts: the defaults are the library's (idle 30m, absolute 24h,\n"+
			"skew 30s). -until sets the end explicitly instead. The output says what was assumed.\n"+
			"-store memory is refused (no application would see it); a bolt file that the running\n"+
			"application holds fails after about a second, saying what to do instead.\n"+
			storeExitCodes, stderr)
	store := storeFlag(fs)
	user := fs.String("user", "", "the session's user ID (required: revocations are kept per user)")
	idle := fs.Duration("idle", versioning.DefaultIdleTimeout, "the application's idle timeout")
	absolute := fs.Duration("absolute", versioning.DefaultAbsoluteTimeout, "the application's absolute timeout")
	skew := fs.Duration("skew", versioning.DefaultClockSkew, "the application's tolerated clock skew (also covers this machine's clock)")
	until := fs.String("until", "", "instead of the timeouts: how long from now (e.g. 25h) or until when (RFC 3339 time)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	switch {
	case len(pos) == 0:
		return usageError(fs, stderr, "missing SESSIONID")
	case len(pos) > 1:
		return usageError(fs, stderr, "one SESSIONID at a time, got %d arguments", len(pos))
	}
	if *user == "" {
		return usageError(fs, stderr, "missing -user (revocations are kept per user; anonymous sessions are never revoked)")
	}
	id, err := codec.ParseSessionID(pos[0])
	if err != nil {
		return usageError(fs, stderr, "SESSIONID %q is not a session ID (32 hex digits, the session_id inspect prints; the short tag is not enough)", pos[0])
	}
	switch {
	case *idle <= 0 || *absolute <= 0:
		return usageError(fs, stderr, "-idle and -absolute must be positive, got %v and %v", *idle, *absolute)
	case *idle > *absolute:
		return usageError(fs, stderr, "-idle %v is longer than -absolute %v", *idle, *absolute)
	case *skew < 0 || *skew > versioning.MaxClockSkew:
		return usageError(fs, stderr, "-skew %v: want 0 to %v", *skew, versioning.MaxClockSkew)
	}
	now := time.Now()
	var t time.Time
	var why string
	if *until == "" {
		life := revocationLifetime(*idle, *absolute, *skew)
		t = now.Add(life)
		why = fmt.Sprintf("%v from now = min(absolute %v, idle %v + skew %v); assumed the application runs with "+
			"these timeouts: if not, pass its -idle, -absolute and -skew", life, *absolute, *idle, *skew)
	} else if d, derr := time.ParseDuration(*until); derr == nil {
		if d <= 0 {
			return usageError(fs, stderr, "-until %s is not in the future", *until)
		}
		t, why = now.Add(d), fmt.Sprintf("%v from now, as -until says", d)
	} else if pt, terr := time.Parse(time.RFC3339, *until); terr == nil {
		if !pt.After(now) {
			return usageError(fs, stderr, "-until %s is not in the future", *until)
		}
		t, why = pt, "as -until says"
	} else {
		return usageError(fs, stderr, "-until %q: want a duration (25h) or an RFC 3339 time (2030-01-02T15:04:05Z)", *until)
	}
	return withStore("revoke", *store, stderr, func(ctx context.Context, s versioning.Store) error {
		if err := s.Revoke(ctx, *user, id, t); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "session %s (tag %s) of user %q revoked until %s (%s)\n", id, id.Tag(), *user, t.UTC().Format(time.RFC3339), why)
		return nil
	})
}
