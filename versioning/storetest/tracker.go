package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/versioning"
)

// trackerTests run only for stores that implement versioning.SessionTracker.
var trackerTests = []struct {
	name string
	fn   func(t *testing.T, s versioning.Store, tr versioning.SessionTracker, c *Clock)
}{
	{"TrackerAddList", testTrackerAddList},
	{"TrackerLimitRefuse", testTrackerRefuse},
	{"TrackerLimitEvict", testTrackerEvict},
	{"TrackerTouchRemove", testTrackerTouchRemove},
	{"TrackerExpiry", testTrackerExpiry},
	{"TrackerConcurrentLimit", testTrackerConcurrent},
}

func info(t *testing.T, created time.Time, ttl time.Duration) versioning.SessionInfo {
	t.Helper()
	// Timestamps at millisecond precision, as sealed headers carry them.
	created = created.Truncate(time.Millisecond)
	return versioning.SessionInfo{ID: newID(t), Created: created, LastSeen: created, Expires: created.Add(ttl), Network: "192.0.2.0/24", Client: "test"}
}

func sessions(t *testing.T, tr versioning.SessionTracker, user string) []versioning.SessionInfo {
	t.Helper()
	l, err := tr.Sessions(t.Context(), user)
	if err != nil {
		t.Fatalf("Sessions(%q): %v", user, err)
	}
	return l
}

func add(t *testing.T, tr versioning.SessionTracker, user string, si versioning.SessionInfo, limit int, evict bool) []versioning.SessionInfo {
	t.Helper()
	ev, err := tr.AddSession(t.Context(), user, si, limit, evict)
	if err != nil {
		t.Fatalf("AddSession: %v", err)
	}
	return ev
}

func testTrackerAddList(t *testing.T, _ versioning.Store, tr versioning.SessionTracker, c *Clock) {
	if l := sessions(t, tr, "alice"); l == nil || len(l) != 0 {
		t.Fatalf("Sessions of an unknown user = %#v, want an empty non-nil slice", l)
	}
	now := c.Now()
	b := info(t, now.Add(-time.Minute), time.Hour)
	a := info(t, now.Add(-2*time.Minute), time.Hour)
	a.Epoch = 1<<63 + 7 // kept exactly, however large
	add(t, tr, "alice", b, 0, false)
	add(t, tr, "alice", a, 0, false)
	add(t, tr, "bob", info(t, now, time.Hour), 0, false)
	l := sessions(t, tr, "alice")
	if len(l) != 2 || l[0].ID != a.ID || l[1].ID != b.ID {
		t.Fatalf("Sessions(alice) = %+v, want a then b (oldest first)", l)
	}
	if !l[0].Created.Equal(a.Created) || !l[0].Expires.Equal(a.Expires) || l[0].Network != a.Network || l[0].Client != a.Client || l[0].Epoch != a.Epoch || l[1].Epoch != 0 {
		t.Errorf("session info not kept: %+v, want %+v", l[0], a)
	}
	if n := len(sessions(t, tr, "bob")); n != 1 {
		t.Errorf("Sessions(bob) has %d entries, want 1", n)
	}
	// Re-adding the same ID replaces it instead of adding another entry.
	add(t, tr, "alice", a, 2, false)
	if n := len(sessions(t, tr, "alice")); n != 2 {
		t.Errorf("re-adding a tracked ID gave %d sessions, want 2", n)
	}
}

func testTrackerRefuse(t *testing.T, _ versioning.Store, tr versioning.SessionTracker, c *Clock) {
	now := c.Now()
	for i := range 2 {
		add(t, tr, "alice", info(t, now.Add(time.Duration(i)*time.Second), time.Hour), 2, false)
	}
	_, err := tr.AddSession(t.Context(), "alice", info(t, now.Add(5*time.Second), time.Hour), 2, false)
	if !errors.Is(err, versioning.ErrTooManySessions) {
		t.Fatalf("third session over a limit of 2 = %v, want ErrTooManySessions", err)
	}
	if n := len(sessions(t, tr, "alice")); n != 2 {
		t.Fatalf("a refused AddSession changed the list: %d sessions", n)
	}
	// Other users have their own limit.
	add(t, tr, "bob", info(t, now, time.Hour), 2, false)
}

