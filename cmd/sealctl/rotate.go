package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sealedsession/sealedsession/sealed"
)

func runRotate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("rotate", "[-keys-file FILE] [-drop KEYID]",
		"Reads the current key ring (SESSION_KEYS, or -keys-file) and prints a new ring text on stdout:\n"+
			"a fresh primary key first, then every old key, kept so that existing cookies still open.\n"+
			"Deploy it everywhere; retire an old key (-drop) once one absolute timeout has passed.", stderr)
	keysFile := fs.String("keys-file", "", "read the current ring from this file instead of SESSION_KEYS")
	var drops []string
	fs.Func("drop", "leave out the old key with this ID (repeatable)", func(s string) error {
		drops = append(drops, s)
		return nil
	})
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return usageError(fs, stderr, "takes no arguments, got %q", pos[0])
	}
	text, source := getenv("SESSION_KEYS"), "SESSION_KEYS"
	if *keysFile != "" {
		b, err := os.ReadFile(*keysFile)
		if err != nil {
			return fail(stderr, "rotate", err)
		}
		text, source = string(b), *keysFile
	}
	if strings.TrimSpace(text) == "" {
		return usageError(fs, stderr, "no current key ring: set SESSION_KEYS or pass -keys-file (use keygen for a first key)")
	}
	ring, err := sealed.ParseKeyring(strings.TrimSpace(text))
	if err != nil {
		return fail(stderr, "rotate", fmt.Errorf("%s: %w", source, err))
	}
	key, err := sealed.GenerateKey()
	if err != nil {
		return fail(stderr, "rotate", err)
	}
	if err := ring.Rotate(key); err != nil {
		return fail(stderr, "rotate", err)
	}
	for _, d := range drops {
		var id sealed.KeyID
		found := false
		for _, k := range ring.Keys() {
			if k.ID().String() == strings.ToLower(d) {
				id, found = k.ID(), true
			}
		}
		if !found {
			return fail(stderr, "rotate", fmt.Errorf("-drop %s: no such key ID in the ring", d))
		}
		if err := ring.Remove(id); err != nil {
			return fail(stderr, "rotate", err)
		}
	}
	fmt.Fprintln(stdout, ring.Export())
	fmt.Fprintf(stderr, "new primary key ID %s; ring now %s\n", key.ID(), ring)
	return exitOK
}
