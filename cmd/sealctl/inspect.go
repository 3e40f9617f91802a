package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/storespec"
	"github.com/sealedsession/sealedsession/internal/wire"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

// The wire rules (purpose, associated-data contexts, chunk names) come
// from package httpx, so inspect opens exactly what the middleware writes.
const (
	maxChunks     = httpx.HardMaxChunks
	maxInputBytes = 64 << 10
)

// Status values inspect reports.
const (
	statusCurrent     = "current"      // opened, within its timeouts (and not revoked or bumped, with -store)
	statusExpired     = "expired"      // opened, past its idle or absolute deadline
	statusRefused     = "refused"      // opened, but revoked, epoch bumped, issued in the future or of an unknown format
	statusNotOpenable = "not_openable" // could not be joined, decoded or authenticated
	statusUnverified  = "unverified"   // no SESSION_KEYS: only the envelope was read
)

type envelopeJSON struct {
	Version     int    `json:"version"`
	KeyID       string `json:"key_id"`
	SealedBytes int    `json:"sealed_bytes"`
	Chunks      int    `json:"chunks"`
	Context     string `json:"context"`
}

type headerJSON struct {
	Version    uint8     `json:"version"`
	Flags      uint8     `json:"flags"`
	SessionID  string    `json:"session_id"`
	SessionTag string    `json:"session_tag"`
	IssuedAt   time.Time `json:"issued_at"`
	LastSeen   time.Time `json:"last_seen"`
	Generation uint32    `json:"generation"`
	UserEpoch  uint64    `json:"user_epoch"`
	User       string    `json:"user"`
}

type inspectJSON struct {
	Status           string            `json:"status"`
	Reason           string            `json:"reason,omitempty"`
	Envelope         *envelopeJSON     `json:"envelope,omitempty"`
	KeyPrimary       *bool             `json:"key_is_primary,omitempty"`
	Header           *headerJSON       `json:"header,omitempty"`
	IdleDeadline     *time.Time        `json:"idle_deadline,omitempty"`
	AbsoluteDeadline *time.Time        `json:"absolute_deadline,omitempty"`
	StoreChecked     bool              `json:"store_checked"`
	Values           map[string]any    `json:"values,omitempty"`
	ValueErrors      map[string]string `json:"value_errors,omitempty"`
}

