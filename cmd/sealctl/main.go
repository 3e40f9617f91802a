// Command sealctl is the operator tool for sealedsession: it generates and
// rotates keys, inspects session cookies, and bumps user epochs or revokes
// session IDs in the store the application uses.
//
// Usage:
//
//	sealctl keygen                       print a new key (its ID on stderr)
//	sealctl rotate [-keys-file F]        print the two rings of a rollout: accept-only, then final
//	sealctl inspect [flags] [VALUE...]   open a session cookie (or -header: a Cookie header line)
//	sealctl bump [-store S] USER         log USER out everywhere (bump the user's epoch)
//	sealctl revoke -user U [-store S] [-idle D -absolute D -skew D | -until T] SESSIONID
//	                                     refuse one session ID until it could no longer be used
//
// bump and revoke refuse -store memory (sealctl's own memory, which no
// application reads), and fail after about a second, saying what to do
// instead, on a bolt file that the running application holds.
//
// Exit codes: 0 success (inspect: the session is current), 1 failure or a
// session that is expired, refused or not openable, 2 usage error. Each
// command's -h lists its own.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command may read from the process environment; tests
// replace it.
var getenv = os.Getenv

type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = []command{
	{"keygen", "print a new key text on stdout (its ID on stderr)", runKeygen},
	{"rotate", "print the rings of a key rollout: accept-only (stage 1), then final (stage 2)", runRotate},
	{"inspect", "open a session cookie or Cookie header and print it as JSON", runInspect},
	{"bump", "log a user out everywhere: bump USER's epoch in -store", runBump},
	{"revoke", "refuse one session ID (from inspect) until it could no longer be used", runRevoke},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sealctl COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'sealctl COMMAND -h' for a command's flags. Keys come from SESSION_KEYS.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failure or refused, 2 usage error; 'sealctl COMMAND -h' has the details.")
}

// run runs sealctl with args (without the program name) and returns the
// exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "sealctl: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// newFlags returns a flag set for command name whose usage line is
// "sealctl name synopsis".
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sealctl %s %s\n\n%s\n", name, synopsis, about)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseArgs parses flags that may come before or after the positional
// arguments ("revoke ID -until 2h" as well as "revoke -until 2h ID") and
// returns the positional arguments. A lone "-" is positional (stdin).
// It returns errHelp for -h and an error already reported for bad flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageError reports a usage problem for fs and returns exitUsage.
func usageError(fs *flag.FlagSet, stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "sealctl %s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fmt.Fprintf(stderr, "Run 'sealctl %s -h' for usage.\n", fs.Name())
	return exitUsage
}

// flagExit turns a flag parsing error into an exit code: 0 for -h (usage
// was printed on request), 2 otherwise (the flag package printed the error).
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// fail prints an error for command name and returns exitFailure.
func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "sealctl %s: %v\n", name, err)
	return exitFailure
}
