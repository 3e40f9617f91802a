package legacy

import "errors"

// Errors returned by this package. Use errors.Is to test for them.
var (
	// ErrInvalid means a legacy cookie value cannot be used: bad base64,
	// wrong MAC (tampered, or another key), decryption or gob failure,
	// expired or issued in the future. The cookie should be ignored.
	ErrInvalid = errors.New("legacy: invalid legacy cookie")
	// ErrConfig means the Options given to NewReader are unusable; the
	// message says which field (never key bytes).
	ErrConfig = errors.New("legacy: invalid options")
)
