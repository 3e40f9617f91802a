//go:build ignore

// gen_vectors writes the Checker test vectors in testdata/check, one file
// per case. Run it with: go run gen_vectors.go
//
// Every vector uses the default policy (idle 30m, absolute 24h, renew
// threshold 1m, clock skew 30s). The expectations below are stated by hand
// from SPEC.md, not computed by the Checker.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

type vector struct {
	name        string
	comment     string
	version     int
	issued      time.Duration // relative to now
	lastSeen    time.Duration // relative to now
	user        string
	userEpoch   uint64
	storeUser   uint64 // the user's counter in the store
	storeGlobal uint64 // the global counter
	revoked     bool
	expect      string
}

func main() {
	now := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	vs := []vector{
		{name: "fresh-anonymous", comment: "just issued", expect: "fresh"},
		{name: "fresh-at-threshold", comment: "last seen exactly the renew threshold ago", lastSeen: -time.Minute, issued: -time.Hour, expect: "fresh"},
		{name: "renew-past-threshold", comment: "last seen 1m0.001s ago", lastSeen: -time.Minute - time.Millisecond, issued: -time.Hour, expect: "renew"},
		{name: "idle-edge", comment: "last seen exactly the idle timeout ago", lastSeen: -30 * time.Minute, issued: -time.Hour, expect: "idle expired"},
		{name: "idle-just-inside", lastSeen: -30*time.Minute + time.Millisecond, issued: -time.Hour, expect: "renew"},
		{name: "absolute-edge", comment: "active, but issued exactly the absolute timeout ago", lastSeen: -time.Second, issued: -24 * time.Hour, expect: "absolute expired"},
		{name: "absolute-before-idle", comment: "both expired: absolute is checked first", lastSeen: -25 * time.Hour, issued: -25 * time.Hour, expect: "absolute expired"},
		{name: "no-renew-at-absolute-cap", comment: "re-issuing cannot move the capped idle deadline", lastSeen: -10 * time.Minute, issued: -24*time.Hour + 20*time.Minute, expect: "fresh"},
		{name: "renew-to-reach-absolute-cap", comment: "the capped deadline moves only 30s, but reaches the absolute deadline: renew once", lastSeen: -10*time.Minute - 30*time.Second, issued: -24*time.Hour + 20*time.Minute, expect: "renew"},
		{name: "skew-tolerated", comment: "issued and last seen 30s in the future", issued: 30 * time.Second, lastSeen: 30 * time.Second, expect: "fresh"},
		{name: "issued-in-future", issued: 30*time.Second + time.Millisecond, expect: "issued in future"},
		{name: "last-seen-in-future", lastSeen: 31 * time.Second, expect: "issued in future"},
		{name: "bad-version", version: 2, expect: "bad version"},
		{name: "version-zero", version: 0, expect: "bad version"},
		{name: "epoch-missing-is-zero", comment: "store has no counter for the user", user: "alice", expect: "fresh"},
		{name: "epoch-current", user: "alice", userEpoch: 3, storeUser: 2, storeGlobal: 1, expect: "fresh"},
		{name: "epoch-ahead", comment: "a header epoch above the store's is refused: the store lost increments", user: "alice", userEpoch: 9, storeUser: 2, expect: "epoch bumped"},
		{name: "epoch-bumped", user: "alice", userEpoch: 2, storeUser: 2, storeGlobal: 1, expect: "epoch bumped"},
		{name: "global-bump", user: "alice", userEpoch: 0, storeGlobal: 1, expect: "epoch bumped"},
		{name: "anonymous-ignores-epochs", userEpoch: 0, storeGlobal: 5, expect: "fresh"},
		{name: "anonymous-never-revoked", comment: "anonymous session IDs are never revoked (a store records nothing for them)", revoked: true, expect: "fresh"},
		{name: "revoked-before-epoch", comment: "revocation is checked before the epoch", user: "alice", storeUser: 1, revoked: true, expect: "revoked"},
		{name: "expired-before-revoked", comment: "timeouts are checked before the store", lastSeen: -31 * time.Minute, issued: -time.Hour, revoked: true, expect: "idle expired"},
	}
	dir := filepath.Join("testdata", "check")
	for _, v := range vs {
		ver := v.version
		if ver == 0 && v.name != "version-zero" {
			ver = 1
		}
		user := v.user
		if user == "" {
			user = "-"
		}
		text := ""
		if v.comment != "" {
			text += "# " + v.comment + "\n"
		}
		text += fmt.Sprintf("now: %s\nversion: %d\nissued-at: %s\nlast-seen: %s\nuser: %s\nuser-epoch: %d\nstore-user-epoch: %d\nstore-global-epoch: %d\nrevoked: %t\nexpect: %s\n",
			now.Format(time.RFC3339Nano), ver, now.Add(v.issued).Format(time.RFC3339Nano), now.Add(v.lastSeen).Format(time.RFC3339Nano),
			user, v.userEpoch, v.storeUser, v.storeGlobal, v.revoked, v.expect)
		if err := os.WriteFile(filepath.Join(dir, v.name+".txt"), []byte(text), 0o644); err != nil {
			panic(err)
		}
	}
}
