package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
)

type result struct {
	code           int
	stdout, stderr string
}

// sealctl runs the command with SESSION_KEYS set to keys ("" = unset).
func sealctl(t *testing.T, keys, stdin string, args ...string) result {
	t.Helper()
	old := getenv
	getenv = func(k string) string {
		if k == "SESSION_KEYS" {
			return keys
		}
		return ""
	}
	defer func() { getenv = old }()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"keygen", "extra"},
		{"keygen", "-nope"},
		{"rotate"}, // no keys anywhere
		{"bump"},
		{"bump", "a", "b"},
		{"bump", "-store", "postgres://x", "alice"},
		{"revoke"},
		{"revoke", "-user", "alice", "abc"},
		{"revoke", "-user", "alice", "-until", "soon", strings.Repeat("ab", 16)},
		{"revoke", "-user", "alice", strings.Repeat("ab", 16), "-until", "-5m"},
		{"revoke", strings.Repeat("ab", 16)},
		{"inspect", "-header", "-bearer", "x"},
		{"inspect", "-idle", "2h", "-absolute", "1h", "x"},
		{"inspect", "-name", "a;b", "x"},
	} {
		r := sealctl(t, "", "", args...)
		assert.Equal(t, exitUsage, r.code, "sealctl %v: exit code\nstderr: %s", args, r.stderr)
		assert.NotEmpty(t, r.stderr, "sealctl %v: no message on stderr", args)
	}
	r := sealctl(t, "", "", "help")
	assert.Equal(t, exitOK, r.code, "help")
	assert.Contains(t, r.stdout, "inspect", "help")
	r = sealctl(t, "", "", "bump", "-h")
	assert.Equal(t, exitOK, r.code, "bump -h")
	assert.Contains(t, r.stderr, "usage: sealctl bump", "bump -h")
	// A bolt file that does not exist is a failure, not silently created.
	missing := filepath.Join(dir, "nope.db")
	r = sealctl(t, "", "", "bump", "-store", "bolt:"+missing, "alice")
	assert.Equal(t, exitFailure, r.code, "missing bolt file: %q", r.stderr)
	assert.Contains(t, r.stderr, "no store file", "missing bolt file")
	_, err := os.Stat(missing)
	assert.Error(t, err, "bump created a bolt file")
}

func TestKeygenRotate(t *testing.T) {
	r := sealctl(t, "", "", "keygen")
	require.Equal(t, exitOK, r.code, "keygen: %s", r.stderr)
	k1, err := sealed.ParseKey(strings.TrimSpace(r.stdout))
	require.NoError(t, err, "keygen output does not parse")
	// stderr has the ID and never the key.
	assert.Contains(t, r.stderr, k1.ID().String(), "keygen stderr")
	assert.False(t, strings.Contains(r.stderr, k1.Export()), "keygen stderr %q: never the key", r.stderr)

	r = sealctl(t, k1.Export(), "", "rotate", "-one-step")
	require.Equal(t, exitOK, r.code, "rotate -one-step: %s", r.stderr)
	ring, err := sealed.ParseKeyring(strings.TrimSpace(r.stdout))
	require.NoError(t, err, "rotate -one-step output does not parse")
	keys := ring.Keys()
	require.Len(t, keys, 2, "rotated ring %v: want a new primary then %s", ring, k1.ID())
	require.NotEqual(t, k1.ID(), keys[0].ID(), "rotated ring %v: want a new primary then %s", ring, k1.ID())
	require.Equal(t, k1.ID(), keys[1].ID(), "rotated ring %v: want a new primary then %s", ring, k1.ID())
	assert.False(t, strings.Contains(r.stderr, keys[0].Export()), "rotate printed key material on stderr")
	assert.False(t, strings.Contains(r.stderr, k1.Export()), "rotate printed key material on stderr")

	// From a file, dropping the oldest key.
	f := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(f, []byte(ring.Export()+"\n"), 0o600))
	r = sealctl(t, "", "", "rotate", "-one-step", "-keys-file", f, "-drop", k1.ID().String())
	require.Equal(t, exitOK, r.code, "rotate -keys-file -drop: %s", r.stderr)
	ring2, err := sealed.ParseKeyring(strings.TrimSpace(r.stdout))
	require.NoError(t, err)
	if k := ring2.Keys(); assert.Len(t, k, 2, "after -drop: %v", ring2) {
		assert.NotContains(t, []sealed.KeyID{keys[0].ID(), k1.ID()}, k[0].ID(), "after -drop: %v, want a new primary", ring2)
		assert.Equal(t, keys[0].ID(), k[1].ID(), "after -drop: %v, want new primary then %s", ring2, keys[0].ID())
	}
	assert.Equal(t, exitFailure, sealctl(t, "", "", "rotate", "-keys-file", f, "-drop", "00000000").code, "-drop of an unknown ID")
	// A bad ring (here a real key with a typo) is refused and named by
	// where it came from, and none of it is echoed.
	bad := k1.Export()[:len(k1.Export())-2] + "!!"
	r = sealctl(t, bad, "", "rotate")
	assert.Equal(t, exitFailure, r.code, "rotate with a bad ring: %q", r.stderr)
	assert.Contains(t, r.stderr, "SESSION_KEYS", "rotate with a bad ring: where it came from")
	assert.False(t, strings.Contains(r.stderr, bad[len("ssk1_"):len("ssk1_")+16]), "rotate with a bad ring echoed it")
	assert.Empty(t, r.stdout, "rotate with a bad ring printed a ring")
}

