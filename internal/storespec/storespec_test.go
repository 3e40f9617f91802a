package storespec

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
