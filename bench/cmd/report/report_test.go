package main

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixed is a small go test -v -bench output: two runs of a few benchmarks
// and one skipped with gorilla's error.
const fixed = `goos: linux
goarch: amd64
pkg: github.com/sealedsession/sealedsession/bench
cpu: Test CPU
BenchmarkRequest/typical/read/raw-2         	 1000000	       500.0 ns/op	       366.0 cookie-bytes	     400 B/op	       2 allocs/op
BenchmarkRequest/typical/read/raw-2         	 1000000	       520.0 ns/op	       366.0 cookie-bytes	     400 B/op	       2 allocs/op
BenchmarkRequest/typical/read/codec-2       	 1000000	      1000 ns/op	       366.0 cookie-bytes	    1100 B/op	      10 allocs/op
BenchmarkRequest/typical/read/codec-2       	 1000000	      1100 ns/op	       366.0 cookie-bytes	    1100 B/op	      10 allocs/op
BenchmarkRequest/typical/read/sealedsession-2 	  500000	      1400 ns/op	       366.0 cookie-bytes	    2100 B/op	      14 allocs/op
BenchmarkRequest/typical/read/sealedsession-2 	  500000	      1500 ns/op	       366.0 cookie-bytes	    2100 B/op	      14 allocs/op
BenchmarkRequest/typical/read/gorilla-2     	   50000	     24000 ns/op	      1076 cookie-bytes	   19900 B/op	     368 allocs/op
BenchmarkRequest/typical/read/gorilla-2     	   50000	     26000 ns/op	      1076 cookie-bytes	   19900 B/op	     368 allocs/op
BenchmarkRequest/typical/rmw/raw-2          	 1000000	      1200 ns/op	       366.0 cookie-bytes	    1400 B/op	       7 allocs/op
BenchmarkRequest/typical/rmw/codec-2        	 1000000	      2000 ns/op	       366.0 cookie-bytes	    1200 B/op	      12 allocs/op
BenchmarkRequest/typical/rmw/sealedsession-2 	  300000	      5000 ns/op	       366.0 cookie-bytes	    3100 B/op	      21 allocs/op
BenchmarkRequest/typical/rmw/gorilla-2      	   30000	     40000 ns/op	      1076 cookie-bytes	   32000 B/op	     443 allocs/op
BenchmarkReadCost-2   	    1450	   1597929 ns/op	      2000 codec-ns/req	      2900 defaults-ns/req	         1.45 defaults/codec	      2700 no-binding-ns/req	         1.35 no-binding/codec
BenchmarkReadCost-2   	    1431	   1603189 ns/op	      2100 codec-ns/req	      3000 defaults-ns/req	         1.43 defaults/codec	      2800 no-binding-ns/req	         1.33 no-binding/codec
BenchmarkReadCost-2   	    1431	   1603189 ns/op	      2050 codec-ns/req	      2950 defaults-ns/req	         1.44 defaults/codec	      2750 no-binding-ns/req	         1.34 no-binding/codec
BenchmarkScale/64/read/sealedsession
BenchmarkScale/64/read/sealedsession-2      	  500000	      2800 ns/op	  22.86 MB/s	       243.0 cookie-bytes	    1900 B/op	      11 allocs/op
BenchmarkScale/64/read/gorilla
BenchmarkScale/64/read/gorilla-2            	  100000	     21000 ns/op	   3.05 MB/s	       352.0 cookie-bytes	   15000 B/op	     300 allocs/op
BenchmarkScale/4096/read/gorilla
    bench_test.go:101: cannot store: gorilla with a 4096-byte payload: securecookie: the value is too long: 7520
--- SKIP: BenchmarkScale/4096/read/gorilla
BenchmarkScale/4096/read/sealedsession-2    	  100000	     16000 ns/op	 256.00 MB/s	      5641 cookie-bytes	   15000 B/op	      11 allocs/op
PASS
`

