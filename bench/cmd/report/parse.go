package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Stat is the median of one metric over a benchmark's runs, with its 95%
// confidence interval.
type Stat struct {
	Median, Lo, Hi float64
	N              int
}

// Row is one benchmark: BenchmarkRequest/<payload>/<mode>/<impl> or
// BenchmarkScale/<bytes>/<mode>/<impl>.
type Row struct {
	Group   string // "Request" or "Scale"
	Payload string // "typical", "large", or a size in bytes
	Mode    string // "read" or "rmw"
	Impl    string
	Ns      Stat // ns/op
	B       Stat // B/op
	Allocs  Stat // allocs/op
	Cookie  Stat // cookie-bytes
}

// Skip is a benchmark that did not run, with the reason it gave (for
// gorilla past its limit: securecookie's error).
type Skip struct {
	Group, Payload, Mode, Impl string
	Reason                     string
}

// Results are the parsed benchmark output.
type Results struct {
	Rows  []Row
	Skips []Skip
	// ReadCost is BenchmarkReadCost's interleaved variants, in the order
	// the benchmark reported them ("codec" first).
	ReadCost []CostRow
}

// CostRow is one variant of BenchmarkReadCost: its time per request and
// its ratio to open+decode in the same iterations (no Ratio for codec).
type CostRow struct {
	Variant string
	Ns      Stat
	Ratio   Stat
}

// Find returns the row with the given coordinates.
func (r *Results) Find(group, payload, mode, impl string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Group == group && row.Payload == payload && row.Mode == mode && row.Impl == impl {
			return row, true
		}
	}
	return Row{}, false
}

// SkipFor returns the skip record for the given coordinates.
func (r *Results) SkipFor(group, payload, mode, impl string) (Skip, bool) {
	for _, s := range r.Skips {
		if s.Group == group && s.Payload == payload && s.Mode == mode && s.Impl == impl {
			return s, true
		}
	}
	return Skip{}, false
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// trimName drops a benchmark name's "Benchmark" prefix and GOMAXPROCS
// suffix: "BenchmarkReadCost-2" is "ReadCost".
func trimName(name string) string {
	return procsSuffix.ReplaceAllString(strings.TrimPrefix(name, "Benchmark"), "")
}

// splitName splits "Request/typical/read/raw-2" into its four parts.
func splitName(name string) (group, payload, mode, impl string, ok bool) {
	parts := strings.Split(trimName(name), "/")
	if len(parts) != 4 {
		return "", "", "", "", false
	}
	return parts[0], parts[1], parts[2], parts[3], true
}

// Parse reads `go test -bench` output (any -count) and summarises every
// benchmark's metrics by their median (benchmath, assuming nothing about
// the distribution, as benchstat does).
func Parse(in io.Reader) (*Results, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	type key struct{ group, payload, mode, impl string }
	samples := map[key]map[string][]float64{}
	var order []key
	type costSamples struct{ ns, ratio []float64 }
	costs := map[string]*costSamples{}
	var costOrder []string
	br := benchfmt.NewReader(bytes.NewReader(data), "bench output")
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		if trimName(res.Name.String()) == "ReadCost" {
			for _, v := range res.Values {
				// benchfmt tidies "-ns/req" into "-sec/req" (seconds).
				name, isTime := strings.CutSuffix(v.Unit, "-sec/req")
				name, isRatio := strings.CutSuffix(name, "/codec")
				if !isTime && !isRatio {
					continue
				}
				c := costs[name]
				if c == nil {
					c = &costSamples{}
					costs[name] = c
					costOrder = append(costOrder, name)
				}
				if isTime {
					c.ns = append(c.ns, v.Value)
				} else {
					c.ratio = append(c.ratio, v.Value)
				}
			}
			continue
		}
		g, p, m, i, ok := splitName(res.Name.String())
		if !ok {
			continue
		}
		k := key{g, p, m, i}
		if samples[k] == nil {
			samples[k] = map[string][]float64{}
			order = append(order, k)
		}
		for _, v := range res.Values {
			samples[k][v.Unit] = append(samples[k][v.Unit], v.Value)
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	r := &Results{}
	for _, k := range order {
		s := samples[k]
		row := Row{Group: k.group, Payload: k.payload, Mode: k.mode, Impl: k.impl,
			Ns: summarise(s["sec/op"], 1e9), B: summarise(s["B/op"], 1),
			Allocs: summarise(s["allocs/op"], 1), Cookie: summarise(s["cookie-bytes"], 1)}
		r.Rows = append(r.Rows, row)
	}
	for _, v := range costOrder {
		r.ReadCost = append(r.ReadCost, CostRow{Variant: v, Ns: summarise(costs[v].ns, 1e9), Ratio: summarise(costs[v].ratio, 1)})
	}
	r.Skips = parseSkips(data)
	if len(r.Rows) == 0 {
		return nil, fmt.Errorf("report: no benchmark results in the input")
	}
	return r, nil
}

func summarise(values []float64, scale float64) Stat {
	if len(values) == 0 {
		return Stat{}
	}
	vs := slices.Clone(values)
	for i := range vs {
		vs[i] *= scale
	}
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(vs, &benchmath.DefaultThresholds), 0.95)
	return Stat{Median: s.Center, Lo: s.Lo, Hi: s.Hi, N: len(vs)}
}

var fileLinePrefix = regexp.MustCompile(`^\S+\.go:\d+: `)

// parseSkips finds skipped benchmarks and the reason each logged. With
// go test -v the log line comes before "--- SKIP: BenchmarkX/..."; without
// -v (other tools) it may come after.
func parseSkips(data []byte) []Skip {
	var out []Skip
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var pending, lastLog string
	add := func(name, reason string) {
		if g, p, m, i, ok := splitName(name); ok && !seen[name] {
			seen[name] = true
			out = append(out, Skip{Group: g, Payload: p, Mode: m, Impl: i, Reason: reason})
		}
	}
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "--- SKIP: "):
			name := strings.Fields(strings.TrimPrefix(trimmed, "--- SKIP: "))[0]
			if lastLog != "" {
				add(name, lastLog)
				pending = ""
			} else {
				pending = name
			}
			lastLog = ""
		case line != trimmed && fileLinePrefix.MatchString(trimmed):
			msg := fileLinePrefix.ReplaceAllString(trimmed, "")
			if pending != "" {
				add(pending, msg)
				pending = ""
			} else {
				lastLog = msg
			}
		case strings.HasPrefix(trimmed, "Benchmark"):
			lastLog, pending = "", ""
		}
	}
	return out
}
