package storespec

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

func TestTakeMinReplicas(t *testing.T) {
	spec, n, err := takeMinReplicas("redis://127.0.0.1:6379/0?min_replicas=2&dial_timeout=1s")
	if err != nil || n != 2 || strings.Contains(spec, "min_replicas") || !strings.Contains(spec, "dial_timeout=1s") {
		t.Fatalf("%q %d %v", spec, n, err)
	}
	if _, _, err := takeMinReplicas("redis://127.0.0.1:6379/0?min_replicas=x"); err == nil {
		t.Fatal("bad min_replicas accepted")
	}
	if spec, n, err := takeMinReplicas("redis://127.0.0.1:6379/0"); err != nil || n != 0 || spec != "redis://127.0.0.1:6379/0" {
		t.Fatalf("%q %d %v", spec, n, err)
	}
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	check := func(s versioning.Store, closeFn func() error) {
		t.Helper()
		if _, err := s.BumpEpoch(ctx, "u"); err != nil {
			t.Fatal(err)
		}
		if e, err := s.Epoch(ctx, "u"); err != nil || e != 1 {
			t.Fatalf("epoch %d %v", e, err)
		}
		if err := closeFn(); err != nil {
			t.Fatal(err)
		}
	}
	s, c, desc, err := Open("memory", Options{})
	if err != nil || !strings.HasPrefix(desc, "memory") {
		t.Fatal(err, desc)
	}
	check(s, c)

	path := filepath.Join(t.TempDir(), "s.db")
	if _, _, _, err := Open("bolt:"+path, Options{BoltMustExist: true}); err == nil || !strings.Contains(err.Error(), "no store file") {
		t.Fatalf("missing bolt file: %v", err)
	}
	s, c, _, err = Open("bolt:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(s, c)

	for _, bad := range []string{"", "bolt:", "postgres://x", "redis://127.0.0.1:1/0?min_replicas=-1"} {
		if _, _, _, err := Open(bad, Options{}); !errors.Is(err, ErrUsage) {
			t.Errorf("Open(%q) = %v, want ErrUsage", bad, err)
		}
	}

	srv := redistest.Start(t)
	s, c, desc, err = Open("redis://"+srv.Addr()+"/0", Options{})
	if err != nil || !strings.HasPrefix(desc, "redis "+srv.Addr()) {
		t.Fatal(err, desc)
	}
	check(s, c)
	if _, _, _, err := Open("redis://127.0.0.1:1/0", Options{}); err == nil || errors.Is(err, ErrUsage) {
		t.Fatalf("unreachable Redis: %v", err)
	}
}

// TestErrorsNeverShowPassword opens malformed and unreachable -store
// values that carry a password and checks that no error quotes any piece
// of it, in any form.
func TestErrorsNeverShowPassword(t *testing.T) {
	const pw = "Tr0ub4dor-S3cr3t"
	pieces := func(s string) []string {
		var out []string
		for i := 0; i+4 <= len(s); i++ {
			out = append(out, s[i:i+4])
		}
		return out
	}
	secret := append(pieces(pw), pieces(url.PathEscape(pw))...)
	for _, tc := range []struct {
		spec  string
		usage bool   // a usage error (ErrUsage), not an unreachable store
		want  string // a piece of the message that must remain
	}{
		{"redis://app:" + pw + "@127.0.0.1:1/0", false, "127.0.0.1:1"},
		{"rediss://app:" + pw + "@127.0.0.1:1/0", false, "127.0.0.1:1"},
		{"redis://:" + pw + "@127.0.0.1:1/0", false, "does not answer"},
		{"redis://app:" + pw + "%zz@127.0.0.1:6379/0", true, "%-escape"},
		{"redis://app:" + pw + "%@127.0.0.1:6379/0", true, "%-escape"},
		{"redis://app:Tr0ub/4dor-S3cr3t@127.0.0.1:6379/0", true, "'/', '?' or '#'"},
		{"redis://app:Tr0ub4dor#S3cr3t@127.0.0.1:6379/0", true, "'/', '?' or '#'"},
		{"redis://app:Tr0ub4dor?S3cr3t@127.0.0.1:6379/0", true, "'/', '?' or '#'"},
		{"redis://app:1234/" + pw + "@127.0.0.1:6379/0", true, "'/', '?' or '#'"},
		{"redis://" + pw + "/x@127.0.0.1:6379/0", true, "'/', '?' or '#'"},
		{"redis://app:" + pw + "@127.0.0.1:6379/zero", true, "invalid database number"},
		{"redis://app:" + pw + "@127.0.0.1:6379/0?nosuch=1", true, "unexpected option: nosuch"},
		{"redis://app:" + pw + "@127.0.0.1:6379/0?dial_timeout=soon", true, "dial_timeout"},
		{"redis://app:" + pw + "@127.0.0.1:6379/0?min_replicas=x", true, "min_replicas"},
		{"redis://app:" + pw + "@127.0.0.1:port/0", true, "invalid port"},
		{"redis://app:" + pw + " x@127.0.0.1:6379/0", true, "bad Redis URL"},
		{"redis://app:" + pw + "@[::1/0", true, "bad Redis URL"},
		{"redis:/app:" + pw + "@127.0.0.1:6379/0", true, "bad -store"},
		{"app:" + pw + "@127.0.0.1:6379", true, "bad -store"},
		{pw + "@127.0.0.1:6379", true, "bad -store"},
		{"REDIS://app:" + pw + "@127.0.0.1:6379/0", true, "REDIS://app:xxxxx@127.0.0.1:6379/0"},
		{"http://app:" + pw + "@127.0.0.1:6379/0", true, "http://app:xxxxx@127.0.0.1:6379/0"},
		{"redis://" + pw + "@127.0.0.1:6379/x", true, "redis://xxxxx@127.0.0.1:6379/x"},
	} {
		_, _, _, err := Open(tc.spec, Options{Ready: 500 * time.Millisecond})
		if err == nil {
			t.Errorf("Open(%s) succeeded", Redact(tc.spec))
			continue
		}
		msg := err.Error()
		for _, p := range secret {
			if strings.Contains(msg, p) {
				t.Errorf("Open(%s): error %q shows %q, a piece of the password", Redact(tc.spec), msg, p)
				break
			}
		}
		if errors.Is(err, ErrUsage) != tc.usage {
			t.Errorf("Open(%s) = %v; usage error: %v, want %v", Redact(tc.spec), msg, errors.Is(err, ErrUsage), tc.usage)
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("Open(%s) = %q, want it to mention %q", Redact(tc.spec), msg, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"memory":                             "memory",
		"bolt:./data/s.db":                   "bolt:./data/s.db",
		"redis://127.0.0.1:6379/0":           "redis://127.0.0.1:6379/0",
		"redis://u:pw@h:1/0":                 "redis://u:xxxxx@h:1/0",
		"redis://:pw@h:1/0":                  "redis://:xxxxx@h:1/0",
		"redis://pw@h:1/0":                   "redis://xxxxx@h:1/0",
		"redis://u:p@w/x#y@h:1/0":            "redis://u:xxxxx@h:1/0",
		"rediss://u:p%zz@h":                  "rediss://u:xxxxx@h",
		"redis://u:pw@h:1/0?client_name=a@b": "redis://u:xxxxx@b",
		"redis:/u:pw@h":                      "redis:/u:xxxxx@h",
		"u:pw@h":                             "u:xxxxx@h",
		"pw@h":                               "xxxxx@h",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBoltLockedAndReadOnly: a bolt file that another Open holds fails
// with ErrLocked after BoltTimeout; BoltReadOnly reads without writing
// (the file's bytes stay the same) and refuses writes.
func TestBoltLockedAndReadOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "s.db")
	s, c, _, err := Open("bolt:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, _, err = Open("bolt:"+path, Options{BoltTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrUsage) {
		t.Fatalf("held file: %v, want ErrLocked", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("held file: failed after %v, want about BoltTimeout", took)
	}
	if err := c(); err != nil {
		t.Fatal(err)
	}

	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ro, closeRO, desc, err := Open("bolt:"+path, Options{BoltReadOnly: true, BoltMustExist: true})
	if err != nil || !strings.Contains(desc, "read-only") {
		t.Fatalf("read-only: %v %q", err, desc)
	}
	if e, err := ro.Epoch(ctx, "alice"); err != nil || e != 1 {
		t.Errorf("read-only epoch %d %v, want 1", e, err)
	}
	if _, err := ro.BumpEpoch(ctx, "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("read-only bump: %v, want ErrStoreUnavailable", err)
	}
	if err := closeRO(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("a read-only open changed the file")
	}
}
