package main

import (
	"fmt"
	"io"

	"github.com/sealedsession/sealedsession/sealed"
)

func runKeygen(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", "", "Prints a new random key in the text form SESSION_KEYS reads, and its key ID on stderr.\n"+
		"To add it to a running ring, use rotate instead.\n"+
		"Exit status: 0 done; 1 the system's random source failed; 2 usage error.", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return usageError(fs, stderr, "takes no arguments, got %q", pos[0])
	}
	key, err := sealed.GenerateKey()
	if err != nil {
		return fail(stderr, "keygen", err)
	}
	fmt.Fprintln(stdout, key.Export())
	fmt.Fprintf(stderr, "key ID %s\n", key.ID())
	return exitOK
}
