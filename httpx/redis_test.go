package httpx_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// Two instances of an application, each with its own Manager and its own
// Redis store client, share one real redis-server: a ForceLogout or a
// Logout on one is honoured by the other.
func TestForceLogoutAcrossInstancesOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	ring := newRing(t)
	clk := newClock()
	var instances [2]*httptest.Server
	var managers [2]*httpx.Manager
	for i := range instances {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { client.Close() })
		store, err := redisstore.New(client, nil)
		require.NoError(t, err)
		t.Cleanup(func() { store.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, store.WaitReady(ctx))
		cancel()
		m, err := httpx.New(httpx.Config{Keys: ring, Store: store, Policy: versioning.Policy{Now: clk.Now}})
		require.NoError(t, err)
		managers[i] = m
		instances[i] = httptest.NewTLSServer(app(m))
		t.Cleanup(instances[i].Close)
	}

	// Log in on instance 0; the same cookie works on instance 1.
	a := newClient(t, instances[0])
	a.post("/login", "u", "zoe")
	onB := newClient(t, instances[1])
	onB.setCookies(a.cookies())
	require.Equal(t, "user=zoe note= gen=1", onB.get("/whoami"), "instance 1 refuses instance 0's cookie")

	// ForceLogout on instance 1; instance 0 refuses within milliseconds.
	start := time.Now()
	require.NoError(t, managers[1].ForceLogout(t.Context(), "zoe"))
	var got string
	for time.Since(start) < 2*time.Second {
		probe := newClient(t, instances[0])
		probe.setCookies(a.cookies())
		if got = probe.get("/whoami"); got == "user= note= gen=0" {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.Equal(t, "user= note= gen=0", got, "instance 0 still accepts the session after ForceLogout on instance 1")
	t.Logf("ForceLogout on one instance refused on the other after %v", time.Since(start))

	// Logout replay across instances.
	a.post("/login", "u", "zoe")
	stolen := a.cookies()
	a.post("/logout")
	start = time.Now()
	for time.Since(start) < 2*time.Second {
		probe := newClient(t, instances[1])
		probe.setCookies(stolen)
		if got = probe.get("/whoami"); got == "user= note= gen=0" {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.Equal(t, "user= note= gen=0", got, "logged-out cookie replayed on the other instance")
}
