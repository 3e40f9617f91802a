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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	stopped := false // the failure below has already waited for it
	t.Cleanup(func() {
		if stopped {
			return
		}
		_ = stdin.Close()
		err := cmd.Wait()
		assert.NoError(t, err, "the process holding the bolt file\n%s", stderr.String())
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		// Stop the process before reading what it wrote to stderr: the
		// buffer is written by exec's copying goroutine until Wait.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		stopped = true
		t.Fatalf("the process holding the bolt file did not start (%q, %v)\n%s", line, err, stderr.String())
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
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return fileState{fi.ModTime(), b}
}

// TestWritesToMemoryRefused: bump and revoke against -store memory would
// change sealctl's own memory only; they refuse, with exit code 2 and a
// reason, and print nothing on stdout. inspect refuses it too.
func TestWritesToMemoryRefused(t *testing.T) {
	id, err := codec.NewSessionID()
	require.NoError(t, err)
	for _, args := range [][]string{
		{"bump", "-store", "memory", "alice"},
		{"revoke", "-user", "alice", "-store", "memory", id.String()},
		{"inspect", "-store", "memory", "AAAA"},
	} {
		r := sealctl(t, "", "", args...)
		assert.Equal(t, exitUsage, r.code, "sealctl %v: stderr %q", args, r.stderr)
		assert.Empty(t, r.stdout, "sealctl %v: stdout", args)
		assert.True(t, strings.Contains(r.stderr, "no running application") || strings.Contains(r.stderr, "says nothing"),
			"sealctl %v: stderr %q; want a reason", args, r.stderr)
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
	require.NoError(t, err)
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
		assert.Equal(t, exitFailure, r.code, "sealctl %v\n%s", tc.args, r.stderr)
		assert.LessOrEqual(t, took, 2500*time.Millisecond, "sealctl %v: want about a second", tc.args)
		for _, w := range tc.want {
			assert.Contains(t, r.stderr, w, "sealctl %v: stderr", tc.args)
		}
		if tc.args[0] != "inspect" {
			assert.Empty(t, r.stdout, "sealctl %v printed on stdout", tc.args)
		}
	}

	// inspect of a cookie that opens gets as far as the store.
	ring, _ := sealed.NewKeyring(k)
	cookie := sealCookieForTest(t, ring, "alice")
	start := time.Now()
	r := sealctl(t, k.Export(), "", "inspect", "-store", "bolt:"+path, cookie)
	took := time.Since(start)
	assert.Equal(t, exitFailure, r.code, "inspect -store on a held file\n%s", r.stderr)
	assert.LessOrEqual(t, took, 2500*time.Millisecond, "inspect -store on a held file")
	for _, w := range []string{"in use by another process", "without -store", "redis://"} {
		assert.Contains(t, r.stderr, w, "inspect: stderr")
	}
	after := readState(t, path)
	assert.True(t, after.mtime.Equal(before.mtime), "the held bolt file changed (modification time)")
	assert.Equal(t, before.data, after.data, "the held bolt file changed")
}

// sealCookieForTest returns the session cookie value that the middleware
// sets when user logs in, sealed with ring (through the public httpx API
// only, so that the test does not restate the wire rules).
func sealCookieForTest(t *testing.T, ring *sealed.Keyring, user string) string {
	t.Helper()
	st := memstore.New(nil)
	defer st.Close()
	m, err := httpx.New(httpx.Config{Keys: ring, Store: st})
	require.NoError(t, err)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, httpx.FromContext(r.Context()).Login(user))
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
	require.NoError(t, err)
	ring, _ := sealed.NewKeyring(k)
	cookie := sealCookieForTest(t, ring, "alice")
	id := inspectID(t, k.Export(), cookie)

	path := newBolt(t)
	// An expired revocation in the file: a read-write open deletes it,
	// so a read-write open would show in the bytes.
	past := time.Now().Add(-2 * time.Hour)
	s, err := boltstore.Open(path, &boltstore.Options{Now: func() time.Time { return past }})
	require.NoError(t, err)
	old, _ := codec.NewSessionID()
	require.NoError(t, s.Revoke(context.Background(), "alice", old, past.Add(time.Hour)))
	require.NoError(t, s.Close())
	rev := sealctl(t, "", "", "revoke", "-user", "alice", "-store", "bolt:"+path, id)
	require.Equal(t, exitOK, rev.code, "revoke: %s", rev.stderr)
	// An old modification time, so that any write would move it.
	stamp := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(path, stamp, stamp))
	before := readState(t, path)
	for _, mode := range []os.FileMode{0o600, 0o400} {
		require.NoError(t, os.Chmod(path, mode))
		r := sealctl(t, k.Export(), "", "inspect", "-store", "bolt:"+path, cookie)
		v := parseInspect(t, r)
		assert.Equal(t, exitFailure, r.code, "mode %v: inspect of a revoked session: %+v\n%s", mode, v, r.stderr)
		assert.Equal(t, statusRefused, v.Status, "mode %v: inspect of a revoked session: %+v", mode, v)
		assert.Contains(t, v.Reason, "revoked", "mode %v: inspect of a revoked session", mode)
		after := readState(t, path)
		assert.True(t, after.mtime.Equal(before.mtime), "mode %v: inspect moved the modification time from %v to %v", mode, before.mtime, after.mtime)
		assert.Equal(t, before.data, after.data, "mode %v: inspect changed the file's bytes", mode)
	}
}

