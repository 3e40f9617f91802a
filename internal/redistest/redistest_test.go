package redistest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	if r, err := s.Do("SET", "k", "v"); err != nil || r != "OK" {
		t.Fatalf("SET = %q, %v", r, err)
	}
	if r, err := s.Do("GET", "k"); err != nil || r != "v" {
		t.Fatalf("GET = %q, %v", r, err)
	}
	if r, _ := s.Do("CONFIG", "GET", "bind"); !strings.Contains(r, "127.0.0.1") {
		t.Fatalf("bind = %q, want 127.0.0.1", r)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("Running after Kill")
	}
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Restart()
	if r, err := s.Do("PING"); err != nil || r != "PONG" {
		t.Fatalf("PING after Restart = %q, %v", r, err)
	}
	// Nothing is persisted: the restarted server starts empty.
	if r, err := s.Do("GET", "k"); err != nil || r != "" {
		t.Fatalf("GET after Restart = %q, %v; want empty", r, err)
	}
	s.Stop()
	s.Stop() // idempotent
}

func TestWithArgs(t *testing.T) {
	s := Start(t, WithArgs("--maxmemory", "12mb"))
	r, err := s.Do("CONFIG", "GET", "maxmemory")
	if err != nil || !strings.HasSuffix(r, "\n12582912") {
		t.Fatalf("maxmemory = %q, %v", r, err)
	}
}

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cluster start takes seconds")
	}
	c := StartCluster(t, 3)
	if len(c.Addrs()) != 3 {
		t.Fatalf("Addrs = %v", c.Addrs())
	}
	for _, n := range c.Nodes {
		info, err := n.Do("CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_known_nodes:3") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			t.Fatalf("node %s: %v\n%s", n.Addr(), err, info)
		}
	}
}

func TestStartSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: sentinel start takes seconds")
	}
	st := StartSentinel(t)
	addr, err := st.MasterAddr()
	if err != nil || addr != st.Master.Addr() {
		t.Fatalf("MasterAddr = %q, %v; want %s", addr, err, st.Master.Addr())
	}
	if _, err := st.Master.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := st.Replica.Do("GET", "k")
		if r == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("write did not reach the replica")
		}
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
	if len(st.Replicas) != 2 || st.Replica != st.Replicas[0] {
		t.Fatalf("Replicas = %v", st.Replicas)
	}
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
		if time.Now().After(deadline) {
			t.Fatalf("no failover within 30s; master is %q", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	role, err := promoted.Do("ROLE")
	if err != nil || !strings.HasPrefix(role, "master") {
		t.Fatalf("promoted replica ROLE = %q, %v", role, err)
	}
	t.Logf("sentinels promoted a replica %v after the master was killed", time.Since(start))
	waitFor(t, "the other replica to follow the new master", func() (bool, string) {
		info, err := other.Do("INFO", "replication")
		return err == nil && strings.Contains(info, "master_port:"+strconv.Itoa(promoted.Port())) &&
			strings.Contains(info, "master_link_status:up"), info
	})
}