func newBolt(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return path
}

func TestBumpAndRevoke(t *testing.T) {
	path := newBolt(t)
	store := "bolt:" + path
	for want := 1; want <= 2; want++ {
		r := sealctl(t, "", "", "bump", "-store", store, "alice")
		require.Equal(t, exitOK, r.code, "bump #%d: %q", want, r.stderr)
		require.Contains(t, r.stdout, "epoch now "+string(rune('0'+want)), "bump #%d", want)
	}
	id, err := codec.NewSessionID()
	require.NoError(t, err)
	other, _ := codec.NewSessionID()
	// Flags after the positional argument work too.
	r := sealctl(t, "", "", "revoke", id.String(), "-user", "alice", "-store", store, "-until", "2h")
	require.Equal(t, exitOK, r.code, "revoke: %q", r.stderr)
	require.Contains(t, r.stdout, id.Tag(), "revoke")

	s, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	e, err := s.Epoch(ctx, "alice")
	assert.NoError(t, err, "alice's epoch")
	assert.Equal(t, uint64(2), e, "alice's epoch")
	e, _ = s.Epoch(ctx, "bob")
	assert.Equal(t, uint64(0), e, "bob's epoch")
	st, err := s.Lookup(ctx, "alice", id)
	assert.NoError(t, err, "Lookup of the revoked ID")
	assert.True(t, st.Revoked, "revoked ID not revoked")
	st, _ = s.Lookup(ctx, "alice", other)
	assert.False(t, st.Revoked, "another ID is revoked")
	st, _ = s.Lookup(ctx, "bob", id)
	assert.False(t, st.Revoked, "the ID is revoked for another user")
	// While the file is open (locked), bump fails with a hint.
	r = sealctl(t, "", "", "bump", "-store", store, "alice")
	assert.Equal(t, exitFailure, r.code, "bump on a locked file: %q", r.stderr)
	assert.Contains(t, r.stderr, "stop the application", "bump on a locked file")
}

