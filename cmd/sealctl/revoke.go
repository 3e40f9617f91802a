package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

func runRevoke(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("revoke", "-user USER [-store S] [-until DURATION|RFC3339] SESSIONID",
		"Refuses one session of USER (its 32-hex-digit ID and user, as 'sealctl inspect' prints them) until -until.\n"+
			"Revocations are kept per user; anonymous sessions are never revoked. Make -until at least the\n"+
			"session's idle timeout plus clock skew (or its absolute deadline, if sooner); after it the entry expires by itself.", stderr)
	store := storeFlag(fs)
	user := fs.String("user", "", "the session's user ID (required: revocations are kept per user)")
	until := fs.String("until", "24h", "how long from now (e.g. 25h) or until when (RFC 3339 time)")
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
		return usageError(fs, stderr, "missing -user (anonymous sessions are never revoked)")
	}
	id, err := codec.ParseSessionID(pos[0])
	if err != nil {
		return usageError(fs, stderr, "SESSIONID %q is not a session ID (32 hex digits, the session_id inspect prints; the short tag is not enough)", pos[0])
	}
	now := time.Now()
	var t time.Time
	if d, derr := time.ParseDuration(*until); derr == nil {
		if d <= 0 {
			return usageError(fs, stderr, "-until %s is not in the future", *until)
		}
		t = now.Add(d)
	} else if pt, terr := time.Parse(time.RFC3339, *until); terr == nil {
		if !pt.After(now) {
			return usageError(fs, stderr, "-until %s is not in the future", *until)
		}
		t = pt
	} else {
		return usageError(fs, stderr, "-until %q: want a duration (25h) or an RFC 3339 time (2030-01-02T15:04:05Z)", *until)
	}
	return withStore("revoke", *store, stderr, func(ctx context.Context, s versioning.Store) error {
		if err := s.Revoke(ctx, *user, id, t); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "session %s (tag %s) of user %q revoked until %s\n", id, id.Tag(), *user, t.UTC().Format(time.RFC3339))
		return nil
	})
}
