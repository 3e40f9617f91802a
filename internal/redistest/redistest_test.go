package redistest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	r, err := s.Do("SET", "k", "v")
	require.NoError(t, err, "SET")
	require.Equal(t, "OK", r, "SET")
	r, err = s.Do("GET", "k")
	require.NoError(t, err, "GET")
	require.Equal(t, "v", r, "GET")
	r, _ = s.Do("CONFIG", "GET", "bind")
	require.Contains(t, r, "127.0.0.1", "bind")
	s.Kill()
	require.False(t, s.Running(), "Running after Kill")
	_, err = s.Do("PING")
	require.Error(t, err, "PING answered after Kill")
	s.Restart()
	r, err = s.Do("PING")
	require.NoError(t, err, "PING after Restart")
	require.Equal(t, "PONG", r, "PING after Restart")
	// Nothing is persisted: the restarted server starts empty.
	r, err = s.Do("GET", "k")
	require.NoError(t, err, "GET after Restart")
	require.Empty(t, r, "GET after Restart")
	s.Stop()
	s.Stop() // idempotent
}

func TestWithArgs(t *testing.T) {
	s := Start(t, WithArgs("--maxmemory", "12mb"))
	r, err := s.Do("CONFIG", "GET", "maxmemory")
	require.NoError(t, err, "CONFIG GET maxmemory")
	require.True(t, strings.HasSuffix(r, "\n12582912"), "maxmemory = %q", r)
}

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cluster start takes seconds")
	}
	c := StartCluster(t, 3)
	require.Len(t, c.Addrs(), 3, "Addrs")
	for _, n := range c.Nodes {
		info, err := n.Do("CLUSTER", "INFO")
		require.NoError(t, err, "node %s", n.Addr())
		require.Contains(t, info, "cluster_known_nodes:3", "node %s", n.Addr())
		require.Contains(t, info, "cluster_slots_assigned:16384", "node %s", n.Addr())
	}
}

func TestStartSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: sentinel start takes seconds")
	}
	st := StartSentinel(t)
	addr, err := st.MasterAddr()
	require.NoError(t, err, "MasterAddr")
	require.Equal(t, st.Master.Addr(), addr, "MasterAddr")
	_, err = st.Master.Do("SET", "k", "v")
	require.NoError(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := st.Replica.Do("GET", "k")
		if r == "v" {
			break
		}
		require.False(t, time.Now().After(deadline), "write did not reach the replica")
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSentinelFailover checks the sentinel configuration actually fails
// over: killing the master promotes a replica, and with two replicas the
// other one follows the new master.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a failover takes seconds")
	}
	st := StartSentinel(t, WithReplicas(2))
	require.Len(t, st.Replicas, 2, "Replicas")
	require.Same(t, st.Replicas[0], st.Replica, "Replica is not Replicas[0]")
	start := time.Now()
	st.Master.Kill()
	deadline := time.Now().Add(30 * time.Second)
	var promoted, other *Server
	for promoted == nil {
		addr, _ := st.MasterAddr()
		for i, r := range st.Replicas {
			if addr == r.Addr() {
				promoted, other = r, st.Replicas[1-i]
			}
		}
		require.False(t, time.Now().After(deadline), "no failover within 30s; master is %q", addr)
		time.Sleep(50 * time.Millisecond)
	}
	role, err := promoted.Do("ROLE")
	require.NoError(t, err, "promoted replica ROLE")
	require.True(t, strings.HasPrefix(role, "master"), "promoted replica ROLE = %q", role)
	t.Logf("sentinels promoted a replica %v after the master was killed", time.Since(start))
	waitFor(t, "the other replica to follow the new master", func() (bool, string) {
		info, err := other.Do("INFO", "replication")
		return err == nil && strings.Contains(info, "master_port:"+strconv.Itoa(promoted.Port())) &&
			strings.Contains(info, "master_link_status:up"), info
	})
}
