// Package boltstore is a durable [versioning.Store] in one bbolt file
// (go.etcd.io/bbolt), for an application that runs as a single process on
// one machine. It is the demo's default store.
//
// # Durability and speed
//
// Every write (BumpEpoch, BumpGlobalEpoch, Revoke) is committed and synced
// to the file before it returns, so a bump survives a crash or restart.
// The whole store is small (one entry per user with an epoch or a live
// revocation), so Open loads it into memory and reads (Epoch, Lookup: the
// request path) are served from that mirror without touching the file. This
// is only correct while one process owns the file, which bbolt's exclusive
// file lock enforces: a second Open of the same file waits Options.Timeout
// and then fails.
//
// # File layout
//
// Bucket "users": key "u" + user ID, value the user's state: the user's
// epoch counter (8 bytes, big-endian) followed by that user's revocations,
// each the 16-byte session ID and the expiry time in Unix nanoseconds (8
// bytes, big-endian). Bucket "global": key "epoch", the global counter.
// Bucket "sessions" (the versioning.SessionTracker ability): key "u" + user
// ID, value the user's live sessions as a JSON array. Bucket "meta": key
// "format", value 2. A format 1 file (revocations not kept per user) is
// converted at Open: its epochs are kept, its revocations forgotten.
//
// # Expiry and file size
//
// Ended revocations are ignored by reads, dropped at Open, on the next
// write of the same user, and by a sweep every Options.SweepInterval that
// rewrites only the users it changed (the mirror is swept one shard at a
// time, so readers never wait for a whole sweep). bbolt reuses the pages
// freed by deletions, so a file under steady churn stops growing at its
// high-water mark; after a mass expiry, when at least half of a file of at
// least Options.CompactMinBytes is free, the sweep compacts it into a new
// file (Compact) so that it shrinks.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/internal/usertable"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout         = time.Second   // Options.Timeout
	DefaultSweepInterval   = time.Minute   // Options.SweepInterval
	DefaultCompactMinBytes = 8 << 20       // Options.CompactMinBytes
	compactTxSize          = 4 << 20       // bytes copied per transaction by Compact
	revSize                = 16 + 8        // one revocation in a user value
	sweepChunk             = 256           // users' session lists pruned per hold of the lock
	legacyBucketEpochs     = "epochs"      // format 1
	legacyBucketRevoked    = "revocations" // format 1
	formatVersion          = uint64(2)     // bucket "meta", key "format"
	maxCounter             = uint64(1<<64 - 1)
)

var (
	bucketUsers  = []byte("users")
	bucketGlobal = []byte("global")
	bucketMeta   = []byte("meta")
	keyGlobal    = []byte("epoch")
	keyFormat    = []byte("format")
)

// Options configures Open. A nil *Options means all defaults.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process or another Open. Default DefaultTimeout (1s); negative means
	// fail at once.
	Timeout time.Duration
	// Now is the clock used to expire revocations. Default time.Now.
	Now func() time.Time
	// FileMode is the mode of a newly created file. Default 0600.
	FileMode os.FileMode
	// ReadOnly opens the file with a shared lock for reading only (for
	// example an inspection tool while the application is stopped). Every
	// write then fails with an error matching versioning.ErrStoreUnavailable.
	ReadOnly bool
	// SweepInterval is how often ended revocations and sessions are dropped
	// from memory and from the file in the background. Default
	// DefaultSweepInterval (1 minute); negative turns the background sweep
	// off (Sweep still works).
	SweepInterval time.Duration
	// CompactMinBytes: a sweep compacts the file (see Compact) when the
	// file is at least this large and at least half of it is free pages.
	// Default DefaultCompactMinBytes (8 MiB); negative never compacts
	// automatically.
	CompactMinBytes int64
}

// Store is a versioning.Store backed by a bbolt file. It is safe for
// concurrent use.
type Store struct {
	db     *bolt.DB // replaced by Compact; used only with wmu held
	path   string
	opts   Options
	now    func() time.Time
	closed atomic.Bool

	wmu sync.Mutex // serialises writes: file commit then mirror update

	users  *usertable.Table // the mirror; revocation untils in unix nanoseconds
	global atomic.Uint64

	timer    *time.Timer // background sweep; guarded by wmu
	compacts atomic.Int64

	mu       sync.RWMutex                        // guards the session mirror below
	sessions map[string][]versioning.SessionInfo // versioning.SessionTracker; lists are never modified in place
	touched  map[string]bool                     // users whose LastSeen changed in memory only
}

var _ versioning.Store = (*Store)(nil)

// unavailable wraps err so that it matches versioning.ErrStoreUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("boltstore: %s: %w (%w)", op, err, versioning.ErrStoreUnavailable)
}

