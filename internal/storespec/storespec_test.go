package storespec

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

func TestTakeMinReplicas(t *testing.T) {
	spec, n, err := takeMinReplicas("redis://127.0.0.1:6379/0?min_replicas=2&dial_timeout=1s")
	require.NoError(t, err)
	require.Equal(t, 2, n, "min_replicas")
	require.NotContains(t, spec, "min_replicas")
	require.Contains(t, spec, "dial_timeout=1s")
	_, _, err = takeMinReplicas("redis://127.0.0.1:6379/0?min_replicas=x")
	require.Error(t, err, "bad min_replicas accepted")
	spec, n, err = takeMinReplicas("redis://127.0.0.1:6379/0")
	assert.NoError(t, err)
	assert.Equal(t, 0, n, "min_replicas")
	assert.Equal(t, "redis://127.0.0.1:6379/0", spec)
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	check := func(s versioning.Store, closeFn func() error) {
		t.Helper()
		_, err := s.BumpEpoch(ctx, "u")
		require.NoError(t, err)
		e, err := s.Epoch(ctx, "u")
		require.NoError(t, err, "epoch")
		require.Equal(t, uint64(1), e, "epoch")
		require.NoError(t, closeFn())
	}
	s, c, desc, err := Open("memory", Options{})
	require.NoError(t, err, desc)
	require.True(t, strings.HasPrefix(desc, "memory"), "desc %q", desc)
	check(s, c)

	path := filepath.Join(t.TempDir(), "s.db")
	_, _, _, err = Open("bolt:"+path, Options{BoltMustExist: true})
	require.ErrorContains(t, err, "no store file", "missing bolt file")
	s, c, _, err = Open("bolt:"+path, Options{})
	require.NoError(t, err)
	check(s, c)

	for _, bad := range []string{"", "bolt:", "postgres://x", "redis://127.0.0.1:1/0?min_replicas=-1"} {
		_, _, _, err := Open(bad, Options{})
		assert.ErrorIs(t, err, ErrUsage, "Open(%q)", bad)
	}

	srv := redistest.Start(t)
	s, c, desc, err = Open("redis://"+srv.Addr()+"/0", Options{})
	require.NoError(t, err, desc)
	require.True(t, strings.HasPrefix(desc, "redis "+srv.Addr()), "desc %q", desc)
	check(s, c)
	_, _, _, err = Open("redis://127.0.0.1:1/0", Options{})
	assert.Error(t, err, "unreachable Redis")
	assert.NotErrorIs(t, err, ErrUsage, "unreachable Redis")
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
		if !assert.Error(t, err, "Open(%s) succeeded", Redact(tc.spec)) {
			continue
		}
		msg := err.Error()
		for _, p := range secret {
			if !assert.NotContains(t, msg, p, "Open(%s): the error shows a piece of the password", Redact(tc.spec)) {
				break
			}
		}
		assert.Equal(t, tc.usage, errors.Is(err, ErrUsage), "Open(%s) = %v: usage error", Redact(tc.spec), msg)
		assert.Contains(t, msg, tc.want, "Open(%s)", Redact(tc.spec))
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
		assert.Equal(t, want, Redact(in), "Redact(%q)", in)
	}
}

// TestBoltLockedAndReadOnly: a bolt file that another Open holds fails
// with ErrLocked after BoltTimeout; BoltReadOnly reads without writing
// (the file's bytes stay the same) and refuses writes.
func TestBoltLockedAndReadOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "s.db")
	s, c, _, err := Open("bolt:"+path, Options{})
	require.NoError(t, err)
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	start := time.Now()
	_, _, _, err = Open("bolt:"+path, Options{BoltTimeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, ErrLocked, "held file")
	require.NotErrorIs(t, err, ErrUsage, "held file")
	took := time.Since(start)
	assert.LessOrEqual(t, took, 2*time.Second, "held file: want about BoltTimeout")
	require.NoError(t, c())

	before, err := os.ReadFile(path)
	require.NoError(t, err)
	ro, closeRO, desc, err := Open("bolt:"+path, Options{BoltReadOnly: true, BoltMustExist: true})
	require.NoError(t, err, "read-only")
	require.Contains(t, desc, "read-only")
	e, err := ro.Epoch(ctx, "alice")
	assert.NoError(t, err, "read-only epoch")
	assert.Equal(t, uint64(1), e, "read-only epoch")
	_, err = ro.BumpEpoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "read-only bump")
	require.NoError(t, closeRO())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a read-only open changed the file")
}
