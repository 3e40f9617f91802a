// Package boltstore is a durable [versioning.Store] in one bbolt file
// (go.etcd.io/bbolt), for an application that runs as a single process on
// one machine. It is the demo's default store.
//
// # Durability and speed
//
// Every write (BumpEpoch, BumpGlobalEpoch, Revoke) is committed and synced
// to the file before it returns, so a bump survives a crash or restart.
// The whole store is small (one counter per user who was ever force-logged
// out, plus live revocations), so Open loads it into memory and reads
// (Epoch, IsRevoked: the request path) are served from that mirror without
// touching the file. This is only correct while one process owns the file,
// which bbolt's exclusive file lock enforces: a second Open of the same
// file waits Options.Timeout and then fails.
//
// # File layout
//
// Bucket "epochs": key "u" + user ID, value the user's counter (8 bytes,
// big-endian). Bucket "global": key "epoch", the global counter. Bucket
// "revocations": key the 16-byte session ID, value the expiry time in Unix
// nanoseconds (8 bytes, big-endian). Bucket "sessions" (the
// versioning.SessionTracker ability): key "u" + user ID, value the user's
// live sessions as a JSON array. Bucket "meta": key "format", value 1.
// Expired revocations are ignored on load and deleted at Open and,
// amortised, on later writes.
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
)

// DefaultTimeout is how long Open waits for the file lock by default.
const DefaultTimeout = time.Second

// minSweep is the revocation count below which no sweep runs (a variable
// so that tests can lower it).
var minSweep = 1024

var (
	bucketEpochs  = []byte("epochs")
	bucketGlobal  = []byte("global")
	bucketRevoked = []byte("revocations")
	bucketMeta    = []byte("meta")
	keyGlobal     = []byte("epoch")
	keyFormat     = []byte("format")
)

const formatVersion = 1

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

	// openFile replaces os.OpenFile in tests (simulating unwritable files).
	openFile func(string, int, os.FileMode) (*os.File, error)
}

// Store is a versioning.Store backed by a bbolt file. It is safe for
// concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	now    func() time.Time
	closed atomic.Bool

	wmu sync.Mutex // serialises writes: file commit then mirror update

	mu        sync.RWMutex // guards the mirror below
	epochs    map[string]uint64
	global    uint64
	revoked   map[codec.SessionID]int64
	nrevoked  atomic.Int64
	nextSweep int
	sessions  map[string][]versioning.SessionInfo // versioning.SessionTracker; lists are never modified in place
	touched   map[string]bool                     // users whose LastSeen changed in memory only
}

var _ versioning.Store = (*Store)(nil)

// unavailable wraps err so that it matches versioning.ErrStoreUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("boltstore: %s: %w (%w)", op, err, versioning.ErrStoreUnavailable)
}

// Open opens or creates the store file at path and loads it into memory.
// Errors (file cannot be created, opened or locked in time, is not a bbolt
// file, or holds malformed entries) match versioning.ErrStoreUnavailable
// and name the path.
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
	db, err := bolt.Open(path, o.FileMode, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, OpenFile: o.openFile})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%w (file locked by another process or Open)", err)
		}
		return nil, unavailable("open "+path, err)
	}
	s := &Store{
		db:        db,
		path:      path,
		now:       o.Now,
		epochs:    make(map[string]uint64),
		revoked:   make(map[codec.SessionID]int64),
		nextSweep: minSweep,
		sessions:  make(map[string][]versioning.SessionInfo),
		touched:   make(map[string]bool),
	}
	if err := s.load(o.ReadOnly); err != nil {
		_ = db.Close()
		return nil, unavailable("load "+path, err)
	}
	return s, nil
}

// load creates the buckets (unless read-only), deletes expired
// revocations and fills the mirror.
func (s *Store) load(readOnly bool) error {
	now := s.now().UnixNano()
	fill := func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			if v := b.Get(keyFormat); v != nil && (len(v) != 8 || binary.BigEndian.Uint64(v) != formatVersion) {
				return errors.New("unknown store format")
			}
		}
		if b := tx.Bucket(bucketGlobal); b != nil {
			if v := b.Get(keyGlobal); v != nil {
				if len(v) != 8 {
					return errors.New("malformed global epoch")
				}
				s.global = binary.BigEndian.Uint64(v)
			}
		}
		if b := tx.Bucket(bucketEpochs); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				if len(k) == 0 || k[0] != 'u' || len(v) != 8 {
					return errors.New("malformed epoch entry")
				}
				s.epochs[string(k[1:])] = binary.BigEndian.Uint64(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketRevoked); b != nil {
			var expired [][]byte
			err := b.ForEach(func(k, v []byte) error {
				if len(k) != len(codec.SessionID{}) || len(v) != 8 {
					return errors.New("malformed revocation entry")
				}
				u := int64(binary.BigEndian.Uint64(v))
				if u <= now {
					expired = append(expired, append([]byte(nil), k...))
					return nil
				}
				s.revoked[codec.SessionID(k)] = u
				return nil
			})
			if err != nil {
				return err
			}
			if tx.Writable() {
				for _, k := range expired {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
			}
		}
		s.nrevoked.Store(int64(len(s.revoked)))
		s.nextSweep = max(2*len(s.revoked), minSweep)
		return loadSessions(tx, time.Unix(0, now), s.sessions)
	}
	if readOnly {
		return s.db.View(fill)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEpochs, bucketGlobal, bucketRevoked, bucketMeta, bucketSessions} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keyFormat, binary.BigEndian.AppendUint64(nil, formatVersion)); err != nil {
			return err
		}
		return fill(tx)
	})
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
	s.mu.RLock()
	e := s.epochs[userID] + s.global
	s.mu.RUnlock()
	return e, nil
}

