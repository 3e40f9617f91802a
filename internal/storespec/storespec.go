// Package storespec opens the epoch and revocation store named by a
// command-line -store value, the one syntax shared by cmd/demo and
// cmd/sealctl:
//
//	memory                      in-process only; lost on exit
//	bolt:PATH                   an embedded bbolt file
//	redis://host:port/db[?...]  a Redis server (rediss:// for TLS)
//
// A Redis URL takes go-redis's query options (dial_timeout, read_timeout,
// ...) and one of ours, min_replicas=N (redisstore.Options.MinReplicas:
// WAIT for N replicas after each write). Without dial_timeout the client
// fails fast (500 ms), since while Redis is away the store-down policy
// decides, not the dialer.
//
// No error of this package contains a password from the -store value:
// URLs are shown by [Redact], and parser messages that would quote a
// piece of the credentials are replaced by a description.
package storespec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// ErrUsage marks a -store value that does not name a store (a usage
// error, as opposed to a store that cannot be reached).
var ErrUsage = errors.New("bad -store")

// ErrLocked marks a bolt file that another process (normally the running
// application) holds: bbolt allows one writer process per file, and no
// reader while it runs. Open waits Options.BoltTimeout, then fails with
// it.
var ErrLocked = errors.New("the bolt file is in use by another process")

// Options adjusts Open.
type Options struct {
	// BoltMustExist refuses a bolt file that does not exist yet instead of
	// creating it (operator tools must not create one by accident).
	BoltMustExist bool
	// BoltTimeout is how long to wait for the bolt file's lock (another
	// process holds it while it runs). Default 1 s.
	BoltTimeout time.Duration
	// BoltReadOnly opens a bolt file for reading only (a shared lock, no
	// write to the file: its bytes and modification time stay as they
	// were); every write to the store then fails. Redis and memory stores
	// ignore it.
	BoltReadOnly bool
	// Ready bounds the Redis ping and the store's first load. Default 3 s.
	Ready time.Duration
}

// Open opens the store named by spec. close releases it (and the Redis
// client); desc describes it for a log line, without secrets.
func Open(spec string, o Options) (s versioning.Store, close func() error, desc string, err error) {
	if o.Ready == 0 {
		o.Ready = 3 * time.Second
	}
	switch {
	case spec == "memory":
		m := memstore.New(nil)
		return m, m.Close, "memory (lost on exit, not shared between processes)", nil
	case strings.HasPrefix(spec, "bolt:"):
		return openBolt(spec, o)
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		return openRedis(spec, o)
	}
	return nil, nil, "", fmt.Errorf("%w %q: want bolt:PATH, memory, or redis://host:port/db", ErrUsage, Redact(spec))
}

// Redact returns spec with the password of a URL replaced by "xxxxx", as
// [url.URL.Redacted] does, but also for a value that does not parse as a
// URL (see splitUserinfo): everything between "user:" and the last "@"
// is masked, or the whole userinfo when it has no colon, since
// redis://PASSWORD@host is a common mistake. A value without "@" is
// returned unchanged.
func Redact(spec string) string {
	prefix, user, _, hasPw, rest, ok := splitUserinfo(spec)
	if !ok {
		return spec
	}
	if hasPw {
		return prefix + user + ":xxxxx@" + rest
	}
	return prefix + "xxxxx@" + rest
}

// splitUserinfo finds the credentials of a URL-like spec by its text
// alone, so that it also works on values url.Parse refuses. The userinfo
// ends at the last "@" (url.Parse takes the last "@" of the host part,
// and a password with an unescaped "/", "?" or "#" moves the end of that
// part; see checkUserinfo) and starts after "://", else after the first
// ":" and any slashes ("redis:/u:p@h"), else at the start. The password
// is what follows the first ":" of the userinfo; without a ":", the
// whole userinfo counts as a possible password.
func splitUserinfo(spec string) (prefix, user, password string, hasPw bool, rest string, ok bool) {
	at := strings.LastIndex(spec, "@")
	if at < 0 {
		return "", "", "", false, "", false
	}
	start := 0
	if i := strings.Index(spec[:at], "://"); i >= 0 {
		start = i + 3
	} else if i := strings.Index(spec[:at], ":"); i >= 0 {
		start = i + 1
		for start < at && spec[start] == '/' {
			start++
		}
	}
	prefix, userinfo, rest := spec[:start], spec[start:at], spec[at+1:]
	if u, pw, found := strings.Cut(userinfo, ":"); found {
		return prefix, u, pw, true, rest, true
	}
	return prefix, "", userinfo, false, rest, true
}