func runInspect(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("inspect", "[flags] [VALUE...|-]",
		"Opens a session cookie and prints its header and values as JSON, and whether it is\n"+
			"current, expired, refused or not openable (and why). VALUE is the cookie value (several\n"+
			"values are chunks in order; NAME=VALUE is accepted); with -header it is a whole Cookie\n"+
			"header line, whose chunk cookies are found and joined. No VALUE or \"-\" reads stdin.\n"+
			"Needs SESSION_KEYS to open; without it only the envelope's version and key ID are shown.\n"+
			"With -store bolt:PATH the file is opened read-only (it is not modified); while the application\n"+
			"runs it holds the file, and inspect fails after about a second instead of waiting.\n"+
			"Exit status: 0 current (or unverified: no SESSION_KEYS); 1 expired, refused or not openable,\n"+
			"or the store could not be opened; 2 usage error.", stderr)
	header := fs.Bool("header", false, "the input is a Cookie header line (\"Cookie: a=b; c=d\" or \"a=b; c=d\")")
	name := fs.String("name", "__Host-session", "the session cookie's base name")
	bearer := fs.Bool("bearer", false, "the input is an Authorization: Bearer token, not a cookie")
	idle := fs.Duration("idle", 30*time.Minute, "the application's idle timeout")
	absolute := fs.Duration("absolute", 24*time.Hour, "the application's absolute timeout")
	skew := fs.Duration("skew", 30*time.Second, "tolerated clock skew for times in the future")
	store := fs.String("store", "", "also check revocation and user epoch in this store (bolt:PATH, opened read-only, or redis://...); default: not checked")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if *header && *bearer {
		return usageError(fs, stderr, "-header and -bearer exclude each other")
	}
	if *name == "" || strings.ContainsAny(*name, "=; \t") {
		return usageError(fs, stderr, "-name %q is not a cookie name", *name)
	}
	if *idle <= 0 || *absolute <= 0 || *idle > *absolute {
		return usageError(fs, stderr, "-idle and -absolute must be positive and -idle at most -absolute")
	}
	if *store == "memory" {
		return usageError(fs, stderr, "-store memory is sealctl's own, empty memory, which says nothing about any application's sessions; name the application's store (bolt:PATH or redis://...)")
	}

	var inputs []string
	if len(pos) == 0 || (len(pos) == 1 && pos[0] == "-") {
		b, err := io.ReadAll(io.LimitReader(stdin, maxInputBytes+1))
		if err != nil {
			return fail(stderr, "inspect", err)
		}
		if len(b) > maxInputBytes {
			return fail(stderr, "inspect", fmt.Errorf("input longer than %d bytes", maxInputBytes))
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 0, 4096), maxInputBytes+1)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				inputs = append(inputs, l)
			}
		}
	} else {
		inputs = pos
	}
	if len(inputs) == 0 {
		return usageError(fs, stderr, "no cookie value given (as an argument or on stdin)")
	}

	out := inspectJSON{}
	text, n, err := joinInput(inputs, *name, *header, *bearer)
	if err != nil {
		return report(stdout, stderr, &out, statusNotOpenable, err.Error())
	}
	ctxText := "cookie " + *name + fmt.Sprintf(", %d chunk(s)", n)
	ad := wire.CookieContext(*name, n)
	if *bearer {
		ctxText, ad = "Authorization: Bearer token", []byte(wire.BearerContext)
	}
	env, err := readEnvelope(text)
	if err != nil {
		return report(stdout, stderr, &out, statusNotOpenable, err.Error())
	}
	env.Chunks, env.Context = n, ctxText
	out.Envelope = env

	keysText := strings.TrimSpace(getenv("SESSION_KEYS"))
	if keysText == "" {
		out.Status = statusUnverified
		out.Reason = "SESSION_KEYS is not set: only the envelope was read, nothing was authenticated"
		return writeJSON(stdout, stderr, &out, exitOK)
	}
	ring, err := sealed.ParseKeyring(keysText)
	if err != nil {
		return fail(stderr, "inspect", fmt.Errorf("SESSION_KEYS: %w", err))
	}
	sealer, err := sealed.NewSealer(ring, wire.SealPurpose, &sealed.SealerOptions{MaxSize: maxInputBytes})
	if err != nil {
		return fail(stderr, "inspect", err)
	}
	pt, info, err := sealer.Open(nil, []byte(text), ad)
	if err != nil {
		return report(stdout, stderr, &out, statusNotOpenable, openReason(err, env.KeyID, *bearer))
	}
	primary := info.Primary
	out.KeyPrimary = &primary
	p, err := codec.Decode(pt, nil)
	if err != nil {
		return report(stdout, stderr, &out, statusNotOpenable, "authenticated, but the payload does not decode: "+err.Error())
	}
	h := p.Header()
	out.Header = &headerJSON{
		Version: h.Version, Flags: h.Flags, SessionID: h.ID.String(), SessionTag: h.ID.Tag(),
		IssuedAt: h.IssuedAt.UTC(), LastSeen: h.LastSeen.UTC(), Generation: h.Generation,
		UserEpoch: h.UserEpoch, User: h.UserID,
	}
	out.Values, out.ValueErrors = decodeValues(p)

	var st versioning.Store
	if *store != "" {
		s, closeStore, err := openStore(*store, true)
		if err != nil {
			fmt.Fprintf(stderr, "sealctl inspect: %v\n", err)
			switch {
			case errors.Is(err, storespec.ErrUsage):
				return exitUsage
			case errors.Is(err, storespec.ErrLocked):
				fmt.Fprintln(stderr, "The running application holds its bolt file and lets no other process read it. Inspect\n"+
					"without -store (revocation and epoch are then not checked), stop the application first, or give\n"+
					"it a shared store (-store redis://...) that tools can read while it runs.")
			}
			return exitFailure
		}
		defer func() { _ = closeStore() }()
		st = s
		out.StoreChecked = true
	}
	checker, err := versioning.NewChecker(versioning.Policy{IdleTimeout: *idle, AbsoluteTimeout: *absolute, ClockSkew: *skew},
		versioning.CheckerOptions{Store: st})
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	idleAt, absAt := checker.IdleDeadline(h).UTC(), checker.AbsoluteDeadline(h).UTC()
	out.IdleDeadline, out.AbsoluteDeadline = &idleAt, &absAt
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	verdict, err := checker.CheckAt(ctx, h, time.Now())
	switch {
	case verdict != versioning.Rejected:
		out.Status = statusCurrent
		if !primary {
			out.Reason = "sealed with an older key: the application re-seals it with the primary on its next response"
		}
		return writeJSON(stdout, stderr, &out, exitOK)
	case errors.Is(err, versioning.ErrStoreUnavailable):
		return fail(stderr, "inspect", err)
	case errors.Is(err, versioning.ErrIdleExpired):
		return report(stdout, stderr, &out, statusExpired, fmt.Sprintf("idle timeout: last seen %s, idle deadline %s (-idle %v)", out.Header.LastSeen.Format(time.RFC3339), idleAt.Format(time.RFC3339), *idle))
	case errors.Is(err, versioning.ErrAbsoluteExpired):
		return report(stdout, stderr, &out, statusExpired, fmt.Sprintf("absolute timeout: issued %s, absolute deadline %s (-absolute %v)", out.Header.IssuedAt.Format(time.RFC3339), absAt.Format(time.RFC3339), *absolute))
	default:
		return report(stdout, stderr, &out, statusRefused, err.Error())
	}
}

