package docs_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/sessiontest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/redisstore"
)

// redisStore is the client and store set-up of docs/deployment.md,
// compiled only (it needs a Redis).
func redisStore() (*redisstore.Store, error) {
	// docs:begin deploy-redis
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         []string{"10.0.0.1:6379"}, // several node addresses: Cluster
		MasterName:    "",                        // set (with sentinel addresses in Addrs): Sentinel
		DialTimeout:   200 * time.Millisecond,
		DialerRetries: 1,
		ReadTimeout:   time.Second, // the WAIT of MinReplicas reads with its own deadline
		WriteTimeout:  time.Second,
	})
	store, err := redisstore.New(client, &redisstore.Options{
		MinReplicas: 1,                      // Sentinel/Cluster with replicas: see below
		WaitTimeout: 500 * time.Millisecond, // bound of each write's WAIT
		MaxStale:    30 * time.Second,       // only used with versioning.ServeStale
	})
	// docs:end
	return store, err
}

// watchedKeys is the key ring file watcher snippet.
func watchedKeys(path string, store versioning.Store) (*httpx.Manager, *sealed.Keyring, error) {
	// docs:begin deploy-watcher
	w, err := sealed.WatchKeyringFile(path, &sealed.WatchOptions{ // polls every 5 s (sealed.DefaultWatchInterval)
		OnReload: func(r sealed.KeyringReload) { // key IDs only, never key material
			if r.Err != nil {
				logger.Error("session key ring refused; the old ring stays", "path", r.Path, "ring", r.Keyring, "err", r.Err)
				return
			}
			logger.Info("session key ring", "path", r.Path, "changed", r.Changed, "ring", r.Keyring)
		},
	})
	if err != nil {
		return nil, nil, err // no ring to start with
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			w.Reload() // at once, without waiting for the next poll
		}
	}()
	m, err := httpx.New(httpx.Config{Keys: w.Keyring(), Store: store})
	// docs:end
	return m, w.Keyring(), err
}

// TestWatchedKeys rotates a ring file in the two steps of the guide
// under the watcher, and checks that the session survives.
func TestWatchedKeys(t *testing.T) {
	k1, _ := sealed.GenerateKey()
	k2, _ := sealed.GenerateKey()
	path := filepath.Join(t.TempDir(), "session.keys")
	write := func(s string) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(s), 0o600))
		require.NoError(t, os.Rename(tmp, path))
	}
	write(ring2(t, k1))
	m, ring, err := watchedKeys(path, nil)
	require.NoError(t, err)
	req := sessiontest.Request(t, m, httptest.NewRequest("GET", "/", nil), func(s *httpx.Session) error { return s.Login("alice") })
	// The snippet reloads on SIGHUP: signal this process, then wait for the ring.
	reloadUntil := func(done func() bool) {
		t.Helper()
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		for range 500 {
			if done() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		require.FailNow(t, "ring not reloaded", "ring %v", ring)
	}
	write(ring2(t, k1, k2)) // stage 1: the new key accept-only, on every instance
	reloadUntil(func() bool { return len(ring.Keys()) == 2 })
	write(ring2(t, k2, k1)) // stage 2: the new key seals
	reloadUntil(func() bool { return ring.Primary().ID() == k2.ID() })

	served := ""
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = httpx.FromContext(r.Context()).UserID()
	}))
	h.ServeHTTP(httptest.NewRecorder(), req) // sealed with k1 before the rotation
	require.Equal(t, "alice", served, "user after rotation")

	k3, _ := sealed.GenerateKey()
	write(ring2(t, k3)) // a primary never rolled out accept-only: refused, the ring stays
	const refusedMsg = "session key ring refused; the old ring stays"
	before := loggedCount(refusedMsg)
	reloadUntil(func() bool { return loggedCount(refusedMsg) > before })
	require.Equal(t, k2.ID(), ring.Primary().ID(), "a ring without the current primary was applied")
}

func ring2(t *testing.T, ks ...*sealed.Key) string {
	r, err := sealed.NewKeyring(ks[0], ks[1:]...)
	require.NoError(t, err)
	return r.Export()
}

