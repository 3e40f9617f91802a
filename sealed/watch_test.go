package sealed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ringText is the text form of a ring of keys, primary first.
func ringText(keys ...*Key) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Export()
	}
	return strings.Join(parts, ",") + "\n"
}

// writeAtomic replaces path's contents the way operators should: a
// temporary file in the same directory renamed over it.
func writeAtomic(t testing.TB, path, text string) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	require.NoError(t, err)
	_, err = tmp.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, tmp.Close())
	require.NoError(t, os.Rename(tmp.Name(), path))
}

// assertNoKeyText fails if s contains any fragment of the key material of
// keys (see assertNoSecret) or any of extra (file contents).
func assertNoKeyText(t *testing.T, s string, keys []*Key, extra ...string) {
	t.Helper()
	assertNoSecret(t, "error", s, keys...)
	for _, x := range extra {
		if x != "" {
			require.NotContains(t, s, x, "file contents in an error")
		}
	}
}

// ids returns the key IDs of r, primary first.
func ids(r *Keyring) []KeyID {
	var out []KeyID
	for _, k := range r.Keys() {
		out = append(out, k.ID())
	}
	return out
}

func sameIDs(a []KeyID, b ...*Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i].ID() {
			return false
		}
	}
	return true
}

func TestReplaceRolloutRule(t *testing.T) {
	a, b, c := testKey(t, 1), testKey(t, 40), testKey(t, 80)
	cases := []struct {
		name     string
		from, to []*Key
		err      error
		changed  bool
	}{
		{"same ring", []*Key{a, b}, []*Key{a, b}, nil, false},
		{"add accept-only", []*Key{a}, []*Key{a, b}, nil, true},
		{"promote accept-only", []*Key{a, b}, []*Key{b, a}, nil, true},
		{"promote and retire old primary", []*Key{a, b}, []*Key{b}, nil, true},
		{"fresh primary, old primary kept", []*Key{a}, []*Key{b, a}, nil, true},
		{"retire an old key", []*Key{a, b, c}, []*Key{a, b}, nil, true},
		{"fresh primary, old primary dropped", []*Key{a}, []*Key{b}, ErrPrimaryDropped, false},
		{"fresh primary, old primary dropped, other kept", []*Key{a, c}, []*Key{b, c}, ErrPrimaryDropped, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := testRing(t, tc.from...)
			before := ids(r)
			changed, err := r.replace(testRing(t, tc.to...))
			require.ErrorIs(t, err, tc.err, "replace")
			require.Equal(t, tc.changed, changed, "changed")
			if err != nil {
				require.True(t, sameIDs(ids(r), tc.from...), "ring changed on error: %v, was %v", ids(r), before)
				assertNoKeyText(t, err.Error(), []*Key{a, b, c})
				return
			}
			assert.True(t, sameIDs(ids(r), tc.to...), "ring = %v, want %v", r, tc.to)
		})
	}
}

func TestReplaceKeepsKeysAndRefusesIDReuse(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 40)
	r := testRing(t, a)
	s := testSealer(t, r, "cookie")
	text, err := s.Seal(nil, []byte("x"), nil)
	require.NoError(t, err)
	// A ring parsed from text holds new *Key values for the same secrets;
	// Replace keeps the ring's own, so Sealers reuse their AEADs.
	require.NoError(t, r.Replace(testRing(t, testKey(t, 1), b)))
	require.Same(t, a, r.Keys()[0], "Replace did not keep the existing *Key for an unchanged key")
	_, info, err := s.Open(nil, text, nil)
	require.NoError(t, err, "Open after Replace")
	require.True(t, info.Primary, "Open after Replace: %+v", info)

	// The same key ID with another secret.
	zero := new([KeySize]byte)
	forged := &Key{id: b.id, secret: &zero}
	next := &Keyring{}
	next.state.Store(&ringState{keys: []*Key{a, forged}})
	require.ErrorIs(t, r.Replace(next), ErrDuplicateKey)
	require.Same(t, b, r.Keys()[1], "ring changed on error")
	assert.ErrorIs(t, r.Replace(nil), ErrEmptyKeyring, "Replace(nil)")
}

func TestLoadKeyringFileAndEnv(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 40)
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	writeAtomic(t, path, ringText(a, b))
	r, err := LoadKeyringFile(path)
	require.NoError(t, err)
	require.True(t, sameIDs(ids(r), a, b), "ring = %v", r)

	bad := "ssk1_" + strings.Repeat("Q", 48)
	writeAtomic(t, path, a.Export()+","+bad)
	_, err = LoadKeyringFile(path)
	require.ErrorIs(t, err, ErrInvalidKey)
	require.ErrorContains(t, err, "position 2")
	assertNoKeyText(t, err.Error(), []*Key{a, b}, bad[5:])

	writeAtomic(t, path, strings.Repeat(" ", MaxKeyringFileSize+1))
	_, err = LoadKeyringFile(path)
	require.ErrorIs(t, err, ErrInvalidKey, "oversized file")
	_, err = LoadKeyringFile(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist, "missing file")

	t.Setenv("SEALED_TEST_KEYS", ringText(b, a))
	r, err = KeyringFromEnv("SEALED_TEST_KEYS")
	require.NoError(t, err, "KeyringFromEnv")
	require.True(t, sameIDs(ids(r), b, a), "KeyringFromEnv = %v", r)
	t.Setenv("SEALED_TEST_KEYS", bad)
	_, err = KeyringFromEnv("SEALED_TEST_KEYS")
	require.ErrorIs(t, err, ErrInvalidKey)
	require.ErrorContains(t, err, "SEALED_TEST_KEYS")
	assertNoKeyText(t, err.Error(), nil, bad[5:])
	_, err = KeyringFromEnv("SEALED_TEST_UNSET_VARIABLE")
	assert.ErrorIs(t, err, ErrEmptyKeyring, "unset")
}