func fixedReport(t *testing.T) *Report {
	t.Helper()
	res, err := Parse(strings.NewReader(fixed))
	require.NoError(t, err)
	load, rounds, err := ParseLoad(strings.NewReader("noise\nload-round: 1 bare 21000\nload-round: 1 sealedsession 17000\nload-round: 1 gorilla 9000\n" +
		"load: bare 20000\nload: sealedsession 18000.5\nload: gorilla 9000\n"))
	require.NoError(t, err)
	return &Report{Results: res, Load: load, LoadRounds: rounds, LoadAvg: "1.5 at the start, 2.0 at the end", Note: "A note.", Machine: "Test CPU", Cores: 2, GoVersion: "go1.26.8",
		OS: "linux/amd64", Date: "2026-11-27 09:00 UTC", Count: runsOf(res), Benchtime: "1s", RawFile: "bench/results.txt", Commit: "abc123def456"}
}

func TestParse(t *testing.T) {
	rep := fixedReport(t)
	r := rep.Results
	row, ok := r.Find("Request", "typical", "read", "raw")
	require.True(t, ok, "raw read row missing")
	assert.Equal(t, 510.0, row.Ns.Median, "raw read row: ns/op median")
	assert.Equal(t, 2, row.Ns.N, "raw read row: ns/op runs")
	assert.Equal(t, 366.0, row.Cookie.Median, "raw read row: cookie-bytes median")
	assert.Equal(t, 2.0, row.Allocs.Median, "raw read row: allocs/op median")
	assert.Equal(t, 400.0, row.B.Median, "raw read row: B/op median")
	assert.Equal(t, 2, rep.Count, "Count")
	s, ok := r.SkipFor("Scale", "4096", "read", "gorilla")
	if assert.True(t, ok, "gorilla skip missing") {
		assert.Contains(t, s.Reason, "securecookie: the value is too long", "gorilla skip reason")
		assert.NotContains(t, s.Reason, "bench_test.go", "gorilla skip reason")
	}
	_, ok = r.Find("Scale", "4096", "read", "gorilla")
	assert.False(t, ok, "a skipped benchmark has a row")
	_, err := Parse(strings.NewReader("PASS\n"))
	assert.Error(t, err, "Parse accepted output without results")
}

// TestParseReadCost: BenchmarkReadCost's custom metrics become one row
// per variant, in the benchmark's order, with medians over the runs.
func TestParseReadCost(t *testing.T) {
	rc := fixedReport(t).Results.ReadCost
	require.Len(t, rc, 3)
	assert.Equal(t, []string{"codec", "defaults", "no-binding"}, []string{rc[0].Variant, rc[1].Variant, rc[2].Variant})
	assert.InDelta(t, 2050.0, rc[0].Ns.Median, 1e-6)
	assert.Equal(t, 0, rc[0].Ratio.N, "codec has no ratio to itself")
	assert.Equal(t, 1.44, rc[1].Ratio.Median)
	assert.InDelta(t, 2750.0, rc[2].Ns.Median, 1e-6)
	assert.Equal(t, 3, rc[2].Ratio.N)
	// ReadCost is not a four-part row and does not become one.
	for _, row := range fixedReport(t).Results.Rows {
		assert.NotEqual(t, "ReadCost", row.Group)
	}
}

func TestTargets(t *testing.T) {
	got := map[string]Target{}
	for _, tg := range fixedReport(t).Targets() {
		got[tg.What] = tg
	}
	check := func(prefix string, known, met bool) {
		t.Helper()
		for what, tg := range got {
			if strings.HasPrefix(what, prefix) {
				assert.Equal(t, known, tg.Known, "%s: known (%s)", what, tg.Measured)
				assert.Equal(t, met, tg.Met, "%s: met (%s)", what, tg.Measured)
				return
			}
		}
		assert.Failf(t, "no target", "prefix %q", prefix)
	}
	check("read-only request ≤ 1.3× raw open+decode", true, false) // 1450/1050 = 1.38
	check("read-modify-write ≤ 2× raw open+decode", true, false)   // 5000/2000 = 2.5
	check("≥ 15× faster than gorilla/sessions (read)", true, true) // 25000/1450 = 17
	check("≥ 15× faster than gorilla/sessions (rmw)", true, false) // 8×
	check("cookie ≥ 40% smaller", true, true)                      // 66%
	check("wrapped hello-world ≥ 90%", true, false)                // one paired round: 81%
}

