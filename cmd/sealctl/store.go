package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/sealedsession/sealedsession/internal/storespec"
	"github.com/sealedsession/sealedsession/versioning"
)

// defaultStore is the demo's default store when run from the repository root.
const defaultStore = "bolt:./data/sessions.db"

func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", defaultStore, "the application's store: bolt:PATH, redis://host:port/db, or memory (only useful for tests)")
}

// openStore opens the store named by spec (the demo's -store syntax). A
// bolt file must exist already: sealctl never creates one by accident.
func openStore(spec string) (versioning.Store, func() error, error) {
	s, closeFn, _, err := storespec.Open(spec, storespec.Options{BoltMustExist: true, BoltTimeout: 2 * time.Second})
	return s, closeFn, err
}

// withStore opens -store, runs fn and closes the store, turning errors into
// exit codes.
func withStore(name, spec string, stderr interface{ Write([]byte) (int, error) }, fn func(context.Context, versioning.Store) error) int {
	s, closeStore, err := openStore(spec)
	if err != nil {
		fmt.Fprintf(stderr, "sealctl %s: %v\n", name, err)
		if errors.Is(err, storespec.ErrUsage) {
			return exitUsage
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
