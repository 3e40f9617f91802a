package versioning_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// expectations maps a vector's "expect:" line to the verdict and error.
var expectations = map[string]struct {
	verdict versioning.Verdict
	err     error
}{
	"fresh":            {versioning.Fresh, nil},
	"renew":            {versioning.Renew, nil},
	"idle expired":     {versioning.Rejected, versioning.ErrIdleExpired},
	"absolute expired": {versioning.Rejected, versioning.ErrAbsoluteExpired},
	"issued in future": {versioning.Rejected, versioning.ErrIssuedInFuture},
	"epoch bumped":     {versioning.Rejected, versioning.ErrEpochBumped},
	"revoked":          {versioning.Rejected, versioning.ErrRevoked},
	"bad version":      {versioning.Rejected, versioning.ErrUnsupportedVersion},
}

func readVector(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fields := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		require.True(t, ok, "%s: bad line %q", path, line)
		fields[k] = v
	}
	require.NoError(t, sc.Err())
	return fields
}

// forEachVector runs fn on every file in testdata/check.
func forEachVector(t *testing.T, fn func(t *testing.T, v map[string]string)) {
	paths, err := filepath.Glob(filepath.Join("testdata", "check", "*.txt"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 20, "vectors found")
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txt"), func(t *testing.T) {
			t.Parallel()
			fn(t, readVector(t, p))
		})
	}
}

func TestVectors(t *testing.T) {
	forEachVector(t, func(t *testing.T, v map[string]string) {
		parseTime := func(k string) time.Time {
			tm, err := time.Parse(time.RFC3339Nano, v[k])
			require.NoError(t, err, k)
			return tm
		}
		parseUint := func(k string) uint64 {
			n, err := strconv.ParseUint(v[k], 10, 64)
			require.NoError(t, err, k)
			return n
		}
		now := parseTime("now")
		clock := func() time.Time { return now }
		s := memstore.New(&memstore.Options{Now: clock})
		ctx := t.Context()
		user := v["user"]
		if user == "-" {
			user = ""
		}
		for range parseUint("store-user-epoch") {
			_, err := s.BumpEpoch(ctx, "alice")
			require.NoError(t, err)
		}
		for range parseUint("store-global-epoch") {
			require.NoError(t, s.BumpGlobalEpoch(ctx))
		}
		h := &codec.Header{
			Version:   uint8(parseUint("version")),
			ID:        codec.SessionID{0xa5, 1, 2, 3},
			IssuedAt:  parseTime("issued-at"),
			LastSeen:  parseTime("last-seen"),
			UserID:    user,
			UserEpoch: parseUint("user-epoch"),
		}
		if v["revoked"] == "true" {
			require.NoError(t, s.Revoke(ctx, user, h.ID, now.Add(time.Hour)))
		}
		want, ok := expectations[v["expect"]]
		require.True(t, ok, "unknown expectation %q", v["expect"])
		ch, err := versioning.NewChecker(versioning.Policy{Now: clock}, versioning.CheckerOptions{Store: s})
		require.NoError(t, err)
		verdict, err := ch.Check(ctx, h)
		require.Equal(t, want.verdict, verdict, "Check verdict, want %s", v["expect"])
		require.ErrorIs(t, err, want.err, "Check error, want %s", v["expect"])
	})
}
