package httpx

import "strconv"

// The wire rules of sessions in HTTP (SPEC.md, "HTTP transport"), exported
// so that tools which open a cookie themselves (cmd/sealctl inspect, tests)
// follow them from this one definition.
const (
	// SealPurpose is the sealed.Sealer purpose (the HKDF per-purpose
	// subkey) under which sessions are sealed.
	SealPurpose = "sealedsession/session"
	// BearerContext is the associated-data context of a session carried
	// in an "Authorization: Bearer" header. No cookie context equals it.
	BearerContext = "Authorization: Bearer"
)

// ChunkName returns the name of chunk i of a session cookie named base:
// base itself for i = 0, then base-1, base-2, ... up to HardMaxChunks-1.
func ChunkName(base string, i int) string {
	if i == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(i)
}

// CookieContext returns the associated-data context of a session carried
// in n chunk cookies named after base: base, a zero byte, and n as one
// byte. The cookie name and the chunk count are thereby authenticated.
func CookieContext(base string, n int) []byte {
	return append([]byte(base+"\x00"), byte(n))
}