// Open opens or creates the store file at path and loads it into memory.
// Errors (file cannot be created, opened or locked in time, is not a bbolt
// file, or holds malformed entries) match versioning.ErrStoreUnavailable
// and name the path. Unless Options.SweepInterval turns it off, a timer
// sweeps the store until Close.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	} else if o.Timeout < 0 {
		o.Timeout = time.Nanosecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.CompactMinBytes == 0 {
		o.CompactMinBytes = DefaultCompactMinBytes
	}
	db, err := openDB(path, &o)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:       db,
		path:     path,
		opts:     o,
		now:      o.Now,
		users:    usertable.New(),
		sessions: make(map[string][]versioning.SessionInfo),
		touched:  make(map[string]bool),
	}
	if err := s.load(o.ReadOnly); err != nil {
		_ = db.Close()
		return nil, unavailable("load "+path, err)
	}
	if o.SweepInterval > 0 && !o.ReadOnly {
		s.wmu.Lock()
		s.timer = time.AfterFunc(o.SweepInterval, s.tick)
		s.wmu.Unlock()
	}
	return s, nil
}

func openDB(path string, o *Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, o.FileMode, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%w (file locked by another process or Open)", err)
		}
		return nil, unavailable("open "+path, err)
	}
	return db, nil
}

// encodeUser is the file value of a user's state.
func encodeUser(u usertable.User) []byte {
	b := make([]byte, 0, 8+revSize*len(u.Revs))
	b = binary.BigEndian.AppendUint64(b, u.Epoch)
	for _, r := range u.Revs {
		b = append(b, r.ID[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Until))
	}
	return b
}

// decodeUser reads a user value, keeping only the revocations live at now.
func decodeUser(v []byte, now int64) (usertable.User, error) {
	if len(v) < 8 || (len(v)-8)%revSize != 0 {
		return usertable.User{}, errors.New("malformed user entry")
	}
	u := usertable.User{Epoch: binary.BigEndian.Uint64(v)}
	for r := v[8:]; len(r) > 0; r = r[revSize:] {
		until := int64(binary.BigEndian.Uint64(r[16:]))
		if until > now {
			u.Revs = append(u.Revs, usertable.Rev{ID: codec.SessionID(r[:16]), Until: until})
		}
	}
	return u, nil
}

// putUser writes userID's state (or deletes the key for an empty one).
func putUser(tx *bolt.Tx, userID string, u usertable.User) error {
	b := tx.Bucket(bucketUsers)
	if u.Empty() {
		return b.Delete(userKey(userID))
	}
	return b.Put(userKey(userID), encodeUser(u))
}

// load creates the buckets (unless read-only), converts a format 1 file,
// drops ended revocations and fills the mirror.
func (s *Store) load(readOnly bool) error {
	now := s.now().UnixNano()
	fill := func(tx *bolt.Tx) error {
		format := uint64(1)
		if b := tx.Bucket(bucketMeta); b != nil {
			if v := b.Get(keyFormat); v != nil {
				if len(v) != 8 || (binary.BigEndian.Uint64(v) != formatVersion && binary.BigEndian.Uint64(v) != 1) {
					return errors.New("unknown store format")
				}
				format = binary.BigEndian.Uint64(v)
			}
		}
		if format == 1 && tx.Writable() {
			if err := convertV1(tx); err != nil {
				return fmt.Errorf("convert format 1: %w", err)
			}
		} else if b := tx.Bucket([]byte(legacyBucketEpochs)); format == 1 && b != nil {
			// Read-only: read a format 1 file's epochs without converting.
			err := b.ForEach(func(k, v []byte) error {
				if len(k) == 0 || k[0] != 'u' || len(v) != 8 {
					return errors.New("malformed epoch entry")
				}
				s.users.Set(string(k[1:]), usertable.User{Epoch: binary.BigEndian.Uint64(v)})
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketGlobal); b != nil {
			if v := b.Get(keyGlobal); v != nil {
				if len(v) != 8 {
					return errors.New("malformed global epoch")
				}
				s.global.Store(binary.BigEndian.Uint64(v))
			}
		}
		if b := tx.Bucket(bucketUsers); b != nil {
			type change struct {
				k []byte
				u usertable.User
			}
			var changed []change
			err := b.ForEach(func(k, v []byte) error {
				if len(k) == 0 || k[0] != 'u' {
					return errors.New("malformed user key")
				}
				u, err := decodeUser(v, now)
				if err != nil {
					return err
				}
				s.users.Set(string(k[1:]), u)
				if len(encodeUser(u)) != len(v) {
					changed = append(changed, change{append([]byte(nil), k...), u})
				}
				return nil
			})
			if err != nil {
				return err
			}
			if tx.Writable() {
				for _, c := range changed {
					if err := putUser(tx, string(c.k[1:]), c.u); err != nil {
						return err
					}
				}
			}
		}
		return loadSessions(tx, time.Unix(0, now), s.sessions)
	}
	if readOnly {
		return s.db.View(fill)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketUsers, bucketGlobal, bucketMeta, bucketSessions} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := fill(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, binary.BigEndian.AppendUint64(nil, formatVersion))
	})
}

