package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

func trackInfo(t testing.TB, created time.Time, ttl time.Duration) versioning.SessionInfo {
	t.Helper()
	id, err := codec.NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	created = created.Truncate(time.Millisecond)
	return versioning.SessionInfo{ID: id, Created: created, LastSeen: created, Expires: created.Add(ttl), Network: "198.51.100.0/24", Client: "Firefox on Linux"}
}

func TestTrackerEntryRoundTrip(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	for _, si := range []versioning.SessionInfo{
		{ID: codec.SessionID{1, 2, 3}, Created: now, LastSeen: now.Add(time.Second), Expires: now.Add(time.Hour), Network: "2001:db8:1::/48", Client: "curl/8.0"},
		{ID: codec.SessionID{0xff}, Created: now, LastSeen: now, Expires: now.Add(time.Minute), Network: "", Client: "a\nclient with\nline feeds and spaces "},
		{ID: codec.SessionID{}, Created: time.UnixMilli(0), LastSeen: time.UnixMilli(-5), Expires: now, Network: "192.0.2.0/24", Client: ""},
	} {
		got, err := decodeEntry(si.ID.String(), encodeEntry(si))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", si, err)
		}
		if got.ID != si.ID || !got.Created.Equal(si.Created) || !got.LastSeen.Equal(si.LastSeen) || !got.Expires.Equal(si.Expires) || got.Network != si.Network || got.Client != si.Client {
			t.Errorf("round trip: got %+v, want %+v", got, si)
		}
	}
	for _, bad := range [][2]string{
		{"00", "1 2 3 n\nc"},                                       // short ID
		{strings.Repeat("zz", 16), "1 2 3 n\nc"},                   // not hex
		{strings.Repeat("00", 16), "1 2 3 n"},                      // no line feed
		{strings.Repeat("00", 16), "1 2 3\nc"},                     // three fields
		{strings.Repeat("00", 16), "1 x 3 n\nc"},                   // not a number
		{strings.Repeat("00", 16), "99999999999999999999 2 3 n\n"}, // overflow
	} {
		if _, err := decodeEntry(bad[0], bad[1]); !errors.Is(err, errBadEntry) {
			t.Errorf("decodeEntry(%q, %q) = %v, want errBadEntry", bad[0], bad[1], err)
		}
	}
}

// FuzzDecodeEntry: an entry read from Redis never panics the decoder, and
// whatever decodes encodes back to an entry that decodes the same.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(strings.Repeat("ab", 16), "1700000000123 1700000000000 1700003600000 192.0.2.0/24\nFirefox")
	f.Add(strings.Repeat("00", 16), "0 0 0 \n")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, hexID, e string) {
		si, err := decodeEntry(hexID, e)
		if err != nil {
			return
		}
		again, err := decodeEntry(si.ID.String(), encodeEntry(si))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.ID != si.ID || !again.Created.Equal(si.Created) || !again.LastSeen.Equal(si.LastSeen) || !again.Expires.Equal(si.Expires) || again.Network != si.Network || again.Client != si.Client {
			t.Fatalf("round trip changed %+v into %+v", si, again)
		}
	})
}

