// Command report runs the bench module's benchmarks, summarises them by
// their medians (golang.org/x/perf's benchmath, as benchstat does) and
// writes BENCHMARKS.md at the repository root and the chart
// bench/ratios.svg.
//
//	go run ./bench/cmd/report                 # -count 6, about ten minutes
//	go run ./bench/cmd/report -load           # also the wrk load test (bench/load.sh)
//	go run ./bench/cmd/report -in results.txt # re-render from saved output
//
// The raw benchmark output is kept in bench/results.txt so that any figure
// can be checked (or compared with benchstat).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("report: ")
	count := flag.Int("count", 6, "runs of each benchmark (go test -count)")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime")
	benchRe := flag.String("bench", "BenchmarkRequest|BenchmarkScale|BenchmarkReadCost", "go test -bench pattern")
	in := flag.String("in", "", "read benchmark output from this file instead of running the benchmarks")
	load := flag.Bool("load", false, "also run the wrk load test (bench/load.sh)")
	loadDuration := flag.String("load-duration", "10s", "wrk -d per server and round")
	loadRounds := flag.Int("load-rounds", 3, "load test rounds (median taken)")
	commit := flag.String("commit", "", "the commit measured (default: git rev-parse HEAD of the checkout)")
	loadIn := flag.String("load-in", "", "read load.sh output from this file instead of running it")
	note := flag.String("note", "", "a remark printed under the machine table (e.g. other load on the machine)")
	flag.Parse()

	root, err := repoRoot()
	if err != nil {
		log.Fatal(err)
	}
	benchDir := filepath.Join(root, "bench")
	rawPath := filepath.Join(benchDir, "results.txt")

	loadStart := loadAvg()
	var raw []byte
	if *in != "" {
		if raw, err = os.ReadFile(*in); err != nil {
			log.Fatal(err)
		}
	} else {
		raw, err = runBenchmarks(benchDir, *benchRe, *count, *benchtime)
		if err != nil {
			log.Fatal(err)
		}
	}
	res, err := Parse(bytes.NewReader(raw))
	if err != nil {
		log.Fatal(err)
	}
	rep := &Report{
		Results:   res,
		Machine:   cpuModel(),
		Cores:     runtime.NumCPU(),
		GoVersion: goVersion(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		Date:      time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Count:     runsOf(res),
		Benchtime: *benchtime,
		RawFile:   "bench/results.txt",
		Commit:    *commit,
		Note:      *note,
	}
	if rep.Commit == "" {
		rep.Commit = gitCommit(root)
	}
	benchtimeSet := false
	flag.Visit(func(f *flag.Flag) { benchtimeSet = benchtimeSet || f.Name == "benchtime" })
	if *in != "" && !benchtimeSet {
		rep.Benchtime = "(from " + filepath.Base(*in) + ")"
	}
	switch {
	case *loadIn != "":
		f, err := os.Open(*loadIn)
		if err != nil {
			log.Fatal(err)
		}
		rep.Load, rep.LoadRounds, err = ParseLoad(f)
		_ = f.Close()
		if err != nil {
			log.Fatal(err)
		}
	case *load:
		if rep.Load, rep.LoadRounds, err = runLoad(benchDir, *loadDuration, *loadRounds); err != nil {
			log.Fatal(err)
		}
	}
	if *in == "" || *load { // something was measured in this run
		rep.LoadAvg = loadStart + " at the start, " + loadAvg() + " at the end"
	}
	if *in == "" || filepath.Clean(*in) != rawPath {
		if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	md := rep.Markdown()
	// The SCALE section is measured by another harness (the store's, with
	// a real redis-server; see bench/SCALE.md) and kept as written.
	if scale, err := os.ReadFile(filepath.Join(benchDir, "SCALE.md")); err == nil {
		md += "\n" + string(scale)
	}
	if err := os.WriteFile(filepath.Join(root, "BENCHMARKS.md"), []byte(md), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(benchDir, "ratios.svg"), []byte(rep.SVG()), 0o644); err != nil {
		log.Fatal(err)
	}
	for _, t := range rep.Targets() {
		state := "not measured"
		if t.Known {
			state = map[bool]string{true: "met", false: "MISSED"}[t.Met]
		}
		fmt.Printf("%-12s %s: %s\n", state, t.What, t.Measured)
	}
	fmt.Println("wrote BENCHMARKS.md, bench/ratios.svg and bench/results.txt")
}

// repoRoot finds the directory holding go.work (the repository root) from
// the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "bench", "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the sealedsession checkout (no go.work with bench/ found above the working directory)")
		}
		dir = parent
	}
}

