package sealed

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultWatchInterval is how often a [KeyringWatcher] polls its file
// when [WatchOptions.Interval] is 0.
const DefaultWatchInterval = 5 * time.Second

// MaxKeyringFileSize is the largest key ring file [LoadKeyringFile] and
// [WatchKeyringFile] read: room for about a thousand keys.
const MaxKeyringFileSize = 64 << 10

// racyWindow is how close to a file's modification time a read may have
// happened for the watcher to distrust an unchanged size and mtime (a
// write in the same clock tick as the previous read leaves both as they
// were on file systems with coarse timestamps).
const racyWindow = 2 * time.Second

// Replace makes r hold the keys of next, in next's order, as one atomic
// change: every Seal and Open that starts after Replace returns sees the
// new ring, and every [Sealer] using r follows it. next itself is not
// changed or kept; keys r already holds keep their cached subkeys.
//
// Replace follows the two-step rollout. It refuses, with an error that
// matches [ErrPrimaryDropped], a ring whose primary is a key r does not
// hold (not rolled out accept-only first) unless r's current primary is
// still in next, as an accept-only key: otherwise envelopes sealed a
// moment ago by this instance, or by others still on the old ring, would
// stop opening at once. A key of next with the ID of a key of r but a
// different secret is [ErrDuplicateKey]. On any error r is unchanged.
// Retiring an old key (leaving it out of next) is allowed, as with
// [Keyring.Remove]. Replace is safe for concurrent use.
func (r *Keyring) Replace(next *Keyring) error {
	_, err := r.replace(next)
	return err
}

// replace is Replace, also reporting whether the ring changed.
func (r *Keyring) replace(next *Keyring) (bool, error) {
	if next == nil || next.state.Load() == nil {
		return false, ErrEmptyKeyring
	}
	nks := next.state.Load().keys
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.state.Load()
	keys := make([]*Key, len(nks))
	same := len(nks) == len(old.keys)
	for i, k := range nks {
		o, j := old.lookup(k.id)
		switch {
		case o == nil:
			keys[i] = k
		case !o.equal(k):
			return false, fmt.Errorf("%w: position %d of the new ring has the same key ID (%s) as position %d of the current ring but another secret; generate another key", ErrDuplicateKey, i+1, k.id, j+1)
		default:
			keys[i] = o // keep the pointer, so Sealers reuse their cached AEAD
		}
		same = same && keys[i] == old.keys[i]
	}
	if same {
		return false, nil
	}
	if _, i := old.lookup(keys[0].id); i < 0 {
		if _, j := (&ringState{keys: keys}).lookup(old.keys[0].id); j < 0 {
			return false, fmt.Errorf("%w: the new primary %s is not in the current ring and the current primary %s is not in the new one; list the new key after %s first (accept-only), then promote it",
				ErrPrimaryDropped, keys[0].id, old.keys[0].id, old.keys[0].id)
		}
	}
	r.state.Store(&ringState{keys: keys})
	return true, nil
}

// LoadKeyringFile reads a key ring from the file at path, in the text
// form [ParseKeyring] reads (white space, including a final newline, is
// ignored around each key). A file larger than [MaxKeyringFileSize] is
// refused. Errors name the path and wrap those of ParseKeyring or of the
// file system; they never contain the file's contents.
func LoadKeyringFile(path string) (*Keyring, error) {
	b, err := readKeyringFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseKeyring(string(b))
	if err != nil {
		return nil, fmt.Errorf("sealed: key ring file %s: %w", path, err)
	}
	return r, nil
}

// KeyringFromEnv parses the key ring in the environment variable name
// (see [ParseKeyring]), once: the environment of a running process does
// not change, so rotating keys held there needs a restart (or a key ring
// file and [WatchKeyringFile]). An unset or empty variable is
// [ErrEmptyKeyring]. Errors name the variable, never its value.
func KeyringFromEnv(name string) (*Keyring, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrEmptyKeyring, name)
	}
	r, err := ParseKeyring(v)
	if err != nil {
		return nil, fmt.Errorf("sealed: environment variable %s: %w", name, err)
	}
	return r, nil
}

