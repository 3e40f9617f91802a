package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sealedsession/sealedsession/versioning"
)

func runBump(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("bump", "[-store S] USER",
		"Logs USER out everywhere: bumps the user's epoch in the store, so every session issued\n"+
			"to USER before now is refused by every instance that shares the store.\n"+
			"-store memory is refused (no application would see it); a bolt file that the running\n"+
			"application holds fails after about a second, saying what to do instead.\n"+
			storeExitCodes, stderr)
	store := storeFlag(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	switch {
	case len(pos) == 0:
		return usageError(fs, stderr, "missing USER")
	case len(pos) > 1:
		return usageError(fs, stderr, "one USER at a time, got %d arguments", len(pos))
	case pos[0] == "":
		return usageError(fs, stderr, "USER is empty")
	case len(pos[0]) > 255:
		return usageError(fs, stderr, "USER is %d bytes, at most 255", len(pos[0]))
	}
	user := pos[0]
	return withStore("bump", *store, stderr, func(ctx context.Context, s versioning.Store) error {
		epoch, err := s.BumpEpoch(ctx, user)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %q: epoch now %d; every earlier session of this user is refused\n", user, epoch)
		return nil
	})
}