// runBenchmarks runs go test -bench in dir count times (one -count 1 run
// after another, so that every benchmark is sampled across the whole
// period and a change in machine load hits all contenders alike), echoing
// the output, and returns it.
func runBenchmarks(dir, pattern string, count int, benchtime string) ([]byte, error) {
	var out bytes.Buffer
	for i := 1; i <= count; i++ {
		// -v so that a skipped benchmark's reason (gorilla's size error)
		// is in the output.
		cmd := exec.Command("go", "test", "-v", "-run", "^$", "-bench", pattern,
			"-count", "1", "-benchtime", benchtime, "-timeout", "60m", ".")
		cmd.Dir = dir
		cmd.Stdout = io.MultiWriter(&out, os.Stderr)
		cmd.Stderr = os.Stderr
		fmt.Fprintf(os.Stderr, "report: round %d of %d: %s (in %s)\n", i, count, strings.Join(cmd.Args, " "), dir)
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go test: %w", err)
		}
	}
	return out.Bytes(), nil
}

// runLoad runs load.sh and reads its results.
func runLoad(dir, duration string, rounds int) ([]LoadResult, []LoadRound, error) {
	cmd := exec.Command("bash", "load.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DURATION="+duration, "ROUNDS="+strconv.Itoa(rounds))
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("load.sh: %w", err)
	}
	return ParseLoad(&out)
}

// ParseLoad reads load.sh's "load: <mode> <req/s>" (medians) and
// "load-round: <round> <mode> <req/s>" lines.
func ParseLoad(r io.Reader) ([]LoadResult, []LoadRound, error) {
	var out []LoadResult
	var rounds []LoadRound
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "load:":
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("load.sh output %q: %w", sc.Text(), err)
			}
			out = append(out, LoadResult{Mode: f[1], RPS: v})
		case len(f) == 4 && f[0] == "load-round:":
			n, err1 := strconv.Atoi(f[1])
			v, err2 := strconv.ParseFloat(f[3], 64)
			if err := errors.Join(err1, err2); err != nil {
				return nil, nil, fmt.Errorf("load.sh output %q: %w", sc.Text(), err)
			}
			rounds = append(rounds, LoadRound{Round: n, LoadResult: LoadResult{Mode: f[2], RPS: v}})
		}
	}
	if len(out) == 0 {
		return nil, nil, errors.New("load.sh printed no results")
	}
	return out, rounds, sc.Err()
}

// loadAvg returns the 1-minute load average, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func runsOf(r *Results) int {
	n := 0
	for _, row := range r.Rows {
		n = max(n, row.Ns.N)
	}
	return n
}

// gitCommit describes the checkout's HEAD, marked "+changes" when files
// other than the report's own outputs differ from it.
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil {
		for line := range strings.SplitSeq(strings.TrimSpace(string(st)), "\n") {
			if line != "" && !strings.HasSuffix(line, "BENCHMARKS.md") && !strings.HasPrefix(line[min(3, len(line)):], "bench/") {
				return c + "+changes"
			}
		}
	}
	return c
}

func cpuModel() string {
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for line := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "Model name:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func goVersion() string {
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" {
			return v
		}
	}
	return runtime.Version()
}