// events collects a watcher's reports.
type events struct {
	mu  sync.Mutex
	evs []KeyringReload
	ch  chan KeyringReload
}

func newEvents() *events { return &events{ch: make(chan KeyringReload, 64)} }

func (e *events) add(ev KeyringReload) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// next waits for the next report.
func (e *events) next(t testing.TB) KeyringReload {
	t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no reload reported within 10s")
		return KeyringReload{}
	}
}

func TestWatchRefusalsKeepTheRing(t *testing.T) {
	a, b, c := testKey(t, 1), testKey(t, 40), testKey(t, 80)
	all := []*Key{a, b, c}
	path := filepath.Join(t.TempDir(), "keys")
	writeAtomic(t, path, ringText(a))
	evs := newEvents()
	w, err := WatchKeyringFile(path, &WatchOptions{Interval: -1, OnReload: evs.add})
	require.NoError(t, err)
	defer w.Close()
	r := w.Keyring()
	s := testSealer(t, r, "cookie")

	check := func(wantErr error, want ...*Key) {
		t.Helper()
		err := w.Reload()
		ev := evs.next(t)
		require.ErrorIs(t, err, wantErr, "Reload")
		// The very error Reload returned, not an equal one.
		require.True(t, ev.Err == err, "event %+v does not match Reload's %v", ev, err)
		require.Equal(t, path, ev.Path, "event %+v", ev)
		require.Equal(t, r.String(), ev.Keyring, "event %+v", ev)
		require.True(t, sameIDs(ids(r), want...), "ring = %v, want %v", r, want)
		if err != nil {
			assertNoKeyText(t, err.Error(), all)
			assertNoKeyText(t, fmt.Sprintf("%v %+v %#v", ev, ev, ev), all)
		}
		_, err = s.Seal(nil, []byte("x"), nil)
		require.NoError(t, err)
	}

	writeAtomic(t, path, ringText(b)) // a fresh primary, a dropped
	check(ErrPrimaryDropped, a)
	writeAtomic(t, path, ringText(c, b)) // still dropping a
	check(ErrPrimaryDropped, a)

	for _, bad := range []string{
		"",                          // empty (a truncating writer, caught mid-write)
		a.Export()[:30],             // truncated
		a.Export() + "," + "ssk1_x", // half of the second key
		"not a key ring at all",
		a.Export() + "," + a.Export(), // duplicate
	} {
		writeAtomic(t, path, bad)
		err := w.Reload()
		ev := evs.next(t)
		require.Error(t, err, "malformed file %q applied", bad)
		require.Error(t, ev.Err, "malformed file %q applied", bad)
		require.False(t, ev.Changed, "malformed file %q applied", bad)
		require.True(t, errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrEmptyKeyring) || errors.Is(err, ErrDuplicateKey), "err = %v", err)
		require.True(t, sameIDs(ids(r), a), "malformed file changed the ring to %v", r)
		assertNoKeyText(t, err.Error(), all, strings.TrimSpace(bad))
	}

	// A missing file keeps the ring too.
	require.NoError(t, os.Remove(path))
	require.ErrorIs(t, w.Reload(), os.ErrNotExist, "missing file")
	evs.next(t)

	// The two-step rollout goes through.
	writeAtomic(t, path, ringText(a, b))
	check(nil, a, b)
	writeAtomic(t, path, ringText(b, a))
	check(nil, b, a)
	// Unchanged contents: no error, nothing changed.
	check(nil, b, a)
	assert.False(t, evs.evs[len(evs.evs)-1].Changed, "unchanged file reported as a change")
}