// IsRevoked reports from memory whether id is revoked and not expired.
func (s *Store) IsRevoked(ctx context.Context, id codec.SessionID) (bool, error) {
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	if s.nrevoked.Load() == 0 {
		return false, nil
	}
	s.mu.RLock()
	u, ok := s.revoked[id]
	s.mu.RUnlock()
	return ok && s.now().UnixNano() < u, nil
}

// write runs fn in a synced bbolt transaction, serialised with the other
// writes, and then apply (under the mirror's lock) if it committed.
func (s *Store) write(ctx context.Context, op string, fn func(tx *bolt.Tx) error, apply func()) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return unavailable(op, versioning.ErrClosed)
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

func counter(b *bolt.Bucket, k []byte) (uint64, error) {
	v := b.Get(k)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, errors.New("malformed counter")
}

// BumpEpoch increments the user's counter in the file (synced) and then in
// memory, and returns the new effective epoch.
func (s *Store) BumpEpoch(ctx context.Context, userID string) (uint64, error) {
	var n, e uint64
	k := userKey(userID)
	err := s.write(ctx, "bump epoch", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEpochs)
		c, err := counter(b, k)
		if err != nil {
			return err
		}
		n = c + 1
		return b.Put(k, binary.BigEndian.AppendUint64(nil, n))
	}, func() {
		s.epochs[userID] = n
		e = n + s.global
	})
	if err != nil {
		return 0, err
	}
	return e, nil
}

// BumpGlobalEpoch increments the global counter in the file (synced) and
// then in memory.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	var n uint64
	return s.write(ctx, "bump global epoch", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGlobal)
		c, err := counter(b, keyGlobal)
		if err != nil {
			return err
		}
		n = c + 1
		return b.Put(keyGlobal, binary.BigEndian.AppendUint64(nil, n))
	}, func() { s.global = n })
}

// Revoke records id as revoked until the given time in the file (synced)
// and in memory, keeping the later time if id is already revoked. An until
// not after now records nothing. Expired entries are swept, amortised, on
// these writes.
func (s *Store) Revoke(ctx context.Context, id codec.SessionID, until time.Time) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now().UnixNano()
	u := until.UnixNano()
	if u <= now {
		return nil
	}
	s.mu.RLock()
	old, ok := s.revoked[id]
	sweep := len(s.revoked) >= s.nextSweep
	s.mu.RUnlock()
	if ok && old >= u && !sweep {
		return nil
	}
	return s.write(ctx, "revoke", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevoked)
		if sweep {
			if err := sweepBucket(b, now); err != nil {
				return err
			}
		}
		if v := b.Get(id[:]); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= u {
			return nil
		}
		return b.Put(id[:], binary.BigEndian.AppendUint64(nil, uint64(u)))
	}, func() {
		if old, ok := s.revoked[id]; !ok || old < u {
			s.revoked[id] = u
		}
		if sweep {
			s.sweepMirror(now)
		}
		s.nrevoked.Store(int64(len(s.revoked)))
	})
}

func sweepBucket(b *bolt.Bucket, now int64) error {
	var expired [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= now {
			expired = append(expired, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) sweepMirror(now int64) {
	for id, u := range s.revoked {
		if u <= now {
			delete(s.revoked, id)
		}
	}
	s.nextSweep = max(2*len(s.revoked), minSweep)
}

// Sweep deletes every expired revocation from the file and from memory
// now, and returns how many remain. The store sweeps by itself; Sweep is
// for tests and operators.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.now().UnixNano()
	var n int
	err := s.write(ctx, "sweep", func(tx *bolt.Tx) error {
		return sweepBucket(tx.Bucket(bucketRevoked), now)
	}, func() {
		s.sweepMirror(now)
		s.nrevoked.Store(int64(len(s.revoked)))
		n = len(s.revoked)
	})
	return n, err
}

// Close closes the file. Later calls fail with an error matching
// versioning.ErrClosed; Close is idempotent.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Swap(true) {
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
