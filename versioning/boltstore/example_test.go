package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealedsession/sealedsession/versioning/boltstore"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "boltstore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")

	s, err := boltstore.Open(path, nil)
	if err != nil {
		panic(err)
	}
	if _, err := s.BumpEpoch(context.Background(), "alice"); err != nil {
		panic(err)
	}
	s.Close()

	// The bump survives a restart.
	s, err = boltstore.Open(path, nil)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	e, _ := s.Epoch(context.Background(), "alice")
	fmt.Println(e)
	// Output: 1
}