// TestWatchRotateUnderLoad rotates keys through real file changes, picked
// up by polling, while goroutines seal and open without pause. No Open of
// a freshly sealed text may fail at any point of a two-step rollout, and
// after the last step every Seal uses the new key.
func TestWatchRotateUnderLoad(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 40)
	path := filepath.Join(t.TempDir(), "keys")
	writeAtomic(t, path, ringText(a))
	evs := newEvents()
	w, err := WatchKeyringFile(path, &WatchOptions{Interval: time.Millisecond, OnReload: evs.add})
	require.NoError(t, err)
	defer w.Close()

	s := testSealer(t, w.Keyring(), "cookie")

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		ops      atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		sawB     atomic.Bool
	)
	workers := 4
	if raceEnabled {
		workers = 2
	}
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := []byte{byte(g)}
			var held [][]byte // texts sealed earlier in the rollout
			for i := 0; !stop.Load(); i++ {
				text, err := s.Seal(nil, []byte("payload"), ctx)
				if err == nil {
					var info OpenInfo
					_, info, err = s.Open(nil, text, ctx)
					if info.KeyID == b.ID() {
						sawB.Store(true)
					}
				}
				if err == nil && len(held) > 0 {
					_, _, err = s.Open(nil, held[i%len(held)], ctx)
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				if i%64 == 0 && len(held) < 32 {
					held = append(held, text)
				}
				ops.Add(1)
			}
		}()
	}

	waitFor := func(want ...*Key) {
		t.Helper()
		for {
			ev := evs.next(t)
			require.NoError(t, ev.Err, "reload failed")
			if sameIDs(ids(w.Keyring()), want...) {
				return
			}
		}
	}
	waitOps := func() {
		t.Helper()
		start := ops.Load()
		deadline := time.Now().Add(10 * time.Second)
		for ops.Load() < start+200 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}

	waitOps()
	writeAtomic(t, path, ringText(a, b)) // step 1: b accept-only
	waitFor(a, b)
	waitOps()
	writeAtomic(t, path, ringText(b, a)) // step 2: b seals
	waitFor(b, a)
	waitOps()
	stop.Store(true)
	wg.Wait()

	require.Zero(t, failures.Load(), "operations (of %d) failed during the rollout; first: %v", ops.Load(), firstErr.Load())
	require.True(t, sawB.Load(), "no Seal used the new primary after the rollout")
	require.Same(t, w.Keyring().Keys()[0], w.Keyring().Primary(), "ring = %v", w.Keyring())
	require.Equal(t, b.ID(), w.Keyring().Primary().ID(), "ring = %v", w.Keyring())
	text, err := s.Seal(nil, []byte("x"), nil)
	require.NoError(t, err)
	_, info, err := s.Open(nil, text, nil)
	assert.NoError(t, err, "after the rollout")
	assert.Equal(t, b.ID(), info.KeyID, "after the rollout")
}

func TestWatchPollsOnlyOnChange(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 40)
	path := filepath.Join(t.TempDir(), "keys")
	writeAtomic(t, path, ringText(a))
	// Pretend the file is old, so an unchanged stamp is trusted.
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(path, old, old))
	evs := newEvents()
	w, err := WatchKeyringFile(path, &WatchOptions{Interval: time.Millisecond, OnReload: evs.add})
	require.NoError(t, err)
	defer w.Close()

	// Same contents, new mtime: read, hashed, not reported.
	now := time.Now()
	require.NoError(t, os.Chtimes(path, now, now))
	time.Sleep(50 * time.Millisecond)
	select {
	case ev := <-evs.ch:
		require.Failf(t, "touching the file was reported", "%+v", ev)
	default:
	}

	// A refused file is reported once, not on every poll.
	writeAtomic(t, path, ringText(b))
	ev := evs.next(t)
	require.ErrorIs(t, ev.Err, ErrPrimaryDropped, "event = %+v", ev)
	time.Sleep(50 * time.Millisecond)
	select {
	case ev := <-evs.ch:
		require.Failf(t, "refusal reported twice", "%+v", ev)
	default:
	}

	// A vanished file is reported once; its return is picked up.
	require.NoError(t, os.Remove(path))
	ev = evs.next(t)
	require.ErrorIs(t, ev.Err, os.ErrNotExist, "event = %+v", ev)
	writeAtomic(t, path, ringText(a, b))
	ev = evs.next(t)
	require.NoError(t, ev.Err, "event = %+v", ev)
	require.True(t, ev.Changed, "event = %+v", ev)
	require.True(t, sameIDs(ids(w.Keyring()), a, b), "event = %+v, ring %v", ev, w.Keyring())

	// Close stops polling; the ring stays usable; Close is idempotent.
	require.NoError(t, w.Close())
	_ = w.Close()
	writeAtomic(t, path, ringText(b, a))
	time.Sleep(20 * time.Millisecond)
	select {
	case ev := <-evs.ch:
		require.Failf(t, "reported after Close", "%+v", ev)
	default:
	}
	require.True(t, sameIDs(ids(w.Keyring()), a, b), "ring changed after Close")
	assert.NoError(t, w.Reload(), "Reload after Close")
	assert.True(t, sameIDs(ids(w.Keyring()), b, a), "Reload after Close: %v", w.Keyring())
}

func TestWatchKeyringFileStartErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := WatchKeyringFile(filepath.Join(dir, "missing"), nil)
	require.ErrorIs(t, err, os.ErrNotExist, "missing")
	path := filepath.Join(dir, "keys")
	writeAtomic(t, path, "garbage")
	_, err = WatchKeyringFile(path, nil)
	require.ErrorIs(t, err, ErrInvalidKey, "garbage")
	assertNoKeyText(t, err.Error(), nil, "garbage")
}