// demoCookies starts the demo binary with keys, logs in as alice, fills
// the cart with items times 10 lines, and returns the Cookie header line.
// The demo runs with a raised size budget, so a full cart is chunked.
func demoCookies(t *testing.T, keys string, adds int) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/sealedsession/sealedsession/cmd/demo")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the demo:\n%s", out)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-store", "memory", "-data", t.TempDir(), "-max-header-bytes", "12288")
	cmd.Env = append(os.Environ(), "SESSION_KEYS="+keys)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	var logs strings.Builder
	sc := bufio.NewScanner(stderr)
	base := ""
	re := regexp.MustCompile(`msg=listening url=(http://[0-9.:]+)/`)
	deadline := time.AfterFunc(30*time.Second, cancel)
	for sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	deadline.Stop()
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	require.NotEmpty(t, base, "the demo did not start:\n%s", logs.String())
	assert.False(t, strings.Contains(logs.String(), keys), "the demo logged its key")

	jar := map[string]string{}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		var parts []string
		for k, v := range jar {
			parts = append(parts, k+"="+v)
		}
		if len(parts) > 0 {
			req.Header.Set("Cookie", strings.Join(parts, "; "))
		}
		res, err := client.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "POST %s: %s", path, res.Status)
		for _, c := range res.Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c.Value
			}
		}
	}
	post("/login", url.Values{"user": {"alice"}, "password": {"correct-horse-alice"}})
	for i := 0; i < adds; i++ {
		post("/cart/add", url.Values{"count": {"10"}})
	}
	var parts []string
	for k, v := range jar {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return "Cookie: " + strings.Join(parts, "; ")
}

type inspected struct {
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Envelope struct {
		Version int    `json:"version"`
		KeyID   string `json:"key_id"`
		Chunks  int    `json:"chunks"`
	} `json:"envelope"`
	Header *struct {
		SessionID  string `json:"session_id"`
		User       string `json:"user"`
		Generation int    `json:"generation"`
	} `json:"header"`
	Values map[string]json.RawMessage `json:"values"`
}

func parseInspect(t *testing.T, r result) inspected {
	t.Helper()
	var v inspected
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), "inspect output is not JSON\n%s\nstderr: %s", r.stdout, r.stderr)
	return v
}