// inspectID returns the session ID inspect reads from cookie.
func inspectID(t *testing.T, keys, cookie string) string {
	t.Helper()
	v := parseInspect(t, sealctl(t, keys, "", "inspect", cookie))
	require.NotNil(t, v.Header, "inspect: %+v", v)
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
		require.Equal(t, exitOK, r.code, "revoke %v: %s", tc.args, r.stderr)
		m := untilRE.FindStringSubmatch(r.stdout)
		require.NotNil(t, m, "revoke %v: output %q", tc.args, r.stdout)
		until, err := time.Parse(time.RFC3339, m[1])
		require.NoError(t, err)
		lo, hi := start.Add(tc.want).Add(-time.Second), time.Now().Add(tc.want).Add(time.Second)
		assert.WithinRange(t, until, lo, hi, "revoke %v: until, want now + %v", tc.args, tc.want)
		for _, w := range tc.saying {
			assert.Contains(t, m[2], w, "revoke %v", tc.args)
		}
		// The store holds it for that long, and not longer.
		for _, c := range []struct {
			at   time.Time
			want bool
		}{{start.Add(tc.want - 5*time.Second), true}, {start.Add(tc.want + 5*time.Second), false}} {
			s, err := boltstore.Open(path, &boltstore.Options{ReadOnly: true, Now: func() time.Time { return c.at }})
			require.NoError(t, err)
			st, err := s.Lookup(context.Background(), "alice", id)
			got := st.Revoked
			_ = s.Close()
			assert.NoError(t, err, "revoke %v: Lookup at now+%v", tc.args, c.at.Sub(start).Round(time.Second))
			assert.Equal(t, c.want, got, "revoke %v: revoked at now+%v", tc.args, c.at.Sub(start).Round(time.Second))
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
		r := sealctl(t, "", "", append(append([]string{"revoke", "-user", "alice", "-store", store}, bad...), id.String())...)
		assert.Equal(t, exitUsage, r.code, "revoke %v: exit code", bad)
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
	require.Equal(t, exitOK, r.code, "rotate: %s", r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, "rotate printed lines")
	stage1, err := sealed.ParseKeyring(lines[0])
	require.NoError(t, err)
	stage2, err := sealed.ParseKeyring(lines[1])
	require.NoError(t, err)
	ids := func(r *sealed.Keyring) (out []sealed.KeyID) {
		for _, k := range r.Keys() {
			out = append(out, k.ID())
		}
		return out
	}
	s1, s2 := ids(stage1), ids(stage2)
	assert.True(t, len(s1) == 3 && s1[0] == k1.ID() && s1[1] != k1.ID() && s1[1] != k0.ID() && s1[2] == k0.ID(),
		"stage 1 %v: want %s (still sealing), the new key, %s", stage1, k1.ID(), k0.ID())
	assert.True(t, len(s2) == 3 && s2[0] == s1[1] && s2[1] == k1.ID() && s2[2] == k0.ID(),
		"stage 2 %v: want the new key of stage 1 (%s), %s, %s", stage2, s1[1], k1.ID(), k0.ID())
	// Compared, not printed: they are key material.
	assert.True(t, stage1.Keys()[1].Export() == stage2.Primary().Export(), "stage 1 and stage 2 hold different new keys")
	for _, w := range []string{"stage 1", "accept-only", "stage 2", s1[1].String()} {
		assert.Contains(t, r.stderr, w, "stderr")
	}
	for _, k := range append(stage2.Keys(), k0, k1) {
		assert.False(t, strings.Contains(r.stderr, k.Export()), "rotate printed key material on stderr")
	}

	// A cookie sealed in stage 1 opens in stage 2 and with the old ring;
	// one sealed in stage 2 opens in stage 1.
	for _, c := range []struct{ seal, open *sealed.Keyring }{{stage1, stage2}, {stage1, ring}, {stage2, stage1}} {
		cookie := sealCookieForTest(t, c.seal, "alice")
		assert.NotEmpty(t, inspectID(t, c.open.Export(), cookie), "sealed with %v, does not open with %v", c.seal, c.open)
	}

	// -drop: an older key leaves both rings; the current primary cannot
	// go in two steps (it seals during stage 1), but can in one.
	r = sealctl(t, ring.Export(), "", "rotate", "-drop", k0.ID().String())
	assert.Equal(t, exitOK, r.code, "rotate -drop older: %s", r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 2, "rotate -drop older: lines")
	assert.False(t, strings.Contains(r.stdout, k0.Export()), "rotate -drop older kept the dropped key")
	r = sealctl(t, ring.Export(), "", "rotate", "-drop", k1.ID().String())
	assert.Equal(t, exitFailure, r.code, "rotate -drop primary: %s", r.stderr)
	assert.Empty(t, r.stdout, "rotate -drop primary")
	assert.Contains(t, r.stderr, "current primary", "rotate -drop primary")
	r = sealctl(t, ring.Export(), "", "rotate", "-one-step", "-drop", k1.ID().String())
	assert.Equal(t, exitOK, r.code, "rotate -one-step -drop primary: %s", r.stderr)
	assert.Equal(t, 0, strings.Count(strings.TrimSpace(r.stdout), "\n"), "rotate -one-step -drop primary: lines")
	assert.False(t, strings.Contains(r.stdout, k1.Export()), "rotate -one-step -drop primary kept the dropped key")
}

// TestEveryCommandDocumentsExitCodes: each command's usage lists its exit
// codes, and so does the overview.
func TestEveryCommandDocumentsExitCodes(t *testing.T) {
	for _, c := range commands {
		r := sealctl(t, "", "", c.name, "-h")
		assert.Equal(t, exitOK, r.code, "%s -h", c.name)
		for _, w := range []string{"Exit status:", "0 ", "1 ", "2 usage"} {
			assert.Contains(t, r.stderr, w, "%s -h does not document exit codes", c.name)
		}
	}
	assert.Contains(t, sealctl(t, "", "", "help").stdout, "Exit codes", "help")
}
