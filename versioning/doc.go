// Package versioning decides whether a sealed session is still current,
// without a session store: from the timestamps and counters sealed into
// the payload header ([codec.Header]) plus a little server state kept in a
// [Store].
//
// # Freshness
//
// A [Checker] applies a [Policy]: an idle timeout (from the sealed
// last-seen time), an absolute timeout (from the issued-at time), a renewal
// threshold (re-issue the cookie only when that moves the idle deadline by
// more than it) and a small clock-skew tolerance for times in the future.
// [Checker.Check] returns [Fresh], [Renew] or [Rejected] with a reason.
//
// # Generations
//
// The header's Generation counter rises on login, on session ID
// regeneration and on privilege change (the HTTP layer does this together
// with issuing a new session ID). It lets logs and tools order the cookies
// of one browser and tell a pre-login cookie from a post-login one; the
// Checker does not reject on it, since the session ID change already
// makes the old cookie a different session.
//
// # Epochs and revocations
//
// Each user has an epoch counter in the Store, and there is one global
// counter; a user's effective epoch is their counter plus the global one.
// Login captures the effective epoch into the header; bumping it (forced
// logout, [Store.BumpEpoch]) rejects every earlier cookie of that user
// with [ErrEpochBumped], and [Store.BumpGlobalEpoch] does so for every
// user. A user the store has never seen has epoch 0, so adopting epochs
// later logs nobody out. Logout of an authenticated session revokes its ID
// for that user until any copy of the cookie would have idled out anyway
// ([Checker.RevocationDeadline], [Store.Revoke]); replaying that cookie
// then fails with [ErrRevoked], and the entry disappears by itself at its
// expiry. Anonymous sessions are never revoked, and the Checker consults
// the store only for authenticated sessions, with one per-user read
// ([Store.Lookup]).
//
// # Store failures
//
// When the store cannot answer, the Checker fails closed by default
// (Rejected, [ErrStoreUnavailable]); with [ServeStale] a store that keeps a
// local cache ([StaleReader]) may answer from it within a bounded age.
//
// # Backwards compatibility
//
// Payloads of older format versions are upgraded by the steps registered
// in a [Migrations]; cookies of gorilla/sessions' CookieStore are read by
// package versioning/legacy.
//
// Stores: versioning/memstore (memory), versioning/boltstore (one bbolt
// file), versioning/redisstore (Redis, many instances); every one passes
// the conformance suite in versioning/storetest.
package versioning