// readKeyringFile reads at most MaxKeyringFileSize bytes of path.
func readKeyringFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sealed: key ring file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyringFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("sealed: key ring file: %w", err)
	}
	if len(b) > MaxKeyringFileSize {
		return nil, fmt.Errorf("%w: key ring file %s is larger than %d bytes", ErrInvalidKey, path, MaxKeyringFileSize)
	}
	return b, nil
}

// WatchOptions configures [WatchKeyringFile]. A nil *WatchOptions means
// the defaults.
type WatchOptions struct {
	// Interval is how often the file is polled for a change (its size and
	// modification time, then a hash of its contents). 0 means
	// [DefaultWatchInterval]; a negative Interval turns polling off, so
	// that only [KeyringWatcher.Reload] reloads (for example from a
	// SIGHUP handler).
	Interval time.Duration

	// OnReload, if set, is called after each reload attempt that found
	// new file contents (applied or refused), after a polled file became
	// unreadable, and after every call of [KeyringWatcher.Reload]. It is
	// called from the polling goroutine or from Reload's caller, one call
	// at a time, and must not call Reload or Close.
	OnReload func(KeyringReload)
}

// KeyringReload reports one reload of a [KeyringWatcher]'s file. It holds
// key IDs only, never key material.
type KeyringReload struct {
	// Path is the watched file.
	Path string
	// Changed reports whether the ring was replaced.
	Changed bool
	// Keyring describes the ring in use after the reload, as
	// [Keyring.String] does: key IDs, the primary marked with "*".
	Keyring string
	// Err is nil when the file was applied or had not changed. Otherwise
	// the ring was kept as it was, and Err says why: the file could not be
	// read, did not parse (it wraps [ErrInvalidKey], [ErrEmptyKeyring] or
	// [ErrDuplicateKey]), or would drop the primary ([ErrPrimaryDropped]).
	Err error
}

// KeyringWatcher keeps a [Keyring] in step with a key ring file, so that
// keys can be rotated without restarting the program: it polls the file
// and reloads it when it changes, and [KeyringWatcher.Reload] reloads it
// at once. Each reload goes through [Keyring.Replace]: it is atomic, it
// keeps the ring as it was if the file is unreadable, malformed or would
// drop the primary without an accept-only step, and every [Sealer] made
// from the ring follows it. Create one with [WatchKeyringFile].
//
// Write the file atomically (write a temporary file in the same
// directory, then rename it over the old one), as Kubernetes does with
// mounted secrets; a reader that sees a half-written file refuses it and
// tries again at the next change.
type KeyringWatcher struct {
	ring     *Keyring
	path     string
	onReload func(KeyringReload)

	mu      sync.Mutex // serialises reloads and OnReload calls
	stamp   fileStamp  // of the file when last read
	readAt  time.Time  // when it was last read
	hash    [sha256.Size]byte
	pollErr string // the failure last reported by a poll, reported once

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// fileStamp is what a poll compares before reading a file.
type fileStamp struct {
	size int64
	mod  time.Time
}

// WatchKeyringFile loads the key ring in the file at path (see
// [LoadKeyringFile]) and, unless opts.Interval is negative, starts a
// goroutine that polls the file and reloads it when it changes. Use
// [KeyringWatcher.Keyring] as the ring of every Sealer (or
// httpx.Config.Keys), and call [KeyringWatcher.Close] to stop polling. A
// file that cannot be loaded at start is an error: there is no ring to
// keep.
func WatchKeyringFile(path string, opts *WatchOptions) (*KeyringWatcher, error) {
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	if o.Interval == 0 {
		o.Interval = DefaultWatchInterval
	}
	w := &KeyringWatcher{path: path, onReload: o.OnReload, stop: make(chan struct{}), done: make(chan struct{})}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sealed: key ring file: %w", err)
	}
	b, err := readKeyringFile(path)
	if err != nil {
		return nil, err
	}
	if w.ring, err = ParseKeyring(string(b)); err != nil {
		return nil, fmt.Errorf("sealed: key ring file %s: %w", path, err)
	}
	w.stamp, w.readAt, w.hash = stampOf(st), time.Now(), sha256.Sum256(b)
	clear(b)
	if o.Interval < 0 {
		close(w.done)
		return w, nil
	}
	go w.poll(o.Interval)
	return w, nil
}