func TestMarkdown(t *testing.T) {
	md := fixedReport(t).Markdown()
	for _, want := range []string{
		"# Benchmarks", "| machine | Test CPU, 2 cores |", "| commit | abc123def456 |", "| Go | go1.26.8 |", "2026-11-27 09:00 UTC", "| commit | abc123def456 |",
		"![Time per request as a multiple of the raw limit](bench/ratios.svg)",
		"| **sealedsession** | 1.45 µs | 2100 | 14 | 366 |", "| 2.84× |", // × raw limit
		"| 64 | 2.80 µs | – | 243 | 21.00 µs | – | 352 |",
		"| 4096 | 16.00 µs | – | 5641 | fails | – | – |",
		"securecookie: the value is too long: 7520",
		"| sealedsession | 18000 | 90% |", "| 1 | 21000 | 17000 (81%) | 9000 (43%) |",
		"| load average (1 min) | 1.5 at the start, 2.0 at the end |", "\nA note.\n",
		"met", "**missed**", "[bench/results.txt](bench/results.txt)",
		"## What the read's checks cost",
		"| codec: open+decode, no HTTP (the read target's reference) | 2.05 µs | 1 | – |",
		"| defaults: the middleware as configured by default | 2.95 µs | 1.44× | – |",
		"| no-binding: without the client binding (`ClientChangeIgnore`) | 2.75 µs | 1.34× | 200 ns |",
	} {
		assert.Contains(t, md, want, "markdown")
	}
	for _, bad := range []string{"NaN", "Inf", "%!"} {
		assert.NotContains(t, md, bad, "markdown")
	}
	// Every table row has as many cells as its header.
	var cols int
	for line := range strings.SplitSeq(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|")
		if cols == 0 {
			cols = n
		} else {
			assert.Equal(t, cols, n, "bars in table row %q (as many as its header)", line)
		}
	}
}

func TestSVG(t *testing.T) {
	svg := fixedReport(t).SVG()
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects, texts := 0, 0
	var allText strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "SVG is not well-formed XML")
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "rect":
				rects++
				for _, a := range el.Attr {
					if a.Name.Local == "width" {
						assert.NotRegexp(t, `NaN|Inf|^-`, a.Value, "rect width")
					}
				}
			case "text":
				texts++
			}
		case xml.CharData:
			allText.Write(el)
		}
	}
	// Background + 4 read bars + 4 rmw bars + 2 cookie bars (sealedsession,
	// gorilla) + 3 load bars.
	assert.Equal(t, 1+4+4+2+3, rects, "rects")
	for _, want := range []string{"Read-only request", "Read-modify-write request", "2.84× · 1.45 µs", "1.00× · 510 ns", "target 1.3× open+decode", "1076 B", "Test CPU", "90% · 18000 req/s", "target 90%"} {
		assert.Contains(t, allText.String(), want, "SVG text")
	}
	assert.True(t, strings.HasPrefix(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""), "SVG head %q", svg[:min(60, len(svg))])
	assert.GreaterOrEqual(t, texts, 10, "SVG texts")
}

func TestFmt(t *testing.T) {
	for _, c := range []struct {
		ns   float64
		want string
	}{{0, "–"}, {512, "512 ns"}, {1450, "1.45 µs"}, {2.5e6, "2.50 ms"}} {
		assert.Equal(t, c.want, fmtNs(c.ns), "fmtNs(%v)", c.ns)
	}
	assert.Equal(t, " ±10%", fmtCI(Stat{Median: 100, Lo: 90, Hi: 105, N: 6}), "fmtCI")
	assert.Empty(t, fmtCI(Stat{Median: 100, Lo: math.Inf(-1), Hi: math.Inf(1), N: 2}), "fmtCI with an infinite interval")
}