// report sets status and reason, prints the JSON and a one-line summary on
// stderr, and returns exitFailure.
func report(stdout, stderr io.Writer, out *inspectJSON, status, reason string) int {
	out.Status, out.Reason = status, reason
	code := writeJSON(stdout, stderr, out, exitFailure)
	fmt.Fprintf(stderr, "sealctl inspect: %s: %s\n", status, reason)
	return code
}

func writeJSON(stdout, stderr io.Writer, v any, code int) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(stderr, "inspect", err)
	}
	return code
}

// joinInput returns the sealed text and the number of chunks it came in.
func joinInput(inputs []string, name string, header, bearer bool) (string, int, error) {
	if header {
		return joinHeader(strings.Join(inputs, "; "), name)
	}
	if bearer {
		if len(inputs) != 1 {
			return "", 0, errors.New("a Bearer token is one value")
		}
		v := strings.TrimSpace(inputs[0])
		if k, rest, ok := strings.Cut(v, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "authorization") {
			v = strings.TrimSpace(rest)
		}
		if tok, ok := wire.ParseBearer(v); ok {
			v = tok // "Bearer <token>" as the header has it, or the token alone
		}
		return v, 1, nil
	}
	if len(inputs) > maxChunks {
		return "", 0, fmt.Errorf("%d values given; a session has at most %d chunk cookies", len(inputs), maxChunks)
	}
	var b strings.Builder
	for i, v := range inputs {
		v = strings.TrimSpace(v)
		if k, val, ok := strings.Cut(v, "="); ok {
			if want := wire.ChunkName(name, i); k != want {
				return "", 0, fmt.Errorf("value %d is named %q, expected %q (chunks go in order: %s, %s-1, ...)", i+1, k, want, name, name)
			}
			v = val
		}
		if strings.ContainsAny(v, "; \t") {
			return "", 0, fmt.Errorf("value %d looks like several cookies; use -header for a Cookie header line", i+1)
		}
		b.WriteString(v)
	}
	return b.String(), len(inputs), nil
}

