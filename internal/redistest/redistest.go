// Package redistest starts real redis-server processes on loopback ports for
// tests: a single server, a three-master Cluster and a Sentinel set-up.
//
// Every process is started in a temporary directory, listens on 127.0.0.1
// only, keeps nothing on disk between runs (--save "" --appendonly no) and is
// stopped by a t.Cleanup registered by the function that started it.
//
// When no redis-server binary is found, the helpers skip the test with a
// message saying so, unless the environment variable
// SEALEDSESSION_REQUIRE_REDIS is "1", in which case they fail it.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server
// binary from a skipped test into a failed one when set to "1".
const RequireEnv = "SEALEDSESSION_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Option changes how Start runs a server.
type Option func(*config)

type config struct {
	args     []string
	replicas int // StartSentinel only; 0 means 1
}

// WithReplicas makes StartSentinel start n replicas (default 1).
// Other helpers ignore it.
func WithReplicas(n int) Option {
	return func(c *config) { c.replicas = n }
}

// WithArgs appends command-line arguments to redis-server, for example
// WithArgs("--maxmemory", "10mb").
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is one redis-server process owned by a test. Its methods are safe
// for concurrent use.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string
	// sentinelConf, when set, runs the process as a sentinel with this
	// (writable) configuration file.
	sentinelConf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// binaries returns the paths of redis-server and redis-cli, skipping or
// failing tb when they are missing.
func binaries(tb testing.TB, needCLI bool) (server, cli string) {
	tb.Helper()
	server, err := exec.LookPath("redis-server")
	if err == nil && needCLI {
		cli, err = exec.LookPath("redis-cli")
	}
	if err != nil {
		msg := fmt.Sprintf("redistest: redis-server/redis-cli not found in PATH (%v); install them (apt-get install redis-server redis-tools) to run this test", err)
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatal(msg + "; " + RequireEnv + "=1 makes this a failure")
		}
		tb.Skip(msg)
	}
	return server, cli
}

// RequireServer skips or fails tb, by the package's rule, unless a
// redis-server binary is in PATH, for tests that start Redis by other
// means (a script). It returns the binary's path.
func RequireServer(tb testing.TB) string {
	tb.Helper()
	bin, _ := binaries(tb, false)
	return bin
}

// Start starts a redis-server on a free loopback port, waits until it
// answers PING and registers a cleanup that stops it.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin, _ := binaries(tb, false)
	var c config
	for _, o := range opts {
		o(&c)
	}
	return startServer(tb, bin, tb.TempDir(), freePort(tb, false), c.args)
}

func startServer(tb testing.TB, bin, dir string, port int, extra []string) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: bin, dir: dir, port: port, args: extra}
	if err := s.start(); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Addr returns the server's "127.0.0.1:port" address.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory.
func (s *Server) Dir() string { return s.dir }

func (s *Server) logPath() string { return filepath.Join(s.dir, "redis-"+strconv.Itoa(s.port)+".log") }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		// A replica's full sync would otherwise wait 5 s for more
		// replicas to share the transfer.
		"--repl-diskless-sync-delay", "0",
		"--dir", s.dir,
		"--logfile", s.logPath(),
	}
	if s.sentinelConf != "" {
		args = []string{s.sentinelConf, "--sentinel", "--logfile", s.logPath()}
	}
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := waitPing(s.Addr(), done, startTimeout); err != nil {
		_ = cmd.Process.Kill()
		<-done
		s.cmd, s.done = nil, nil
		return fmt.Errorf("redis-server on %s did not come up: %v; log tail:\n%s", s.Addr(), err, tail(s.logPath()))
	}
	return nil
}

// signal stops the process with sig and waits for it to exit (killing it
// if it takes more than a few seconds).
func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// Kill stops the server abruptly with SIGKILL (a crash) and waits until the
// process has exited. Calling it on a stopped server does nothing.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Stop stops the server with SIGTERM and waits until the process has
// exited. Calling it on a stopped server does nothing.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Restart starts a stopped (or killed) server again on the same port and
// waits until it answers PING. The data set starts empty (nothing is
// persisted). A running server is stopped first. Extra arguments are
// added to the ones it was started with, for this start and later ones.
func (s *Server) Restart(extra ...string) {
	s.tb.Helper()
	s.Stop()
	s.mu.Lock()
	s.args = append(s.args[:len(s.args):len(s.args)], extra...)
	s.mu.Unlock()
	var err error
	// The port was just released; another process may briefly hold it.
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("redistest: restart: %v", err)
}

// Running reports whether the process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Do sends one command to the server over a fresh connection and returns
// the reply in a simple text form (see [Do]).
func (s *Server) Do(args ...string) (string, error) { return Do(s.Addr(), args...) }

// freePort returns a loopback TCP port that is free now; withBus also
// requires port+10000 (the Cluster bus port) to be free.
func freePort(tb testing.TB, withBus bool) int {
	tb.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("redistest: find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !withBus {
			_ = l.Close()
			return port
		}
		if port+10000 > 65535 {
			_ = l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port
	}
	tb.Fatal("redistest: no free loopback port found")
	return 0
}

// waitPing polls addr with PING until it answers PONG, done is closed (the
// process died) or timeout passes.
func waitPing(addr string, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("process exited")
		default:
		}
		var r string
		if r, err = Do(addr, "PING"); err == nil {
			if r == "PONG" {
				return nil
			}
			err = fmt.Errorf("PING answered %q", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within %v: %v", timeout, err)
}

// Do sends one command to addr over a fresh connection and returns the
// reply: simple strings, bulk strings and integers as their text, arrays as
// their elements joined by newlines, nil as "". An error reply is returned
// as an error.
func Do(addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", errors.New(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}

func mkdir(tb testing.TB, dir string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
}

// tail returns the last lines of the file at path, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