// Keyring returns the ring the watcher keeps current. It is the same
// *Keyring for the watcher's whole life.
func (w *KeyringWatcher) Keyring() *Keyring { return w.ring }

// Reload reads the file now and applies it (see [Keyring.Replace]), even
// if polling saw the same contents before (so a ring changed since by
// Rotate or Remove is set back to the file's). It returns nil when the
// file was applied or matched the ring already, and otherwise an error,
// with the ring kept as it was; either way OnReload is called. It is safe to call at any time, including from
// a signal handler's goroutine and after Close.
func (w *KeyringWatcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := w.load(true)
	w.report(ev)
	return ev.Err
}

// Close stops polling and waits for the polling goroutine to return. It
// does not change the ring, which stays usable. Close is idempotent and
// always returns nil.
func (w *KeyringWatcher) Close() error {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	return nil
}

// poll checks the file every interval until Close.
func (w *KeyringWatcher) poll(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.pollOnce()
		}
	}
}

// pollOnce reloads the file if its size or modification time changed,
// or if it was last read so soon after its modification that a later
// write could have left both unchanged.
func (w *KeyringWatcher) pollOnce() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ev KeyringReload
	if st, err := os.Stat(w.path); err != nil {
		ev.Err = fmt.Errorf("sealed: key ring file: %w; keeping %s", err, w.ring)
	} else if s := stampOf(st); s == w.stamp && w.readAt.Sub(s.mod) >= racyWindow {
		return
	} else {
		ev = w.load(false)
	}
	if ev.Err == nil {
		w.pollErr = ""
		if ev.Changed {
			w.report(ev)
		}
		return
	}
	// A failure is reported once, not on every poll while it lasts.
	if msg := ev.Err.Error(); msg != w.pollErr {
		w.pollErr = msg
		w.report(ev)
	}
}

// load reads the file and applies it if its hash differs from the last
// one read (or always, when force is set and the last attempt failed).
// Contents seen before, applied or refused, are not tried again unless
// force is set.
func (w *KeyringWatcher) load(force bool) KeyringReload {
	st, err := os.Stat(w.path)
	if err != nil {
		return KeyringReload{Err: fmt.Errorf("sealed: key ring file: %w; keeping %s", err, w.ring)}
	}
	readAt := time.Now()
	b, err := readKeyringFile(w.path)
	if err != nil {
		return KeyringReload{Err: fmt.Errorf("%w; keeping %s", err, w.ring)}
	}
	defer clear(b)
	h := sha256.Sum256(b)
	seen := bytes.Equal(h[:], w.hash[:])
	w.stamp, w.readAt, w.hash = stampOf(st), readAt, h
	if seen && !force {
		return KeyringReload{}
	}
	next, err := ParseKeyring(string(b))
	if err != nil {
		return KeyringReload{Err: fmt.Errorf("sealed: key ring file %s: %w; keeping %s", w.path, err, w.ring)}
	}
	changed, err := w.ring.replace(next)
	if err != nil {
		return KeyringReload{Err: fmt.Errorf("sealed: key ring file %s: %w; keeping %s", w.path, err, w.ring)}
	}
	return KeyringReload{Changed: changed}
}

// report fills in the common fields of ev and calls OnReload.
func (w *KeyringWatcher) report(ev KeyringReload) {
	if w.onReload == nil {
		return
	}
	ev.Path = w.path
	ev.Keyring = w.ring.String()
	w.onReload(ev)
}

func stampOf(st os.FileInfo) fileStamp {
	return fileStamp{size: st.Size(), mod: st.ModTime()}
}
