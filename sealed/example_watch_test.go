//go:build unix

package sealed_test

import (
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sealedsession/sealedsession/sealed"
)

// writeKeys replaces the key ring file atomically: a temporary file in the
// same directory, renamed over the old one.
func writeKeys(path string, keys ...*sealed.Key) {
	ring, err := sealed.NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		log.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(ring.Export()+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		log.Fatal(err)
	}
}

// A program reads its key ring from a file (for example a mounted secret)
// and follows rotations without a restart: the watcher polls the file, and
// a SIGHUP reloads it at once. A ring that would drop the primary without
// an accept-only step is refused and the old ring kept.
func ExampleWatchKeyringFile() {
	dir, err := os.MkdirTemp("", "keys")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "session-keys")
	oldKey, newKey := exampleKey(1), exampleKey(2)
	writeKeys(path, oldKey)

	reloads := make(chan sealed.KeyringReload, 1)
	w, err := sealed.WatchKeyringFile(path, &sealed.WatchOptions{
		Interval: time.Minute, // the SIGHUP below is quicker
		OnReload: func(r sealed.KeyringReload) {
			// Log it: r holds key IDs only, never key material.
			reloads <- r
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	// w.Keyring() is what the Sealers (httpx.Config.Keys) use; it stays
	// the same *Keyring while its keys change.
	sealer, err := sealed.NewSealer(w.Keyring(), "cookie", nil)
	if err != nil {
		log.Fatal(err)
	}

	// Reload on SIGHUP.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = w.Reload() // the error also reaches OnReload
		}
	}()
	sighup := func() {
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP) // what `kill -HUP <pid>` does
		r := <-reloads
		fmt.Println(r.Keyring, r.Changed, r.Err != nil)
	}

	// Skipping the accept-only step is refused.
	writeKeys(path, newKey)
	sighup()
	// The two-step rollout: the new key accept-only, then primary.
	writeKeys(path, oldKey, newKey)
	sighup()
	writeKeys(path, newKey, oldKey)
	sighup()

	text, _ := sealer.Seal(nil, []byte("hello"), nil)
	_, info, err := sealer.Open(nil, text, nil)
	fmt.Println(info.KeyID == newKey.ID(), err)
	// Output:
	// sealed.Keyring[e67ad885*] false true
	// sealed.Keyring[e67ad885* 7b59d51c] true false
	// sealed.Keyring[7b59d51c* e67ad885] true false
	// true <nil>
}