// TestTrackerKeys checks the layout: three keys per user in the user's slot,
// expiring with the user's latest entry, gone when the last entry goes.
func TestTrackerKeys(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	ctx := t.Context()
	now := time.Now()
	a := trackInfo(t, now, 10*time.Minute)
	b := trackInfo(t, now, time.Hour)
	for _, si := range []versioning.SessionInfo{a, b} {
		if _, err := s.AddSession(ctx, "a{b}c", si, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	if k := s.trackKeys("alice")[0]; k != prefix+"u{alice}:tc" {
		t.Errorf("alice's first tracker key = %q", k)
	}
	keys := s.trackKeys("a{b}c")
	for i, k := range keys {
		// A user ID holding '}' is tagged by its FNV-1a hash (see userTag).
		want := prefix + "u{7198c47b008ce261}=a{b}c:" + []string{"tc", "tx", "th"}[i]
		if k != want {
			t.Errorf("key %d = %q, want %q", i, k, want)
		}
		ms, err := srv.Do("PTTL", k)
		if err != nil {
			t.Fatal(err)
		}
		ttl, _ := strconv.ParseInt(ms, 10, 64)
		if d := time.Duration(ttl) * time.Millisecond; d < 59*time.Minute || d > time.Hour {
			t.Errorf("PTTL %s = %v, want about an hour (the latest expiry)", k, d)
		}
	}
	for _, si := range []versioning.SessionInfo{b, a} {
		if err := s.RemoveSession(ctx, "a{b}c", si.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		if n, err := srv.Do("EXISTS", k); err != nil || n != "0" {
			t.Errorf("%s still exists after the last entry was removed: %q, %v", k, n, err)
		}
	}
	// Display text is bounded, and a network that cannot be a prefix is refused.
	long := trackInfo(t, now, time.Hour)
	long.Client = strings.Repeat("é", 100)
	if _, err := s.AddSession(ctx, "carol", long, 0, false); err != nil {
		t.Fatal(err)
	}
	l, err := s.Sessions(ctx, "carol")
	if err != nil || len(l) != 1 || len(l[0].Client) > maxClient || !strings.HasPrefix(long.Client, l[0].Client) {
		t.Fatalf("long client: %+v, %v", l, err)
	}
	bad := trackInfo(t, now, time.Hour)
	bad.Network = "1 2"
	if _, err := s.AddSession(ctx, "carol", bad, 0, false); err == nil || errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("AddSession with network %q = %v, want a usage error", bad.Network, err)
	}
	if _, err := s.AddSession(ctx, "", trackInfo(t, now, time.Hour), 0, false); err == nil {
		t.Error("AddSession for an empty user ID succeeded")
	}
}

// TestTrackerTwoInstances: two stores (two application instances) on one
// Redis share the per-user limit, atomically.
func TestTrackerTwoInstances(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	a := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	b := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	const workers, limit = 16, 3
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		ok, refused int
	)
	now := time.Now()
	for i := range workers {
		s := a
		if i%2 == 1 {
			s = b
		}
		si := trackInfo(t, now.Add(time.Duration(i)*time.Millisecond), time.Hour)
		wg.Go(func() {
			_, err := s.AddSession(t.Context(), "shared", si, limit, false)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, versioning.ErrTooManySessions):
				refused++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != limit || refused != workers-limit {
		t.Fatalf("across two instances: %d accepted, %d refused; want %d and %d", ok, refused, limit, workers-limit)
	}
	la, errA := a.Sessions(t.Context(), "shared")
	lb, errB := b.Sessions(t.Context(), "shared")
	if errA != nil || errB != nil || len(la) != limit || len(lb) != limit {
		t.Fatalf("instances see %d and %d sessions (%v, %v), want %d", len(la), len(lb), errA, errB, limit)
	}
	// Evicting through b removes the oldest, whichever instance added it.
	ev, err := b.AddSession(t.Context(), "shared", trackInfo(t, now.Add(time.Second), time.Hour), limit, true)
	if err != nil || len(ev) != 1 || ev[0].ID != la[0].ID {
		t.Fatalf("evict through the other instance: %+v, %v; want the oldest %s", ev, err, la[0].ID.Tag())
	}
	if !ev[0].Expires.Equal(la[0].Expires) || ev[0].Client != la[0].Client {
		t.Errorf("evicted entry lost its data: %+v, want %+v", ev[0], la[0])
	}
}

// TestTrackerNotReplicated: with MinReplicas and no replica, AddSession
// fails like every write, takes its entry back, and still reports the
// entries it evicted on the master.
func TestTrackerNotReplicated(t *testing.T) {
	srv := redistest.Start(t)
	prefix := uniquePrefix(t)
	plain := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix}, nil)
	waiting := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: prefix, MinReplicas: 1, WaitTimeout: 50 * time.Millisecond}, nil)
	ctx := t.Context()
	old := trackInfo(t, time.Now().Add(-time.Minute), time.Hour)
	if _, err := plain.AddSession(ctx, "alice", old, 0, false); err != nil {
		t.Fatal(err)
	}
	ev, err := waiting.AddSession(ctx, "alice", trackInfo(t, time.Now(), time.Hour), 1, true)
	if !errors.Is(err, ErrNotReplicated) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("AddSession without a replica = %v, want ErrNotReplicated and ErrStoreUnavailable", err)
	}
	if len(ev) != 1 || ev[0].ID != old.ID {
		t.Errorf("evicted = %+v, want the old entry (removed on the master)", ev)
	}
	if l, err := plain.Sessions(ctx, "alice"); err != nil || len(l) != 0 {
		t.Errorf("after an unreplicated AddSession: %+v, %v; want no entry (taken back)", l, err)
	}
	if err := waiting.RemoveSession(ctx, "alice", old.ID); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("RemoveSession without a replica = %v, want ErrNotReplicated", err)
	}
	// Touch is display only: no WAIT.
	if err := waiting.TouchSession(ctx, "alice", old.ID, time.Now()); err != nil {
		t.Errorf("TouchSession = %v", err)
	}
}

// TestTrackerUnavailable: with Redis down every call fails with
// ErrStoreUnavailable, and a corrupt entry is a store failure too.
func TestTrackerUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t)}, nil)
	ctx := t.Context()
	si := trackInfo(t, time.Now(), time.Hour)
	if _, err := s.AddSession(ctx, "alice", si, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("HSET", s.trackKeys("alice")[2], si.ID.String(), "garbage"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sessions(ctx, "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Sessions with a corrupt entry = %v, want ErrStoreUnavailable", err)
	}
	srv.Kill()
	_, errA := s.AddSession(ctx, "alice", trackInfo(t, time.Now(), time.Hour), 1, false)
	errT := s.TouchSession(ctx, "alice", si.ID, time.Now())
	errR := s.RemoveSession(ctx, "alice", si.ID)
	_, errS := s.Sessions(ctx, "alice")
	for name, err := range map[string]error{"AddSession": errA, "TouchSession": errT, "RemoveSession": errR, "Sessions": errS} {
		if !errors.Is(err, versioning.ErrStoreUnavailable) || errors.Is(err, versioning.ErrTooManySessions) {
			t.Errorf("%s with Redis down = %v, want ErrStoreUnavailable", name, err)
		}
	}
	_ = s.Close()
	if _, err := s.Sessions(ctx, "alice"); !errors.Is(err, versioning.ErrClosed) {
		t.Errorf("Sessions after Close = %v, want ErrClosed", err)
	}
}

func BenchmarkAddSession(b *testing.B) {
	srv := redistest.Start(b)
	s := openStore(b, newClient(b, srv.Addr()), &Options{Prefix: uniquePrefix(b)}, nil)
	now := time.Now()
	infos := make([]versioning.SessionInfo, 64)
	for i := range infos {
		infos[i] = trackInfo(b, now.Add(time.Duration(i)*time.Millisecond), time.Hour)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.AddSession(b.Context(), "bench", infos[i%len(infos)], 5, true); err != nil {
			b.Fatal(err)
		}
	}
}
