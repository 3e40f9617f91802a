package httpx

import "unsafe"

// stringBytes returns the bytes of s without copying. The result must
// never be written to; it is only handed to decoders that read it.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