func TestInspectDemoCookie(t *testing.T) {
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
	keys := k.Export()
	header := demoCookies(t, keys, 5) // 50 cart lines: past one cookie

	r := sealctl(t, keys, "", "inspect", "-header", header)
	require.Equal(t, exitOK, r.code, "inspect\n%s\n%s", r.stdout, r.stderr)
	v := parseInspect(t, r)
	require.Equal(t, statusCurrent, v.Status, "inspect: %+v", v)
	require.NotNil(t, v.Header, "inspect: %+v", v)
	require.Equal(t, "alice", v.Header.User, "inspect: %+v", v)
	require.Equal(t, 1, v.Header.Generation, "inspect: %+v", v)
	assert.GreaterOrEqual(t, v.Envelope.Chunks, 2, "envelope %+v: want 2+ chunks", v.Envelope)
	assert.Equal(t, k.ID().String(), v.Envelope.KeyID, "envelope %+v", v.Envelope)
	assert.Equal(t, 1, v.Envelope.Version, "envelope %+v", v.Envelope)
	var cart []map[string]any
	require.NoError(t, json.Unmarshal(v.Values["cart"], &cart), "cart value")
	require.Len(t, cart, 50, "cart value lines")
	assert.Equal(t, "MUG-001", cart[0]["sku"], "first cart line %v", cart[0])
	assert.Equal(t, float64(1), cart[0]["qty"], "first cart line %v", cart[0])
	assert.False(t, strings.Contains(r.stdout+r.stderr, keys), "inspect printed the key")

	// The same header from stdin.
	r = sealctl(t, keys, header+"\n", "inspect", "-header")
	assert.Equal(t, exitOK, r.code, "inspect -header from stdin: %s", r.stderr)

	// The chunk values given one by one, NAME=VALUE form, in order.
	pairs := strings.Split(strings.TrimPrefix(header, "Cookie: "), "; ")
	sort.Slice(pairs, func(i, j int) bool {
		return len(strings.SplitN(pairs[i], "=", 2)[0]) < len(strings.SplitN(pairs[j], "=", 2)[0])
	})
	r = sealctl(t, keys, "", append([]string{"inspect"}, pairs...)...)
	assert.Equal(t, exitOK, r.code, "inspect with chunk values: %s", r.stderr)

	// Without keys: the envelope only.
	r = sealctl(t, "", "", "inspect", "-header", header)
	v = parseInspect(t, r)
	assert.Equal(t, exitOK, r.code, "inspect without keys: %+v", v)
	assert.Equal(t, statusUnverified, v.Status, "inspect without keys: %+v", v)
	assert.Nil(t, v.Header, "inspect without keys: %+v", v)
	assert.Equal(t, k.ID().String(), v.Envelope.KeyID, "inspect without keys: %+v", v)

	// Expired under a shorter idle timeout than the demo's.
	time.Sleep(5 * time.Millisecond)
	r = sealctl(t, keys, "", "inspect", "-header", "-idle", "1ms", header)
	v = parseInspect(t, r)
	assert.Equal(t, exitFailure, r.code, "inspect -idle 1ms: %+v", v)
	assert.Equal(t, statusExpired, v.Status, "inspect -idle 1ms: %+v", v)
	assert.Contains(t, v.Reason, "idle", "inspect -idle 1ms: %+v", v)

	// Revoked in a store.
	path := newBolt(t)
	hdr := parseInspect(t, sealctl(t, keys, "", "inspect", "-header", header)).Header
	r = sealctl(t, "", "", "revoke", "-store", "bolt:"+path, "-user", hdr.User, hdr.SessionID)
	require.Equal(t, exitOK, r.code, "revoke: %s", r.stderr)
	r = sealctl(t, keys, "", "inspect", "-header", "-store", "bolt:"+path, header)
	v = parseInspect(t, r)
	assert.Equal(t, exitFailure, r.code, "inspect of a revoked session: %+v", v)
	assert.Equal(t, statusRefused, v.Status, "inspect of a revoked session: %+v", v)
	assert.Contains(t, v.Reason, "revoked", "inspect of a revoked session: %+v", v)

	other, _ := sealed.GenerateKey()
	var first string // the base cookie, "__Host-session=..."
	for _, p := range strings.Split(strings.TrimPrefix(header, "Cookie: "), "; ") {
		if strings.HasPrefix(p, "__Host-session=") {
			first = p
		}
	}
	cases := []struct {
		name, keys string
		args       []string
		reason     string
	}{
		{"unknown key", other.Export(), []string{"-header", header}, "not in SESSION_KEYS"},
		{"wrong name", keys, []string{"-header", "-name", "__Host-other", header}, "no cookie named"},
		{"chunk missing", keys, []string{"-header", "Cookie: " + first}, "does not authenticate|malformed"},
		{"gap", keys, []string{"-header", header + "; __Host-session-3=abc"}, "incomplete"},
		{"duplicate", keys, []string{"-header", header + "; " + first}, "twice"},
		{"tampered", keys, []string{"-header", strings.Replace(header, "__Host-session=A", "__Host-session=B", 1)}, ""},
		{"garbage", keys, []string{"not*base64"}, "not a sealed envelope"},
		{"short", keys, []string{"AQID"}, "not a sealed envelope"},
		{"bearer context", keys, []string{"-bearer", strings.SplitN(first, "=", 2)[1]}, "does not authenticate|malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sealctl(t, c.keys, "", append([]string{"inspect"}, c.args...)...)
			v := parseInspect(t, r)
			// A first chunk alone may not even be whole base64 (its length
			// can be 1 mod 4): then it is malformed rather than unauthentic.
			matched := false
			for _, want := range strings.Split(c.reason, "|") {
				matched = matched || strings.Contains(v.Reason, want)
			}
			assert.Equal(t, exitFailure, r.code, "%+v; want not_openable with %q", v, c.reason)
			assert.Equal(t, statusNotOpenable, v.Status, "%+v; want not_openable with %q", v, c.reason)
			assert.True(t, matched, "reason %q; want %q", v.Reason, c.reason)
			assert.Nil(t, v.Header, "a header was printed for an unopenable cookie")
		})
	}
}