func testTrackerEvict(t *testing.T, _ versioning.Store, tr versioning.SessionTracker, c *Clock) {
	now := c.Now()
	oldest := info(t, now.Add(-3*time.Minute), time.Hour)
	middle := info(t, now.Add(-2*time.Minute), time.Hour)
	newest := info(t, now.Add(-time.Minute), time.Hour)
	add(t, tr, "alice", middle, 0, false)
	add(t, tr, "alice", oldest, 0, false)
	add(t, tr, "alice", newest, 0, false)
	// A limit of 2 with three tracked: the two oldest go.
	ev := add(t, tr, "alice", info(t, now, time.Hour), 2, true)
	if len(ev) != 2 || ev[0].ID != oldest.ID || ev[1].ID != middle.ID {
		t.Fatalf("evicted %+v, want oldest and middle", ev)
	}
	l := sessions(t, tr, "alice")
	if len(l) != 2 || l[0].ID != newest.ID {
		t.Fatalf("after eviction Sessions = %+v", l)
	}
}

func testTrackerTouchRemove(t *testing.T, _ versioning.Store, tr versioning.SessionTracker, c *Clock) {
	now := c.Now()
	a, b := info(t, now.Add(-time.Minute), time.Hour), info(t, now, time.Hour)
	add(t, tr, "alice", a, 0, false)
	add(t, tr, "alice", b, 0, false)
	seen := now.Add(30 * time.Second).Truncate(time.Millisecond)
	if err := tr.TouchSession(t.Context(), "alice", a.ID, seen); err != nil {
		t.Fatal(err)
	}
	if l := sessions(t, tr, "alice"); !l[0].LastSeen.Equal(seen) || !l[1].LastSeen.Equal(b.LastSeen) {
		t.Fatalf("TouchSession: %+v", l)
	}
	if err := tr.TouchSession(t.Context(), "alice", newID(t), seen); err != nil {
		t.Fatalf("TouchSession of an unknown session: %v", err)
	}
	if err := tr.RemoveSession(t.Context(), "alice", a.ID); err != nil {
		t.Fatal(err)
	}
	if l := sessions(t, tr, "alice"); len(l) != 1 || l[0].ID != b.ID {
		t.Fatalf("after RemoveSession: %+v", l)
	}
	if err := tr.RemoveSession(t.Context(), "carol", a.ID); err != nil {
		t.Fatalf("RemoveSession of an unknown session: %v", err)
	}
}

func testTrackerExpiry(t *testing.T, _ versioning.Store, tr versioning.SessionTracker, c *Clock) {
	now := c.Now()
	short := info(t, now, 0)
	short.Expires = now.Add(200 * time.Millisecond)
	long := info(t, now, time.Hour)
	add(t, tr, "alice", short, 0, false)
	add(t, tr, "alice", long, 0, false)
	if n := len(sessions(t, tr, "alice")); n != 2 {
		t.Fatalf("%d sessions before expiry, want 2", n)
	}
	c.Set(short.Expires.Add(-time.Millisecond))
	if n := len(sessions(t, tr, "alice")); n != 2 {
		t.Fatalf("%d sessions a millisecond before one expires, want 2", n)
	}
	c.Set(short.Expires)
	if n := len(sessions(t, tr, "alice")); n != 1 {
		t.Fatalf("%d sessions listed once one expired, want 1", n)
	}
	now = c.Now()
	// An expired session does not count against the limit.
	add(t, tr, "alice", info(t, now, time.Hour), 2, false)
	// An already expired session records nothing.
	past := info(t, now.Add(-2*time.Hour), time.Hour)
	if _, err := tr.AddSession(t.Context(), "dave", past, 0, false); err != nil {
		t.Fatal(err)
	}
	if n := len(sessions(t, tr, "dave")); n != 0 {
		t.Fatalf("an already expired session was recorded")
	}
}

func testTrackerConcurrent(t *testing.T, _ versioning.Store, tr versioning.SessionTracker, c *Clock) {
	const workers, limit = 8, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	now := c.Now()
	for i := range workers {
		si := info(t, now.Add(time.Duration(i)*time.Millisecond), time.Hour)
		wg.Go(func() {
			_, err := tr.AddSession(t.Context(), "shared", si, limit, false)
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
		t.Fatalf("%d concurrent AddSession with limit %d: %d accepted, %d refused; the limit is not atomic", workers, limit, ok, refused)
	}
	if n := len(sessions(t, tr, "shared")); n != limit {
		t.Fatalf("%d sessions tracked, want %d", n, limit)
	}
}
