package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealedsession/sealedsession/sealed"
)

// keyFileName is the key file generated in the data folder when
// SESSION_KEYS is not set.
const keyFileName = "session.keys"

// loadKeys returns the key ring from envKeys (the SESSION_KEYS text) or,
// when that is empty, from <dataDir>/session.keys, generating that file
// (mode 0600) on first use. The second result says where the keys came
// from, for the log; it never contains key material.
func loadKeys(envKeys, dataDir string) (*sealed.Keyring, string, error) {
	if strings.TrimSpace(envKeys) != "" {
		ring, err := sealed.ParseKeyring(strings.TrimSpace(envKeys))
		if err != nil {
			return nil, "", fmt.Errorf("SESSION_KEYS: %w", err)
		}
		return ring, "SESSION_KEYS environment variable", nil
	}
	path := filepath.Join(dataDir, keyFileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, "", fmt.Errorf("key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		ring, err := sealed.ParseKeyring(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, "", fmt.Errorf("key file %s: %w", path, err)
		}
		return ring, "key file " + path, nil
	case errors.Is(err, fs.ErrNotExist):
		key, err := sealed.GenerateKey()
		if err != nil {
			return nil, "", fmt.Errorf("generate session key: %w", err)
		}
		ring, err := sealed.NewKeyring(key)
		if err != nil {
			return nil, "", err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", fmt.Errorf("create key file: %w", err)
		}
		_, werr := f.WriteString(ring.Export() + "\n")
		cerr := f.Close()
		if werr != nil || cerr != nil {
			_ = os.Remove(path)
			// One error, on one line: the write's if it failed, else the close's.
			if werr == nil {
				werr = cerr
			}
			return nil, "", fmt.Errorf("write key file %s: %w", path, werr)
		}
		return ring, "key file " + path + " (generated now)", nil
	default:
		return nil, "", fmt.Errorf("read key file: %w", err)
	}
}