// checkUserinfo refuses a Redis URL whose credentials cannot be told
// apart from the rest: a "/", "?" or "#" before the last "@" ends
// url.Parse's host part early, so a piece of the password would be taken
// for the host, port, path or query and quoted by error messages (and
// used as a host name). Once this passes, the userinfo is exactly what
// url.Parse takes for it, and nothing after it is secret.
func checkUserinfo(spec string) error {
	_, user, pw, _, _, ok := splitUserinfo(spec)
	if !ok || !strings.ContainsAny(user+pw, "/?#") {
		return nil
	}
	return fmt.Errorf("%w: bad Redis URL %s: a '/', '?' or '#' comes before the last '@'; "+
		"percent-encode them in the user name and password (%%2F %%3F %%23), and an '@' in a query value as %%40",
		ErrUsage, Redact(spec))
}

// urlProblem describes why a Redis URL was refused without quoting any
// part of its credentials. err is what url.Parse or redis.ParseURL said;
// specs are the forms of the URL the user gave or we derived from it.
// A url.Error quotes the whole URL, so only its inner error is used; an
// escape error quotes the bad escape, which may be in the password; and
// as a last defence any message that contains a 4-byte piece of a
// password (raw or percent-decoded) is replaced by a description.
func urlProblem(err error, specs ...string) string {
	const hint = " (percent-encode @ : / ? # % and spaces in the user name and password)"
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	creds, leaked := false, false
	for _, spec := range specs {
		if _, _, pw, _, _, ok := splitUserinfo(spec); ok {
			creds = true
			leaked = leaked || leaks(msg, pw)
		}
	}
	var esc url.EscapeError
	switch {
	case creds && errors.As(err, &esc):
		return "invalid %-escape in the URL" + hint
	case leaked:
		return "not a valid Redis URL (details withheld: they would show the password)" + hint
	}
	return msg
}

// leaks reports whether msg contains a piece of secret: any run of 4
// bytes (or all of a shorter secret), as typed or percent-decoded.
func leaks(msg, secret string) bool {
	forms := []string{secret}
	if dec, err := url.PathUnescape(secret); err == nil && dec != secret {
		forms = append(forms, dec)
	}
	for _, f := range forms {
		n := min(4, len(f))
		if n == 0 {
			continue
		}
		for i := 0; i+n <= len(f); i++ {
			if strings.Contains(msg, f[i:i+n]) {
				return true
			}
		}
	}
	return false
}

func openBolt(spec string, o Options) (versioning.Store, func() error, string, error) {
	path := strings.TrimPrefix(spec, "bolt:")
	if path == "" {
		return nil, nil, "", fmt.Errorf("%w %q: bolt: needs a file path, e.g. bolt:./data/sessions.db", ErrUsage, spec)
	}
	if o.BoltMustExist {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, "", fmt.Errorf("no store file at %s (check -store; the demo creates it on first start)", path)
		}
	}
	b, err := boltstore.Open(path, &boltstore.Options{Timeout: o.BoltTimeout, ReadOnly: o.BoltReadOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, nil, "", fmt.Errorf("-store %s: %w (it stays locked while the application that uses it runs): %w", spec, ErrLocked, err)
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("-store %s: %w", spec, err)
	}
	desc := "bolt file " + path
	if o.BoltReadOnly {
		desc += " (read-only)"
	}
	return b, b.Close, desc, nil
}

func openRedis(given string, o Options) (versioning.Store, func() error, string, error) {
	if err := checkUserinfo(given); err != nil {
		return nil, nil, "", err
	}
	spec, minReplicas, err := takeMinReplicas(given)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", ErrUsage, err)
	}
	opts, err := redis.ParseURL(spec)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: bad Redis URL %s: %s", ErrUsage, Redact(given), urlProblem(err, given, spec))
	}
	if !strings.Contains(spec, "dial_timeout=") {
		opts.DialTimeout = 500 * time.Millisecond
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), o.Ready)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, "", fmt.Errorf("redis at %s does not answer: %w", opts.Addr, err)
	}
	r, err := redisstore.New(client, &redisstore.Options{MinReplicas: minReplicas})
	if err != nil {
		_ = client.Close()
		return nil, nil, "", err
	}
	if err := r.WaitReady(ctx); err != nil {
		_ = r.Close()
		_ = client.Close()
		return nil, nil, "", fmt.Errorf("redis store not ready: %w", err)
	}
	closeBoth := func() error {
		_ = r.Close()
		return client.Close()
	}
	desc := fmt.Sprintf("redis %s db %d", opts.Addr, opts.DB)
	if minReplicas > 0 {
		desc += fmt.Sprintf(", writes wait for %d replica(s)", minReplicas)
	}
	return r, closeBoth, desc, nil
}

// takeMinReplicas removes the min_replicas query parameter from a Redis
// URL and returns it.
func takeMinReplicas(spec string) (string, int, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return "", 0, fmt.Errorf("bad Redis URL %s: %s", Redact(spec), urlProblem(err, spec))
	}
	q := u.Query()
	v := q.Get("min_replicas")
	if v == "" {
		return spec, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("min_replicas=%q: want a whole number >= 0", v)
	}
	q.Del("min_replicas")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}
