// Package reliability holds sealedsession's reliability and security
// campaign: fuzz targets that reach the decoders through the middleware,
// tampering and lifecycle attacks against the running demo binary, faults
// (a killed Redis, an unwritable bbolt file, key rotation under load), the
// demo behind a real nginx (TestBehindNginx) and a bounded soak. It has no
// API; RELIABILITY.md in the repository root records what was tried and
// what happened.
//
// Knobs (environment):
//
//	SEALEDSESSION_SOAK=60s          soak duration (default 10s)
//	SEALEDSESSION_SOAK_CLIENTS=200  concurrent soak clients (default 50)
//	SEALEDSESSION_REQUIRE_REDIS=1   fail instead of skip without redis-server
//	SEALEDSESSION_REQUIRE_NGINX=1   fail instead of skip without nginx
package reliability
