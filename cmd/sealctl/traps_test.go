package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// holdBoltEnv makes the test binary, started by holdBolt, hold a bolt
// file open the way a running application does.
const holdBoltEnv = "SEALCTL_TEST_HOLD_BOLT"

func TestMain(m *testing.M) {
	if path := os.Getenv(holdBoltEnv); path != "" {
		os.Exit(holdBoltMain(path))
	}
	os.Exit(m.Run())
}

// holdBoltMain opens path with boltstore, says "ready" on stdout and
// keeps the file open until stdin closes.
func holdBoltMain(path string) int {
	s, err := boltstore.Open(path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// holdBolt starts another process that holds the bolt file at path open
// (as the running application does) until the test ends.
func holdBolt(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdBoltEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("the process holding the bolt file: %v\n%s", err, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("the process holding the bolt file did not start: %q %v\n%s", line, err, stderr.String())
	}
}

// fileState is what inspection must leave alone.
type fileState struct {
	mtime time.Time
	data  []byte
}

func readState(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{fi.ModTime(), b}
}

// TestWritesToMemoryRefused: bump and revoke against -store memory would
// change sealctl's own memory only; they refuse, with exit code 2 and a
// reason, and print nothing on stdout. inspect refuses it too.
func TestWritesToMemoryRefused(t *testing.T) {
	id, err := codec.NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"bump", "-store", "memory", "alice"},
		{"revoke", "-user", "alice", "-store", "memory", id.String()},
		{"inspect", "-store", "memory", "AAAA"},
	} {
		r := sealctl(t, "", "", args...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "no running application") && !strings.Contains(r.stderr, "says nothing") {
			t.Errorf("sealctl %v: exit %d, stdout %q, stderr %q; want exit 2 and a reason", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestHeldBoltFileFailsFast: while another process holds the bolt file
// (the running application), bump, revoke and inspect -store fail within
// about a second (bbolt's lock timeout) and say what to do instead; the
// file is unchanged.
func TestHeldBoltFileFailsFast(t *testing.T) {
	path := newBolt(t)
	holdBolt(t, path)
	before := readState(t, path)
	k, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := codec.NewSessionID()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"bump", "-store", "bolt:" + path, "alice"}, []string{"in use by another process", "ForceLogout", "/admin", "redis://", "stop the application"}},
		{[]string{"revoke", "-user", "alice", "-store", "bolt:" + path, id.String()}, []string{"in use by another process", "RevokeSession", "/admin", "redis://", "stop the application"}},
		{[]string{"inspect", "-store", "bolt:" + path, "-bearer", "x"}, nil}, // not openable before the store is needed
	} {
		start := time.Now()
		r := sealctl(t, k.Export(), "", tc.args...)
		took := time.Since(start)
		if r.code != exitFailure {
			t.Errorf("sealctl %v: exit %d, want 1\n%s", tc.args, r.code, r.stderr)
		}
		if took > 2500*time.Millisecond {
			t.Errorf("sealctl %v took %v; want about a second", tc.args, took)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("sealctl %v: stderr does not mention %q:\n%s", tc.args, w, r.stderr)
			}
		}
		if tc.args[0] != "inspect" && r.stdout != "" {
			t.Errorf("sealctl %v printed %q on stdout", tc.args, r.stdout)
		}
	}

	// inspect of a cookie that opens gets as far as the store.
	ring, _ := sealed.NewKeyring(k)
	cookie := sealCookieForTest(t, ring, "alice")
	start := time.Now()
	r := sealctl(t, k.Export(), "", "inspect", "-store", "bolt:"+path, cookie)
	if took := time.Since(start); r.code != exitFailure || took > 2500*time.Millisecond {
		t.Errorf("inspect -store on a held file: exit %d after %v\n%s", r.code, took, r.stderr)
	}
	for _, w := range []string{"in use by another process", "without -store", "redis://"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("inspect: stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
	if after := readState(t, path); !after.mtime.Equal(before.mtime) || !bytes.Equal(after.data, before.data) {
		t.Error("the held bolt file changed")
	}
}

// sealCookieForTest returns the session cookie value that the middleware
// sets when user logs in, sealed with ring (through the public httpx API
// only, so that the test does not restate the wire rules).
func sealCookieForTest(t *testing.T, ring *sealed.Keyring, user string) string {
	t.Helper()
	st := memstore.New()
	defer st.Close()
	m, err := httpx.New(httpx.Config{Keys: ring, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Login(user); err != nil {
			t.Error(err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://app.example/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-session" {
			return c.Value
		}
	}
	t.Fatalf("no __Host-session cookie after login: %v", rec.Result().Header)
	return ""
}

// TestInspectOpensBoltReadOnly: inspect -store bolt: neither writes the
// file (same bytes, same modification time) nor needs write permission
// (the 0400 round proves that only when the tests do not run as root),
// and still sees its revocations.
func TestInspectOpensBoltReadOnly(t *testing.T) {
	k, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := sealed.NewKeyring(k)
	cookie := sealCookieForTest(t, ring, "alice")
	id := inspectID(t, k.Export(), cookie)

	path := newBolt(t)
	// An expired revocation in the file: a read-write open deletes it,
	// so a read-write open would show in the bytes.
	past := time.Now().Add(-2 * time.Hour)
	s, err := boltstore.Open(path, &boltstore.Options{Now: func() time.Time { return past }})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := codec.NewSessionID()
	if err := s.Revoke(context.Background(), "alice", old, past.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := sealctl(t, "", "", "revoke", "-user", "alice", "-store", "bolt:"+path, id); r.code != exitOK {
		t.Fatalf("revoke: %d %s", r.code, r.stderr)
	}
	// An old modification time, so that any write would move it.
	stamp := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	before := readState(t, path)
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		r := sealctl(t, k.Export(), "", "inspect", "-store", "bolt:"+path, cookie)
		v := parseInspect(t, r)
		if r.code != exitFailure || v.Status != statusRefused || !strings.Contains(v.Reason, "revoked") {
			t.Errorf("mode %v: inspect of a revoked session: exit %d %+v\n%s", mode, r.code, v, r.stderr)
		}
		after := readState(t, path)
		if !after.mtime.Equal(before.mtime) {
			t.Errorf("mode %v: inspect moved the modification time from %v to %v", mode, before.mtime, after.mtime)
		}
		if !bytes.Equal(after.data, before.data) {
			t.Errorf("mode %v: inspect changed the file's bytes", mode)
		}
	}
}

// inspectID returns the session ID inspect reads from cookie.
func inspectID(t *testing.T, keys, cookie string) string {
	t.Helper()
	v := parseInspect(t, sealctl(t, keys, "", "inspect", cookie))
	if v.Header == nil {
		t.Fatalf("inspect: %+v", v)
	}
	return v.Header.SessionID
}

// TestRevokeLifetime: without -until, a revocation lasts min(absolute,
// idle + skew) from now, and the output says what was assumed.
func TestRevokeLifetime(t *testing.T) {
	path := newBolt(t)
	store := "bolt:" + path
	untilRE := regexp.MustCompile(`revoked until (\S+) \((.*)\)`)
	for _, tc := range []struct {
		args   []string
		want   time.Duration
		saying []string
	}{
		{nil, 30*time.Minute + 30*time.Second, []string{"min(absolute 24h0m0s, idle 30m0s + skew 30s)", "assumed", "-idle"}},
		{[]string{"-idle", "10m", "-absolute", "8h", "-skew", "1m"}, 11 * time.Minute, []string{"idle 10m0s + skew 1m0s", "assumed"}},
		{[]string{"-idle", "1h", "-absolute", "1h", "-skew", "2m"}, time.Hour, []string{"absolute 1h0m0s"}},
		{[]string{"-until", "3h"}, 3 * time.Hour, []string{"-until"}},
	} {
		id, _ := codec.NewSessionID()
		start := time.Now()
		r := sealctl(t, "", "", append(append([]string{"revoke", "-user", "alice", "-store", store}, tc.args...), id.String())...)
		if r.code != exitOK {
			t.Fatalf("revoke %v: %d %s", tc.args, r.code, r.stderr)
		}
		m := untilRE.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("revoke %v: output %q", tc.args, r.stdout)
		}
		until, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := start.Add(tc.want).Add(-time.Second), time.Now().Add(tc.want).Add(time.Second); until.Before(lo) || until.After(hi) {
			t.Errorf("revoke %v: until %v, want now + %v", tc.args, until, tc.want)
		}
		for _, w := range tc.saying {
			if !strings.Contains(m[2], w) {
				t.Errorf("revoke %v: %q does not say %q", tc.args, m[2], w)
			}
		}
		// The store holds it for that long, and not longer.
		for _, c := range []struct {
			at   time.Time
			want bool
		}{{start.Add(tc.want - 5*time.Second), true}, {start.Add(tc.want + 5*time.Second), false}} {
			s, err := boltstore.Open(path, &boltstore.Options{ReadOnly: true, Now: func() time.Time { return c.at }})
			if err != nil {
				t.Fatal(err)
			}
			st, err := s.Lookup(context.Background(), "alice", id)
			got := st.Revoked
			_ = s.Close()
			if err != nil || got != c.want {
				t.Errorf("revoke %v: revoked at now+%v = %v (%v), want %v", tc.args, c.at.Sub(start).Round(time.Second), got, err, c.want)
			}
		}
	}
	id, _ := codec.NewSessionID()
	for _, bad := range [][]string{
		{"-idle", "2h", "-absolute", "1h"},
		{"-idle", "0s"},
		{"-absolute", "-1h"},
		{"-skew", "-1s"},
		{"-skew", "10m"},
	} {
		if r := sealctl(t, "", "", append(append([]string{"revoke", "-user", "alice", "-store", store}, bad...), id.String())...); r.code != exitUsage {
			t.Errorf("revoke %v: exit %d, want 2", bad, r.code)
		}
	}
}

// TestRotateTwoSteps: rotate prints the accept-only ring (stage 1: the
// current primary first, the new key after it) and the final ring (stage
// 2: the new key first), with the same new key, and the older keys kept
// in order behind.
func TestRotateTwoSteps(t *testing.T) {
	k1, _ := sealed.GenerateKey()
	k0, _ := sealed.GenerateKey()
	ring, _ := sealed.NewKeyring(k1, k0)
	r := sealctl(t, ring.Export(), "", "rotate")
	if r.code != exitOK {
		t.Fatalf("rotate: %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("rotate printed %d lines, want 2", len(lines))
	}
	stage1, err := sealed.ParseKeyring(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	stage2, err := sealed.ParseKeyring(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r *sealed.Keyring) (out []sealed.KeyID) {
		for _, k := range r.Keys() {
			out = append(out, k.ID())
		}
		return out
	}
	s1, s2 := ids(stage1), ids(stage2)
	if len(s1) != 3 || s1[0] != k1.ID() || s1[1] == k1.ID() || s1[1] == k0.ID() || s1[2] != k0.ID() {
		t.Errorf("stage 1 %v: want %s (still sealing), the new key, %s", stage1, k1.ID(), k0.ID())
	}
	if len(s2) != 3 || s2[0] != s1[1] || s2[1] != k1.ID() || s2[2] != k0.ID() {
		t.Errorf("stage 2 %v: want the new key of stage 1 (%s), %s, %s", stage2, s1[1], k1.ID(), k0.ID())
	}
	if stage1.Keys()[1].Export() != stage2.Primary().Export() {
		t.Error("stage 1 and stage 2 hold different new keys")
	}
	for _, w := range []string{"stage 1", "accept-only", "stage 2", s1[1].String()} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
	for _, k := range append(stage2.Keys(), k0, k1) {
		if strings.Contains(r.stderr, k.Export()) {
			t.Error("rotate printed key material on stderr")
		}
	}

	// A cookie sealed in stage 1 opens in stage 2 and with the old ring;
	// one sealed in stage 2 opens in stage 1.
	for _, c := range []struct{ seal, open *sealed.Keyring }{{stage1, stage2}, {stage1, ring}, {stage2, stage1}} {
		cookie := sealCookieForTest(t, c.seal, "alice")
		if id := inspectID(t, c.open.Export(), cookie); id == "" {
			t.Errorf("sealed with %v, does not open with %v", c.seal, c.open)
		}
	}

	// -drop: an older key leaves both rings; the current primary cannot
	// go in two steps (it seals during stage 1), but can in one.
	r = sealctl(t, ring.Export(), "", "rotate", "-drop", k0.ID().String())
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != exitOK || len(lines) != 2 || strings.Contains(r.stdout, k0.Export()) {
		t.Errorf("rotate -drop older: %d %s", r.code, r.stderr)
	}
	if r := sealctl(t, ring.Export(), "", "rotate", "-drop", k1.ID().String()); r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "current primary") {
		t.Errorf("rotate -drop primary: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = sealctl(t, ring.Export(), "", "rotate", "-one-step", "-drop", k1.ID().String())
	if r.code != exitOK || strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 || strings.Contains(r.stdout, k1.Export()) {
		t.Errorf("rotate -one-step -drop primary: %d %s", r.code, r.stderr)
	}
}

// TestEveryCommandDocumentsExitCodes: each command's usage lists its exit
// codes, and so does the overview.
func TestEveryCommandDocumentsExitCodes(t *testing.T) {
	for _, c := range commands {
		r := sealctl(t, "", "", c.name, "-h")
		if r.code != exitOK {
			t.Errorf("%s -h: exit %d", c.name, r.code)
		}
		for _, w := range []string{"Exit status:", "0 ", "1 ", "2 usage"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s -h does not document exit codes (%q missing):\n%s", c.name, w, r.stderr)
			}
		}
	}
	if r := sealctl(t, "", "", "help"); !strings.Contains(r.stdout, "Exit codes") {
		t.Errorf("help: %s", r.stdout)
	}
}
