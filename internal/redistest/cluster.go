package redistest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters without replicas, started by
// StartCluster.
type Cluster struct {
	// Nodes are the cluster's masters, in start order.
	Nodes []*Server
}

// Addrs returns the addresses of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// StartCluster starts n (at least 3) redis-server processes with
// --cluster-enabled yes, joins them with `redis-cli --cluster create`, waits
// until every node reports cluster_state:ok and registers cleanups that stop
// them.
func StartCluster(tb testing.TB, n int, opts ...Option) *Cluster {
	tb.Helper()
	if n < 3 {
		tb.Fatalf("redistest: a Redis Cluster needs at least 3 masters, got %d", n)
	}
	bin, cli := binaries(tb, true)
	var c config
	for _, o := range opts {
		o(&c)
	}
	root := tb.TempDir()
	cl := &Cluster{}
	for i := range n {
		dir := filepath.Join(root, "node"+strconv.Itoa(i))
		mkdir(tb, dir)
		args := append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		}, c.args...)
		cl.Nodes = append(cl.Nodes, startServer(tb, bin, dir, freePort(tb, true), args))
	}
	args := append([]string{"--cluster", "create"}, cl.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, node := range cl.Nodes {
		for {
			info, err := node.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster node %s not ok: %v\n%s", node.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return cl
}

// Sentinel is one master, one replica (or more, see WithReplicas) and
// three sentinels monitoring the master under MasterName, started by
// StartSentinel.
type Sentinel struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// Master and Replica are the data nodes as started; after a failover
	// their roles are swapped. Replica is Replicas[0].
	Master, Replica *Server
	// Replicas are every replica as started (one unless WithReplicas).
	Replicas []*Server
	// Sentinels are the three sentinel processes.
	Sentinels []*Server
}

// Client returns a go-redis failover client of the set (through its
// sentinels), closed when the test ends. Short dial and I/O timeouts and
// no retries make a failover show as errors at once rather than as
// stalls.
func (s *Sentinel) Client(tb testing.TB) redis.UniversalClient {
	c := redis.NewUniversalClient(&redis.UniversalOptions{
		MasterName:    s.MasterName,
		Addrs:         s.SentinelAddrs(),
		DialTimeout:   200 * time.Millisecond,
		DialerRetries: 1,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    -1,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// SentinelAddrs returns the addresses of the sentinels.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr()
	}
	return addrs
}

// MasterAddr asks the first sentinel that answers for the current master's
// address.
func (s *Sentinel) MasterAddr() (string, error) {
	var err error
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		var addr string
		if addr, err = s.masterAddrAt(sn); err == nil {
			return addr, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("no sentinel running")
	}
	return "", err
}

// AgreedMasterAddr returns the master's address if every sentinel answers
// and all of them name the same one. After a failover one sentinel can
// already name the promoted replica while others still hold the old
// configuration; a crashed master restarted empty in that window can end
// up master again, and the promoted replica then resynchronises from its
// empty data set. A supervisor must wait for this agreement.
func (s *Sentinel) AgreedMasterAddr() (string, bool) {
	agreed := ""
	for _, sn := range s.Sentinels {
		addr, err := s.masterAddrAt(sn)
		if err != nil || (agreed != "" && addr != agreed) {
			return "", false
		}
		agreed = addr
	}
	return agreed, agreed != ""
}

// masterAddrAt asks one sentinel for the master's address.
func (s *Sentinel) masterAddrAt(sn *Server) (string, error) {
	r, err := sn.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
	if err != nil {
		return "", err
	}
	host, port, ok := strings.Cut(r, "\n")
	if !ok {
		return "", fmt.Errorf("unexpected reply %q", r)
	}
	return host + ":" + port, nil
}

// StartSentinel starts a master, a replica of it (n replicas with
// WithReplicas(n)) and three sentinels (quorum 2, down-after 1 s, failover
// timeout 5 s), waits until every replica is in sync and the sentinels agree a failover is possible (SENTINEL
// CKQUORUM), and registers cleanups that stop everything.
func StartSentinel(tb testing.TB, opts ...Option) *Sentinel {
	tb.Helper()
	bin, _ := binaries(tb, false)
	var c config
	for _, o := range opts {
		o(&c)
	}
	root := tb.TempDir()
	st := &Sentinel{MasterName: "sealedsession"}
	dir := func(name string) string {
		d := filepath.Join(root, name)
		mkdir(tb, d)
		return d
	}
	st.Master = startServer(tb, bin, dir("master"), freePort(tb, false), c.args)
	rargs := append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(st.Master.Port())}, c.args...)
	for i := range max(c.replicas, 1) {
		name := "replica"
		if i > 0 {
			name += strconv.Itoa(i)
		}
		r := startServer(tb, bin, dir(name), freePort(tb, false), rargs)
		waitFor(tb, "replica in sync", func() (bool, string) {
			info, err := r.Do("INFO", "replication")
			return err == nil && strings.Contains(info, "master_link_status:up"), info
		})
		st.Replicas = append(st.Replicas, r)
	}
	st.Replica = st.Replicas[0]
	// The master counts a replica for WAIT only once it is online on its
	// side too (after the replica's first acknowledgement).
	waitFor(tb, "replicas online at the master", func() (bool, string) {
		info, err := st.Master.Do("INFO", "replication")
		return err == nil && strings.Count(info, "state=online") == len(st.Replicas), info
	})
	for i := range 3 {
		d := dir("sentinel" + strconv.Itoa(i))
		port := freePort(tb, false)
		path := filepath.Join(d, "sentinel.conf")
		writeFile(tb, path, fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
			port, d, st.MasterName, st.Master.Port(), st.MasterName, st.MasterName, st.MasterName))
		s := &Server{tb: tb, bin: bin, dir: d, port: port, sentinelConf: path}
		if err := s.start(); err != nil {
			tb.Fatalf("redistest: sentinel: %v", err)
		}
		tb.Cleanup(s.Stop)
		st.Sentinels = append(st.Sentinels, s)
	}
	for _, sn := range st.Sentinels {
		waitFor(tb, "sentinel quorum at "+sn.Addr(), func() (bool, string) {
			r, err := sn.Do("SENTINEL", "CKQUORUM", st.MasterName)
			if err != nil {
				return false, err.Error()
			}
			return strings.HasPrefix(r, "OK"), r
		})
	}
	return st
}

// waitFor polls cond every 50 ms until it holds, failing tb after 20 s.
func waitFor(tb testing.TB, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
