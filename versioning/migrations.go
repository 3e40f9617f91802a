package versioning

import (
	"fmt"
	"sync"

	"github.com/sealedsession/sealedsession/codec"
)

// Migration upgrades one payload (already opened, so authentic) from
// format version v, its first byte, to version v+1. It must not modify
// old; it returns the new bytes, whose first byte must be v+1.
type Migration func(old []byte) ([]byte, error)

// Migrations is a registry of upgrade steps from older payload format
// versions to codec.Version. The zero value is empty and ready to use; it
// is safe for concurrent use. Register every step at start-up.
type Migrations struct {
	mu    sync.RWMutex
	steps map[uint8]Migration
}

// Register adds the step that upgrades payloads of version from to
// from+1. It fails with ErrInvalidMigration for a nil step, a from that is
// not below codec.Version, or a from already registered.
func (m *Migrations) Register(from uint8, step Migration) error {
	if step == nil {
		return fmt.Errorf("%w: nil step for version %d", ErrInvalidMigration, from)
	}
	if from >= codec.Version {
		return fmt.Errorf("%w: version %d is not older than the current version %d", ErrInvalidMigration, from, codec.Version)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.steps[from]; dup {
		return fmt.Errorf("%w: a step from version %d is already registered", ErrInvalidMigration, from)
	}
	if m.steps == nil {
		m.steps = make(map[uint8]Migration)
	}
	m.steps[from] = step
	return nil
}

// Upgrade applies registered steps to b until its version byte is
// codec.Version and returns the result (b itself if it is already
// current). A version with no step, or newer than codec.Version, gives a
// *codec.VersionError (matching ErrUnsupportedVersion); an empty b gives
// ErrUnsupportedVersion too. A failing step's error is wrapped; a step
// producing the wrong version gives ErrInvalidMigration.
func (m *Migrations) Upgrade(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrUnsupportedVersion)
	}
	for b[0] != codec.Version {
		v := b[0]
		var step Migration
		if v < codec.Version {
			m.mu.RLock()
			step = m.steps[v]
			m.mu.RUnlock()
		}
		if step == nil {
			return nil, &codec.VersionError{Version: v}
		}
		nb, err := step(b)
		if err != nil {
			return nil, fmt.Errorf("versioning: migration from version %d: %w", v, err)
		}
		if len(nb) == 0 || nb[0] != v+1 {
			return nil, fmt.Errorf("%w: step from version %d did not produce version %d", ErrInvalidMigration, v, v+1)
		}
		b = nb
	}
	return b, nil
}
