package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

func ExampleNew() {
	s := memstore.New(nil)
	defer s.Close()
	ctx := context.Background()
	e, _ := s.Epoch(ctx, "alice")
	fmt.Println("before:", e)
	e, _ = s.BumpEpoch(ctx, "alice")
	fmt.Println("after ForceLogout:", e)

	id, _ := codec.NewSessionID()
	_ = s.Revoke(ctx, "alice", id, time.Now().Add(time.Hour))
	st, _ := s.Lookup(ctx, "alice", id)
	fmt.Println("epoch:", st.Epoch, "revoked:", st.Revoked)
	// Output:
	// before: 0
	// after ForceLogout: 1
	// epoch: 1 revoked: true
}
