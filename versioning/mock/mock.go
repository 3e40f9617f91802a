// Package mock provides a func-field [versioning.Store] for tests: set
// the fields a test needs; a nil field's method returns the zero answer
// and a nil error.
package mock

import (
	"context"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// Store is a versioning.Store whose methods call its fields.
type Store struct {
	EpochFunc           func(ctx context.Context, userID string) (uint64, error)
	BumpEpochFunc       func(ctx context.Context, userID string) (uint64, error)
	BumpGlobalEpochFunc func(ctx context.Context) error
	RevokeFunc          func(ctx context.Context, userID string, id codec.SessionID, until time.Time) error
	LookupFunc          func(ctx context.Context, userID string, id codec.SessionID) (versioning.SessionState, error)
	CloseFunc           func() error
}

var _ versioning.Store = (*Store)(nil)

// Epoch calls EpochFunc.
func (s *Store) Epoch(ctx context.Context, userID string) (uint64, error) {
	if s.EpochFunc == nil {
		return 0, nil
	}
	return s.EpochFunc(ctx, userID)
}

// BumpEpoch calls BumpEpochFunc.
func (s *Store) BumpEpoch(ctx context.Context, userID string) (uint64, error) {
	if s.BumpEpochFunc == nil {
		return 0, nil
	}
	return s.BumpEpochFunc(ctx, userID)
}

// BumpGlobalEpoch calls BumpGlobalEpochFunc.
func (s *Store) BumpGlobalEpoch(ctx context.Context) error {
	if s.BumpGlobalEpochFunc == nil {
		return nil
	}
	return s.BumpGlobalEpochFunc(ctx)
}

// Revoke calls RevokeFunc.
func (s *Store) Revoke(ctx context.Context, userID string, id codec.SessionID, until time.Time) error {
	if s.RevokeFunc == nil {
		return nil
	}
	return s.RevokeFunc(ctx, userID, id, until)
}

// Lookup calls LookupFunc.
func (s *Store) Lookup(ctx context.Context, userID string, id codec.SessionID) (versioning.SessionState, error) {
	if s.LookupFunc == nil {
		return versioning.SessionState{}, nil
	}
	return s.LookupFunc(ctx, userID, id)
}

// Close calls CloseFunc.
func (s *Store) Close() error {
	if s.CloseFunc == nil {
		return nil
	}
	return s.CloseFunc()
}

// StaleStore is a Store that also implements versioning.StaleReader.
type StaleStore struct {
	Store
	LookupStaleFunc func(ctx context.Context, userID string, id codec.SessionID, maxAge time.Duration) (versioning.SessionState, error)
}

var _ versioning.StaleReader = (*StaleStore)(nil)

// LookupStale calls LookupStaleFunc.
func (s *StaleStore) LookupStale(ctx context.Context, userID string, id codec.SessionID, maxAge time.Duration) (versioning.SessionState, error) {
	if s.LookupStaleFunc == nil {
		return versioning.SessionState{}, nil
	}
	return s.LookupStaleFunc(ctx, userID, id, maxAge)
}
