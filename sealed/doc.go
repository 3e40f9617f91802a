// Package sealed turns bytes into a sealed, authenticated text envelope and
// back, with XChaCha20-Poly1305 and a rotating key ring.
//
// An envelope is the unpadded base64url text of
//
//	version (1) || key ID (4, big-endian) || nonce (24) || ciphertext || tag (16)
//
// sealed with a per-purpose subkey derived by HKDF-SHA256 from a configured
// 32-byte [Key]. The additional data binds the version byte, the key ID and
// a caller-given context (for example the cookie name), so an envelope made
// for one cookie does not open as another. The exact format, the derivation
// labels and test vectors are in the project's SPEC.md.
//
// # Keys
//
// A [Key] is a 32-byte secret from a cryptographically secure source
// ([GenerateKey]) and a public 4-byte [KeyID] derived from it. Its text form
// ([Key.Export], [ParseKey]) is "ssk1_" followed by 48 base64url
// characters. A Key prints as its ID only, with any fmt verb.
//
// # Key rotation
//
// A [Keyring] holds the primary key, which seals, and older keys, which
// only open. The text form ([ParseKeyring]) lists the keys separated by
// commas, newest first, which suits an environment variable. To rotate
// without logging anyone out:
//
//  1. add the new key after the primary on every instance (accept-only);
//  2. once every instance has it, move it to the front (or call
//     [Keyring.Rotate]): it now seals;
//  3. envelopes opened with an older key report OpenInfo.Primary == false,
//     and the caller re-seals them with the primary;
//  4. after the longest lifetime of an envelope, remove the old key.
//
// A program can follow these steps without a restart: [WatchKeyringFile]
// loads the ring from a file and reloads it when the file changes (it
// polls) or when [KeyringWatcher.Reload] is called (for example on
// SIGHUP). Each reload replaces the ring's keys atomically
// ([Keyring.Replace]), so every Sealer using it follows, and refuses a
// file that is malformed or whose primary skips step 1
// ([ErrPrimaryDropped]), keeping the ring it had. [KeyringFromEnv] reads
// a ring from an environment variable, once.
//
// # Security considerations
//
// Open looks up the envelope's key ID and tries that key alone: no trial
// decryption. XChaCha20-Poly1305 does not commit to its key, so trying
// several keys would be both slower and weaker. Nonces are 24 random bytes,
// safe to draw at random for any practical number of envelopes per key.
// Input longer than the Sealer's MaxSize is rejected before it is decoded,
// and no error carries key material, plaintext or the input text.
// Envelopes carry no expiry: freshness is the caller's job (see package
// versioning).
package sealed
