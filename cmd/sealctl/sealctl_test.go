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
		if r.code != exitUsage {
			t.Errorf("sealctl %v: exit %d, want 2\nstderr: %s", args, r.code, r.stderr)
		}
		if r.stderr == "" {
			t.Errorf("sealctl %v: no message on stderr", args)
		}
	}
	if r := sealctl(t, "", "", "help"); r.code != exitOK || !strings.Contains(r.stdout, "inspect") {
		t.Errorf("help: %d %q", r.code, r.stdout)
	}
	if r := sealctl(t, "", "", "bump", "-h"); r.code != exitOK || !strings.Contains(r.stderr, "usage: sealctl bump") {
		t.Errorf("bump -h: %d %q", r.code, r.stderr)
	}
	// A bolt file that does not exist is a failure, not silently created.
	missing := filepath.Join(dir, "nope.db")
	if r := sealctl(t, "", "", "bump", "-store", "bolt:"+missing, "alice"); r.code != exitFailure || !strings.Contains(r.stderr, "no store file") {
		t.Errorf("missing bolt file: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("bump created a bolt file")
	}
}

func TestKeygenRotate(t *testing.T) {
	r := sealctl(t, "", "", "keygen")
	if r.code != exitOK {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	k1, err := sealed.ParseKey(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("keygen output does not parse: %v", err)
	}
	if !strings.Contains(r.stderr, k1.ID().String()) || strings.Contains(r.stderr, k1.Export()) {
		t.Errorf("keygen stderr %q: want the ID and never the key", r.stderr)
	}

	r = sealctl(t, k1.Export(), "", "rotate", "-one-step")
	if r.code != exitOK {
		t.Fatalf("rotate -one-step: %d %s", r.code, r.stderr)
	}
	ring, err := sealed.ParseKeyring(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("rotate -one-step output does not parse: %v", err)
	}
	keys := ring.Keys()
	if len(keys) != 2 || keys[0].ID() == k1.ID() || keys[1].ID() != k1.ID() {
		t.Fatalf("rotated ring %v: want a new primary then %s", ring, k1.ID())
	}
	if strings.Contains(r.stderr, keys[0].Export()) || strings.Contains(r.stderr, k1.Export()) {
		t.Error("rotate printed key material on stderr")
	}

	// From a file, dropping the oldest key.
	f := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(f, []byte(ring.Export()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = sealctl(t, "", "", "rotate", "-one-step", "-keys-file", f, "-drop", k1.ID().String())
	if r.code != exitOK {
		t.Fatalf("rotate -keys-file -drop: %d %s", r.code, r.stderr)
	}
	ring2, err := sealed.ParseKeyring(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if k := ring2.Keys(); len(k) != 2 || k[1].ID() != keys[0].ID() {
		t.Errorf("after -drop: %v, want new primary then %s", ring2, keys[0].ID())
	}
	if r := sealctl(t, "", "", "rotate", "-keys-file", f, "-drop", "00000000"); r.code != exitFailure {
		t.Errorf("-drop of an unknown ID: exit %d", r.code)
	}
	if r := sealctl(t, "garbage", "", "rotate"); r.code != exitFailure || strings.Contains(r.stderr, "garbage") && !strings.Contains(r.stderr, "SESSION_KEYS") {
		t.Errorf("rotate with a bad ring: exit %d %q", r.code, r.stderr)
	}
}

func newBolt(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBumpAndRevoke(t *testing.T) {
	path := newBolt(t)
	store := "bolt:" + path
	for want := 1; want <= 2; want++ {
		r := sealctl(t, "", "", "bump", "-store", store, "alice")
		if r.code != exitOK || !strings.Contains(r.stdout, "epoch now "+string(rune('0'+want))) {
			t.Fatalf("bump #%d: %d %q %q", want, r.code, r.stdout, r.stderr)
		}
	}
	id, err := codec.NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := codec.NewSessionID()
	// Flags after the positional argument work too.
	r := sealctl(t, "", "", "revoke", id.String(), "-user", "alice", "-store", store, "-until", "2h")
	if r.code != exitOK || !strings.Contains(r.stdout, id.Tag()) {
		t.Fatalf("revoke: %d %q %q", r.code, r.stdout, r.stderr)
	}

	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if e, err := s.Epoch(ctx, "alice"); err != nil || e != 2 {
		t.Errorf("alice's epoch %d (%v), want 2", e, err)
	}
	if e, _ := s.Epoch(ctx, "bob"); e != 0 {
		t.Errorf("bob's epoch %d, want 0", e)
	}
	if st, err := s.Lookup(ctx, "alice", id); err != nil || !st.Revoked {
		t.Errorf("revoked ID not revoked (%v)", err)
	}
	if st, _ := s.Lookup(ctx, "alice", other); st.Revoked {
		t.Error("another ID is revoked")
	}
	if st, _ := s.Lookup(ctx, "bob", id); st.Revoked {
		t.Error("the ID is revoked for another user")
	}
	// While the file is open (locked), bump fails with a hint.
	if r := sealctl(t, "", "", "bump", "-store", store, "alice"); r.code != exitFailure || !strings.Contains(r.stderr, "stop the application") {
		t.Errorf("bump on a locked file: %d %q", r.code, r.stderr)
	}
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
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-store", "memory", "-data", t.TempDir(), "-max-header-bytes", "12288")
	cmd.Env = append(os.Environ(), "SESSION_KEYS="+keys)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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
	if base == "" {
		t.Fatalf("the demo did not start:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), keys) {
		t.Error("the demo logged its key")
	}

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
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %s", path, res.Status)
		}
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
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("inspect output is not JSON: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return v
}

func TestInspectDemoCookie(t *testing.T) {
	k, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := k.Export()
	header := demoCookies(t, keys, 5) // 50 cart lines: past one cookie

	r := sealctl(t, keys, "", "inspect", "-header", header)
	if r.code != exitOK {
		t.Fatalf("inspect: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	v := parseInspect(t, r)
	if v.Status != statusCurrent || v.Header == nil || v.Header.User != "alice" || v.Header.Generation != 1 {
		t.Fatalf("inspect: %+v", v)
	}
	if v.Envelope.Chunks < 2 || v.Envelope.KeyID != k.ID().String() || v.Envelope.Version != 1 {
		t.Errorf("envelope %+v: want 2+ chunks and key %s", v.Envelope, k.ID())
	}
	var cart []map[string]any
	if err := json.Unmarshal(v.Values["cart"], &cart); err != nil || len(cart) != 50 {
		t.Fatalf("cart value: %d lines (%v), want 50", len(cart), err)
	}
	if cart[0]["sku"] != "MUG-001" || cart[0]["qty"] != float64(1) {
		t.Errorf("first cart line %v", cart[0])
	}
	if strings.Contains(r.stdout+r.stderr, keys) {
		t.Error("inspect printed the key")
	}

	// The same header from stdin.
	if r := sealctl(t, keys, header+"\n", "inspect", "-header"); r.code != exitOK {
		t.Errorf("inspect -header from stdin: %d %s", r.code, r.stderr)
	}

	// The chunk values given one by one, NAME=VALUE form, in order.
	pairs := strings.Split(strings.TrimPrefix(header, "Cookie: "), "; ")
	sort.Slice(pairs, func(i, j int) bool {
		return len(strings.SplitN(pairs[i], "=", 2)[0]) < len(strings.SplitN(pairs[j], "=", 2)[0])
	})
	if r := sealctl(t, keys, "", append([]string{"inspect"}, pairs...)...); r.code != exitOK {
		t.Errorf("inspect with chunk values: %d %s", r.code, r.stderr)
	}

	// Without keys: the envelope only.
	r = sealctl(t, "", "", "inspect", "-header", header)
	v = parseInspect(t, r)
	if r.code != exitOK || v.Status != statusUnverified || v.Header != nil || v.Envelope.KeyID != k.ID().String() {
		t.Errorf("inspect without keys: %d %+v", r.code, v)
	}

	// Expired under a shorter idle timeout than the demo's.
	time.Sleep(5 * time.Millisecond)
	r = sealctl(t, keys, "", "inspect", "-header", "-idle", "1ms", header)
	v = parseInspect(t, r)
	if r.code != exitFailure || v.Status != statusExpired || !strings.Contains(v.Reason, "idle") {
		t.Errorf("inspect -idle 1ms: %d %+v", r.code, v)
	}

	// Revoked in a store.
	path := newBolt(t)
	hdr := parseInspect(t, sealctl(t, keys, "", "inspect", "-header", header)).Header
	if r := sealctl(t, "", "", "revoke", "-store", "bolt:"+path, "-user", hdr.User, hdr.SessionID); r.code != exitOK {
		t.Fatalf("revoke: %s", r.stderr)
	}
	r = sealctl(t, keys, "", "inspect", "-header", "-store", "bolt:"+path, header)
	if v := parseInspect(t, r); r.code != exitFailure || v.Status != statusRefused || !strings.Contains(v.Reason, "revoked") {
		t.Errorf("inspect of a revoked session: %d %+v", r.code, v)
	}

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
			if r.code != exitFailure || v.Status != statusNotOpenable || !matched {
				t.Errorf("exit %d, %+v; want not_openable with %q", r.code, v, c.reason)
			}
			if v.Header != nil {
				t.Error("a header was printed for an unopenable cookie")
			}
		})
	}
}
