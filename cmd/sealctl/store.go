package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sealedsession/sealedsession/internal/storespec"
	"github.com/sealedsession/sealedsession/versioning"
)

// defaultStore is the demo's default store when run from the repository root.
const defaultStore = "bolt:./data/sessions.db"

// boltLockTimeout is how long a command waits for a bolt file that another
// process holds before it gives up: the running application holds it for
// as long as it runs, so waiting longer only delays the same answer.
const boltLockTimeout = time.Second

// storeExitCodes is the exit-code text of the commands that write to -store.
const storeExitCodes = "Exit status: 0 done; 1 the store could not be opened or written (unreachable,\n" +
	"or a bolt file that the running application holds); 2 usage error (including -store memory)."

func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", defaultStore, "the application's store: bolt:PATH or redis://host:port/db")
}

// errMemoryStore refuses -store memory for a command: such a store lives
// in sealctl's own process, which no application reads.
func errMemoryStore(name string) error {
	return fmt.Errorf("-store memory is sealctl's own memory, which no running application reads: "+
		"'%s' would report success for a change nobody sees. Use the store the application uses "+
		"(redis://..., or its bolt: file), or the application's own admin page or endpoint", name)
}

// lockedHint says what to do instead when the application holds the bolt
// file that command name wants to write.
func lockedHint(name string) string {
	endpoint := "its admin endpoint"
	switch name {
	case "bump":
		endpoint = "its admin endpoint that calls Manager.ForceLogout (the demo: /admin, \"Force logout\")"
	case "revoke":
		endpoint = "its admin endpoint that calls Manager.RevokeSession (the demo: /admin, \"Revoke\" next to the session)"
	}
	return "The application keeps its bolt file open, and so to itself, while it runs: sealctl cannot\n" +
		"write it meanwhile, and the application would not see a change made behind its back. Instead:\n" +
		"  - do it through the running application: " + endpoint + ";\n" +
		"  - or stop the application, run this command, and start the application again;\n" +
		"  - or, so that tools can act while the application runs, give it a shared store (-store redis://...)."
}

// openStore opens the store named by spec (the demo's -store syntax). A
// bolt file must exist already (sealctl never creates one by accident); a
// bolt file that another process holds fails after boltLockTimeout with
// an error matching storespec.ErrLocked. readOnly opens a bolt file for
// reading only.
func openStore(spec string, readOnly bool) (versioning.Store, func() error, error) {
	s, closeFn, _, err := storespec.Open(spec, storespec.Options{
		BoltMustExist: true,
		BoltTimeout:   boltLockTimeout,
		BoltReadOnly:  readOnly,
	})
	return s, closeFn, err
}

// withStore opens -store for writing, runs fn and closes the store,
// turning errors into exit codes. -store memory is refused (exitUsage); a
// bolt file held by the running application fails (exitFailure) with
// lockedHint.
func withStore(name, spec string, stderr io.Writer, fn func(context.Context, versioning.Store) error) int {
	if spec == "memory" {
		fmt.Fprintf(stderr, "sealctl %s: %v\n", name, errMemoryStore(name))
		return exitUsage
	}
	s, closeStore, err := openStore(spec, false)
	if err != nil {
		fmt.Fprintf(stderr, "sealctl %s: %v\n", name, err)
		switch {
		case errors.Is(err, storespec.ErrUsage):
			return exitUsage
		case errors.Is(err, storespec.ErrLocked):
			fmt.Fprintln(stderr, lockedHint(name))
		}
		return exitFailure
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = fn(ctx, s)
	if cerr := closeStore(); err == nil && cerr != nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sealctl %s: %v\n", name, err)
		return exitFailure
	}
	return exitOK
}