// joinHeader finds the session cookie and its chunks in a Cookie header
// line and joins them as httpx does (the same reader, internal/wire),
// explaining a set the application would refuse.
func joinHeader(line, name string) (string, int, error) {
	line = strings.TrimSpace(line)
	if k, rest, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "cookie") {
		line = rest
	}
	r := &wire.Reader{Base: name, Limit: maxChunks, Max: maxInputBytes}
	var cs wire.Chunks
	r.Scan([]string{line}, &cs)
	text, n, err := cs.Join(nil)
	switch {
	case err == nil:
		return string(text), n, nil
	case cs.Dup:
		return "", 0, fmt.Errorf("a chunk cookie of %q appears twice: the application refuses such a request", name)
	case cs.Over:
		return "", 0, fmt.Errorf("the session cookies of %q are over %d bytes", name, maxInputBytes)
	case cs.Present&1 == 0 && cs.Present != 0:
		return "", 0, fmt.Errorf("chunks of %q present but %q itself missing: an incomplete chunk set", name, name)
	case cs.Present == 0:
		var others []string
		for _, part := range strings.Split(line, ";") {
			if k, _, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k != "" {
				others = append(others, k)
			}
		}
		if len(others) == 0 {
			return "", 0, fmt.Errorf("no cookie named %q in the header", name)
		}
		return "", 0, fmt.Errorf("no cookie named %q in the header (it has: %s; see -name)", name, strings.Join(others, ", "))
	}
	return "", 0, fmt.Errorf("a gap in the chunks of %q: an incomplete chunk set", name)
}

// readEnvelope reads the unauthenticated envelope header: version and key ID.
func readEnvelope(text string) (*envelopeJSON, error) {
	if text == "" {
		return nil, errors.New("empty value")
	}
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("not a sealed envelope: not base64url without padding (%v)", err)
	}
	if len(b) < sealed.HeaderSize+sealed.Overhead {
		return nil, fmt.Errorf("not a sealed envelope: %d bytes, the smallest is %d", len(b), sealed.HeaderSize+sealed.Overhead)
	}
	env := &envelopeJSON{Version: int(b[0]), KeyID: sealed.KeyID(binary.BigEndian.Uint32(b[1:5])).String(), SealedBytes: len(text)}
	if b[0] != sealed.Version {
		return env, fmt.Errorf("envelope format version %d; this tool reads version %d", b[0], sealed.Version)
	}
	return env, nil
}

// openReason explains an Open failure.
func openReason(err error, keyID string, bearer bool) string {
	switch {
	case errors.Is(err, sealed.ErrUnknownKey):
		return "sealed with key ID " + keyID + ", which is not in SESSION_KEYS (retired, or another application's key)"
	case errors.Is(err, sealed.ErrAuthFailed):
		if bearer {
			return "does not authenticate: tampered or truncated, a cookie rather than a Bearer token, or a different key with the same ID"
		}
		return "does not authenticate: tampered or truncated, a chunk missing or mixed from another session, a different cookie name (-name), a Bearer token (-bearer), or a different key with the same ID"
	case errors.Is(err, sealed.ErrTooLarge):
		return "too large: " + err.Error()
	default:
		return err.Error()
	}
}

var valueDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  codec.DefaultMaxDepth,
		MaxArrayElements: codec.DefaultMaxItems,
		MaxMapPairs:      codec.DefaultMaxItems,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic("sealctl: CBOR decode options: " + err.Error())
	}
	return dm
}()

// decodeValues decodes each raw CBOR value into a form encoding/json can
// print. The flash messages appear under their reserved name "_flash".
func decodeValues(p *codec.Payload) (map[string]any, map[string]string) {
	vals := make(map[string]any)
	var errs map[string]string
	for _, n := range p.Names() {
		raw, _ := p.Raw(n)
		var v any
		if err := valueDecMode.Unmarshal(raw, &v); err != nil {
			if errs == nil {
				errs = make(map[string]string)
			}
			errs[n] = err.Error()
			continue
		}
		vals[n] = jsonable(v)
	}
	return vals, errs
}

// jsonable converts a decoded CBOR value to one encoding/json accepts:
// map keys become strings, byte strings base64, tags an object, and
// non-finite floats strings.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(jsonable(k))
			}
			m[ks] = jsonable(e)
		}
		return m
	case []any:
		for i := range x {
			x[i] = jsonable(x[i])
		}
		return x
	case []byte:
		return map[string]any{"bytes_base64": base64.StdEncoding.EncodeToString(x)}
	case cbor.Tag:
		return map[string]any{"cbor_tag": x.Number, "value": jsonable(x.Content)}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case float32:
		return jsonable(float64(x))
	case cbor.SimpleValue:
		return map[string]any{"cbor_simple": uint8(x)}
	default:
		return x
	}
}