// convertV1 moves a format 1 file's epochs into the users bucket and drops
// its revocations (they were not kept per user).
func convertV1(tx *bolt.Tx) error {
	if b := tx.Bucket([]byte(legacyBucketEpochs)); b != nil {
		users := tx.Bucket(bucketUsers)
		err := b.ForEach(func(k, v []byte) error {
			if len(k) == 0 || k[0] != 'u' || len(v) != 8 {
				return errors.New("malformed epoch entry")
			}
			return users.Put(k, v)
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte(legacyBucketEpochs)); err != nil {
			return err
		}
	}
	if tx.Bucket([]byte(legacyBucketRevoked)) != nil {
		return tx.DeleteBucket([]byte(legacyBucketRevoked))
	}
	return nil
}

func (s *Store) ready(ctx context.Context) error {
	if s.closed.Load() {
		return unavailable("use", versioning.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return unavailable("cancelled", err)
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Epoch returns the user's counter plus the global counter from memory; an
// unknown user's counter is 0.
func (s *Store) Epoch(ctx context.Context, userID string) (uint64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	return versioning.EffectiveEpoch(s.users.Get(userID).Epoch, s.global.Load())
}

// Lookup returns from memory the user's effective epoch and whether id is
// revoked for that user; the zero state for userID "".
func (s *Store) Lookup(ctx context.Context, userID string, id codec.SessionID) (versioning.SessionState, error) {
	if err := s.ready(ctx); err != nil {
		return versioning.SessionState{}, err
	}
	if userID == "" {
		return versioning.SessionState{}, nil
	}
	// The mirror is pruned by the sweep, which also deletes from the file:
	// a read changes nothing.
	u, revoked := s.users.Check(userID, id, s.nowNanos)
	e, err := versioning.EffectiveEpoch(u, s.global.Load())
	if err != nil {
		return versioning.SessionState{}, err
	}
	return versioning.SessionState{Epoch: e, Revoked: revoked}, nil
}

// nowNanos reads the store's clock, as Unix nanoseconds.
func (s *Store) nowNanos() int64 { return s.now().UnixNano() }

// write runs fn in a synced bbolt transaction, serialised with the other
// writes, and then apply (under the session mirror's lock) if it
// committed.
func (s *Store) write(ctx context.Context, op string, fn func(tx *bolt.Tx) error, apply func()) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return unavailable(op, versioning.ErrClosed)
	}
	if s.db == nil {
		return unavailable(op+" "+s.path, errors.New("file lost by a failed compaction"))
	}
	if err := s.db.Update(fn); err != nil {
		return unavailable(op+" "+s.path, err)
	}
	s.mu.Lock()
	apply()
	s.mu.Unlock()
	return nil
}

func userKey(userID string) []byte {
	k := make([]byte, 0, 1+len(userID))
	return append(append(k, 'u'), userID...)
}

var errCounterMax = fmt.Errorf("counter at its maximum: %w", versioning.ErrEpochOverflow)

// BumpEpoch increments the user's counter in the file (synced) and then in
// memory, and returns the new effective epoch.
func (s *Store) BumpEpoch(ctx context.Context, userID string) (uint64, error) {
	var u usertable.User
	now := s.now().UnixNano()
	err := s.write(ctx, "bump epoch", func(tx *bolt.Tx) error {
		u, _ = s.users.Get(userID).Live(now)
		if u.Epoch == maxCounter {
			return errCounterMax
		}
		u.Epoch++
		return putUser(tx, userID, u)
	}, func() { s.users.Set(userID, u) })
	if err != nil {
		return 0, err
	}
	return versioning.EffectiveEpoch(u.Epoch, s.global.Load())
}

// BumpGlobalEpoch increments the global counter in the file (synced) and
// then in memory.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	var n uint64
	return s.write(ctx, "bump global epoch", func(tx *bolt.Tx) error {
		n = s.global.Load()
		if n == maxCounter {
			return errCounterMax
		}
		n++
		return tx.Bucket(bucketGlobal).Put(keyGlobal, binary.BigEndian.AppendUint64(nil, n))
	}, func() { s.global.Store(n) })
}

// Revoke records id of userID as revoked until the given time in the file
// (synced) and in memory, keeping the later time if id is already revoked,
// and drops that user's ended revocations. An until not after now, or
// userID "", records nothing.
func (s *Store) Revoke(ctx context.Context, userID string, id codec.SessionID, until time.Time) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now().UnixNano()
	ns := until.UnixNano()
	if userID == "" || ns <= now {
		return nil
	}
	var u usertable.User
	changed := false
	return s.write(ctx, "revoke", func(tx *bolt.Tx) error {
		u, changed = s.users.Get(userID).WithRevocation(id, ns, now)
		if !changed {
			return nil
		}
		return putUser(tx, userID, u)
	}, func() {
		if changed {
			s.users.Set(userID, u)
		}
	})
}

