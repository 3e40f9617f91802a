package main

import (
	"path/filepath"

	"github.com/sealedsession/sealedsession/internal/storespec"
	"github.com/sealedsession/sealedsession/versioning"
)

// openStore opens the epoch and revocation store named by spec (see
// internal/storespec: bolt:PATH, memory, or redis://host:port/db with
// ?min_replicas=N). An empty spec means bolt:<dataDir>/sessions.db. The
// returned close function closes the store and, for Redis, the client.
func openStore(spec, dataDir string) (versioning.Store, func() error, string, error) {
	if spec == "" {
		spec = "bolt:" + filepath.Join(dataDir, "sessions.db")
	}
	return storespec.Open(spec, storespec.Options{})
}
