package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/sealedsession/sealedsession/sealed"
)

func runRotate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("rotate", "[-keys-file FILE] [-drop KEYID]... [-one-step]",
		"Reads the current key ring (SESSION_KEYS, or -keys-file), generates a new key and prints, on\n"+
			"stdout, the two rings of a rollout in which no instance meets a cookie it cannot open:\n"+
			"  line 1, stage 1 (accept-only): the current primary first, the new key after it, then the\n"+
			"          older keys. Deploy it to every instance: the new key opens but does not seal yet.\n"+
			"  line 2, stage 2 (final): the new key first, then the old keys. Deploy it once every\n"+
			"          instance runs stage 1: the new key seals, and cookies sealed with an old key\n"+
			"          are re-sealed with it on their next response.\n"+
			"With -one-step only the final ring is printed (one line), for a single instance or a restart\n"+
			"of all instances at once. Retire an old key (-drop) once one absolute timeout has passed\n"+
			"since stage 2. Key IDs and what each line is go to stderr; stdout holds key material only.\n"+
			"Exit status: 0 done; 1 the current ring could not be read or parsed, or -drop names no key\n"+
			"(or the current primary, in two steps); 2 usage error.", stderr)
	keysFile := fs.String("keys-file", "", "read the current ring from this file instead of SESSION_KEYS")
	oneStep := fs.Bool("one-step", false, "print only the final ring (new key first), not the accept-only stage")
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
	current, err := sealed.ParseKeyring(strings.TrimSpace(text))
	if err != nil {
		return fail(stderr, "rotate", fmt.Errorf("%s: %w", source, err))
	}
	key, err := sealed.GenerateKey()
	if err != nil {
		return fail(stderr, "rotate", err)
	}
	old := current.Keys()
	keep := slices.Clone(old)
	for _, d := range drops {
		i := slices.IndexFunc(keep, func(k *sealed.Key) bool { return k.ID().String() == strings.ToLower(d) })
		switch {
		case i < 0:
			return fail(stderr, "rotate", fmt.Errorf("-drop %s: no such key ID in the ring %s", d, current))
		case keep[i] == old[0] && !*oneStep:
			return fail(stderr, "rotate", fmt.Errorf("-drop %s: that is the current primary, which still seals during stage 1; "+
				"drop it in a later rotation (or use -one-step)", d))
		}
		keep = slices.Delete(keep, i, i+1)
	}
	// Stage 2, the final ring: the new key, then the kept old keys.
	final, err := sealed.NewKeyring(key, keep...)
	if err != nil {
		return fail(stderr, "rotate", err)
	}
	if *oneStep {
		fmt.Fprintln(stdout, final.Export())
		fmt.Fprintf(stderr, "new primary key ID %s; ring now %s\n", key.ID(), final)
		return exitOK
	}
	// Stage 1, accept-only: the current primary still seals, the new key
	// comes right after it, then the older keys.
	stage1, err := sealed.NewKeyring(keep[0], append([]*sealed.Key{key}, keep[1:]...)...)
	if err != nil {
		return fail(stderr, "rotate", err)
	}
	fmt.Fprintln(stdout, stage1.Export())
	fmt.Fprintln(stdout, final.Export())
	fmt.Fprintf(stderr, "new key ID %s; stdout holds two rings, deploy them in order:\n", key.ID())
	fmt.Fprintf(stderr, "  line 1, stage 1 (accept-only) %s: deploy to every instance first\n", stage1)
	fmt.Fprintf(stderr, "  line 2, stage 2 (final)       %s: deploy once every instance runs stage 1\n", final)
	return exitOK
}