// Sweep drops every ended revocation and tracked session from memory and
// from the file now, compacts the file if it is mostly free (see
// Options.CompactMinBytes), and returns how many revocations remain. The
// store sweeps by itself; Sweep is for tests and operators.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() || s.db == nil {
		return 0, unavailable("sweep", versioning.ErrClosed)
	}
	type change struct {
		user string
		u    usertable.User
	}
	var changed []change
	_, revs := s.users.Sweep(now.UnixNano(), func(user string, u usertable.User) {
		changed = append(changed, change{user, u})
	})
	// Tracked sessions: the user list is copied under the read lock, then
	// pruned a chunk of users per hold of the write lock.
	s.mu.RLock()
	users := make([]string, 0, len(s.sessions))
	for u := range s.sessions {
		users = append(users, u)
	}
	s.mu.RUnlock()
	lists := make(map[string][]versioning.SessionInfo)
	for i := 0; i < len(users); i += sweepChunk {
		s.mu.Lock()
		for _, user := range users[i:min(i+sweepChunk, len(users))] {
			list, ok := s.sessions[user]
			if l := live(list, now); ok && len(l) != len(list) {
				lists[user] = l
				s.setSessionsLocked(user, l)
			}
		}
		s.mu.Unlock()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, c := range changed {
			if err := putUser(tx, c.user, c.u); err != nil {
				return err
			}
		}
		for user, l := range lists {
			if err := putSessions(tx, user, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return revs, unavailable("sweep "+s.path, err)
	}
	if s.opts.CompactMinBytes > 0 && s.mostlyFreeLocked() {
		if err := s.compactLocked(); err != nil {
			return revs, err
		}
	}
	return revs, nil
}

func (s *Store) tick() {
	if s.closed.Load() {
		return
	}
	_, _ = s.Sweep(context.Background())
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.closed.Load() && s.timer != nil {
		s.timer.Reset(s.opts.SweepInterval)
	}
}

// fileSize returns the size of the file and how much of it is free pages.
func (s *Store) fileSizeLocked() (size, free int64) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, 0
	}
	st := s.db.Stats()
	return fi.Size(), int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)
}

func (s *Store) mostlyFreeLocked() bool {
	size, free := s.fileSizeLocked()
	return size >= s.opts.CompactMinBytes && free >= size/2
}

// Compact rewrites the file without its free pages, so that it shrinks
// after a mass expiry: the live data is copied into a new file, which
// then replaces the old one. Reads are served from memory meanwhile;
// writes wait. The file lock is released for the moment of the swap. If
// reopening fails the store stays usable for reads and its writes fail
// with an error matching versioning.ErrStoreUnavailable.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() || s.db == nil {
		return unavailable("compact", versioning.ErrClosed)
	}
	return s.compactLocked()
}

func (s *Store) compactLocked() error {
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, s.opts.FileMode, &bolt.Options{Timeout: s.opts.Timeout})
	if err != nil {
		return unavailable("compact "+s.path, err)
	}
	if err := bolt.Compact(dst, s.db, compactTxSize); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return unavailable("compact "+s.path, err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return unavailable("compact "+s.path, err)
	}
	if err := s.db.Close(); err != nil {
		_ = os.Remove(tmp)
		s.db = nil
		return unavailable("compact "+s.path, err)
	}
	s.db = nil
	renameErr := os.Rename(tmp, s.path)
	// Reopen the file, compacted or (if the rename failed) the old one.
	db, err := openDB(s.path, &s.opts)
	if err != nil {
		return err
	}
	s.db = db
	if renameErr != nil {
		_ = os.Remove(tmp)
		return unavailable("compact "+s.path, renameErr)
	}
	s.compacts.Add(1)
	return nil
}

// Len returns the number of users with state (an epoch or a revocation)
// and of revocation entries in memory, including ended ones not yet swept.
func (s *Store) Len() (users, revocations int) { return s.users.Len() }

// Close stops the background sweep and closes the file. Later calls fail
// with an error matching versioning.ErrClosed; Close is idempotent.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.db == nil {
		return nil
	}
	var flushErr error
	if !s.db.IsReadOnly() {
		flushErr = s.flushTouchedLocked()
	}
	if err := s.db.Close(); err != nil {
		return unavailable("close "+s.path, err)
	}
	if flushErr != nil {
		return unavailable("close "+s.path+": write session last-seen times", flushErr)
	}
	return nil
}