// devices is the "sessions per user" snippet of docs/deployment.md.
func devices(keys *sealed.Keyring, store versioning.Store, mux *http.ServeMux) {
	// docs:begin deploy-devices
	m, err := httpx.New(httpx.Config{
		Keys:     keys,
		Store:    store, // memstore, boltstore or redisstore
		Tracking: &httpx.Tracking{},
	})
	if err != nil {
		log.Fatal(err)
	}

	// GET /account/devices: the signed-in user's sessions, oldest first.
	mux.HandleFunc("GET /account/devices", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		list, err := m.Sessions(r.Context(), s.UserID())
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		for _, si := range list {
			current := si.ID == s.ID()
			fmt.Fprintf(w, "%s created %s, last seen %s, %s from %s (this device: %v)\n",
				si.ID.Tag(), si.Created.Format(time.RFC3339), si.LastSeen.Format(time.RFC3339),
				si.Client, si.Network, current)
		}
	})

	// POST /account/devices/logout?tag=1a2b3c4d: "log out that device".
	mux.HandleFunc("POST /account/devices/logout", func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		list, err := m.Sessions(r.Context(), s.UserID())
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		for _, si := range list {
			if si.ID.Tag() == r.FormValue("tag") {
				// Revoked until it would have expired, and dropped from the list.
				if err := m.RevokeSession(r.Context(), s.UserID(), si.ID); err != nil {
					http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				}
				return
			}
		}
		http.Error(w, "no such device", http.StatusNotFound)
	})
	// docs:end
}

// sessionLimit is the concurrent-session limit snippet.
func sessionLimit(w http.ResponseWriter, r *http.Request, keys *sealed.Keyring, store versioning.Store, userID string) {
	// docs:begin deploy-limit
	m, err := httpx.New(httpx.Config{
		Keys:  keys,
		Store: store,
		Tracking: &httpx.Tracking{
			MaxPerUser: 3,
			OnLimit:    httpx.RefuseNewLogin, // or httpx.EvictOldest (default)
		},
	})

	// In the login handler:
	if err := httpx.FromContext(r.Context()).Login(userID); err != nil {
		if errors.Is(err, versioning.ErrTooManySessions) {
			http.Error(w, "You are signed in on too many devices. Log one out first.", http.StatusConflict)
			return
		}
		http.Error(w, "login failed", http.StatusServiceUnavailable)
		return
	}
	// docs:end
	_, _ = m, err
}

// anomalies is the client binding and anomaly snippet.
func anomalies(keys *sealed.Keyring, store versioning.Store) (*httpx.Manager, error) {
	// docs:begin deploy-anomaly
	m, err := httpx.New(httpx.Config{
		Keys:  keys,
		Store: store,
		Binding: httpx.ClientBinding{
			OnChange: httpx.ClientChangeReauthenticate,
			// Behind a reverse proxy: trust only the header your proxy sets,
			// and fail closed: a missing or garbled header gives the zero
			// address, which counts as a change.
			ClientIP: func(r *http.Request) netip.Addr {
				a, err := netip.ParseAddr(r.Header.Get("X-Real-IP"))
				if err != nil {
					return netip.Addr{}
				}
				return a
			},
		},
		Tracking: &httpx.Tracking{
			Locate: func(p netip.Prefix) (httpx.Location, bool) {
				city, ok := geoDB.Lookup(p.Addr()) // your own offline database
				return httpx.Location{Latitude: city.Lat, Longitude: city.Lon}, ok
			},
			DistantKm: 800,
		},
		Observer: httpx.MultiObserver(httpx.NewSlogObserver(logger), alerts{}),
	})
	// docs:end
	return m, err
}

// docs:begin deploy-alerts
// alerts is an httpx.Observer that pages on anomalies.
type alerts struct{}

func (alerts) Observe(ctx context.Context, e httpx.Event) {
	if e.Kind != httpx.EventAnomaly {
		return
	}
	switch {
	case errors.Is(e.Reason, httpx.ErrSimultaneousUse):
		notify("user %s: simultaneous sessions from distant networks (%v)", e.UserID, e.Reason)
	case errors.Is(e.Reason, httpx.ErrClientChanged):
		notify("user %s, session %s: %v", e.UserID, e.SessionTag, e.Reason)
	}
}

// docs:end

// raisedBudget is the proxy snippet: a budget raised together with nginx.
func raisedBudget(keys *sealed.Keyring) httpx.Config {
	// docs:begin deploy-budget
	cfg := httpx.Config{Keys: keys, Cookie: httpx.CookieConfig{MaxHeaderBytes: 12288}} // past 4093 bytes: chunk cookies
	// docs:end
	return cfg
}

// TestDeploymentConfigs checks that the configurations shown are accepted.
func TestDeploymentConfigs(t *testing.T) {
	keys := newKeys(t)
	_, err := anomalies(keys, memstore.New(nil))
	require.NoError(t, err)
	_, err = httpx.New(raisedBudget(keys))
	require.NoError(t, err)
	devices(keys, memstore.New(nil), http.NewServeMux())
}

var _, _ = redisStore, sessionLimit
