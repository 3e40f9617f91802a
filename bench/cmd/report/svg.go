package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

const (
	svgWidth  = 960
	labelW    = 215 // left column for contender names
	plotRight = 800 // bars end before this; value labels after
	rowH      = 26
	barH      = 16
)

var barColor = map[string]string{
	"raw":           "#6b7280",
	"bare":          "#6b7280",
	"codec":         "#9ca3af",
	"sealedsession": "#0f766e",
}

func colorOf(impl string) string {
	if c, ok := barColor[impl]; ok {
		return c
	}
	return "#d08a2e"
}

type bar struct {
	impl  string
	value float64 // what the bar's length shows
	text  string  // label after the bar
}

// niceTicks are the log-axis gridlines the ratio panels may use.
var niceTicks = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}

// SVG renders the chart: time per request as a multiple of the raw limit
// (read-only and read-modify-write, typical payload, log scale) and cookie
// bytes per contender (typical and large payloads).
func (rep *Report) SVG() string {
	r := rep.Results
	var panels strings.Builder
	y := 74
	for _, mode := range []struct{ key, title string }{
		{"read", "Read-only request"},
		{"rmw", "Read-modify-write request"},
	} {
		raw, ok := r.Find("Request", "typical", mode.key, "raw")
		if !ok || raw.Ns.Median == 0 {
			continue
		}
		var bars []bar
		var codecRatio float64
		for _, i := range impls {
			if i.name == "bare" {
				continue
			}
			row, ok := r.Find("Request", "typical", mode.key, i.name)
			if !ok || row.Ns.Median == 0 {
				continue
			}
			x := row.Ns.Median / raw.Ns.Median
			if i.name == "codec" {
				codecRatio = x
			}
			bars = append(bars, bar{i.name, x, fmt.Sprintf("%.2f× · %s", x, fmtNs(row.Ns.Median))})
		}
		target := 0.0
		targetText := ""
		if codecRatio > 0 {
			lim := map[string]float64{"read": ReadTarget, "rmw": RMWTarget}[mode.key]
			target = lim * codecRatio
			targetText = fmt.Sprintf("target %.1f× open+decode", lim)
			if mode.key == "rmw" {
				targetText = fmt.Sprintf("target %.0f× open+seal", lim)
			}
		}
		y = logPanel(&panels, y, mode.title+" — time as a multiple of the raw limit (typical payload, log scale; shorter is faster)", bars, target, targetText)
		y += 18
	}
	// Cookie bytes.
	var cbars []bar
	for _, payload := range []string{"typical", "large"} {
		for _, i := range impls {
			if i.name == "raw" || i.name == "codec" || i.name == "bare" {
				continue
			}
			row, ok := r.Find("Request", payload, "read", i.name)
			if !ok || row.Cookie.Median == 0 {
				continue
			}
			cbars = append(cbars, bar{i.name + "/" + payload, row.Cookie.Median, fmt.Sprintf("%.0f B", row.Cookie.Median)})
		}
	}
	if len(cbars) > 0 {
		y = linearPanel(&panels, y, "Cookie bytes the browser sends back (typical and large payloads; shorter is smaller)", cbars, true)
		y += 18
	}
	// Load test.
	var bare float64
	for _, l := range rep.Load {
		if l.Mode == "bare" {
			bare = l.RPS
		}
	}
	if bare > 0 {
		var lbars []bar
		for _, l := range rep.Load {
			lbars = append(lbars, bar{l.Mode, l.RPS / bare * 100, fmt.Sprintf("%.0f%% · %.0f req/s", l.RPS/bare*100, l.RPS)})
		}
		y = linearPanel(&panels, y, "Hello-world under wrk: requests/s as a percentage of the bare handler (median of each; longer is faster)", lbars, false)
		// The load target, drawn over the panel just made.
		xt := labelW + LoadTarget*100/linearAxisHi(lbars)*(plotRight-labelW)
		top := y - 34 - len(lbars)*rowH
		fmt.Fprintf(&panels, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#0f766e" stroke-width="1.5" stroke-dasharray="5 3" stroke-opacity="0.7"/>`+"\n", xt, top-4, xt, y-34)
		fmt.Fprintf(&panels, `<text x="%.1f" y="%d" font-size="11" fill="#0f766e" text-anchor="middle">target %.0f%%</text>`+"\n", xt, y-6, LoadTarget*100)
		y += 14
	}
	height := y + 24

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="13">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<title>sealedsession benchmarks: time per request relative to the raw limit, and cookie sizes</title>`+"\n")
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	fmt.Fprintf(&b, `<text x="20" y="30" font-size="19" font-weight="600" fill="#111827">sealedsession against its peers and the physical limit</text>`+"\n")
	fmt.Fprintf(&b, `<text x="20" y="52" fill="#4b5563">%s</text>`+"\n", esc(fmt.Sprintf("Medians of %d runs · %s, %d cores · %s · %s", rep.Count, rep.Machine, rep.Cores, rep.GoVersion, rep.Date)))
	b.WriteString(panels.String())
	fmt.Fprintf(&b, `<text x="20" y="%d" font-size="11" fill="#6b7280">raw limit: XChaCha20-Poly1305 + base64url of the same bytes as sealedsession's cookie, no framework · open+decode: sealedsession's sealed+codec, no HTTP</text>`+"\n", height-26)
	fmt.Fprintf(&b, `<text x="20" y="%d" font-size="11" fill="#6b7280">scs keeps the session on the server (its cookie is only a token) · generated by bench/cmd/report; the figures are in BENCHMARKS.md</text>`+"\n", height-11)
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

func barLabel(impl string) string {
	name, payload, ok := strings.Cut(impl, "/")
	if ok {
		return label(name) + " (" + payload + ")"
	}
	return label(impl)
}

// logPanel draws one horizontal bar panel on a log axis and returns the y
// below it.
func logPanel(b *strings.Builder, y int, title string, bars []bar, target float64, targetText string) int {
	lo, hi := math.Inf(1), 0.0
	for _, br := range bars {
		lo = math.Min(lo, br.value)
		hi = math.Max(hi, br.value)
	}
	if target > 0 {
		hi = math.Max(hi, target)
	}
	axisLo, axisHi := niceTicks[0], niceTicks[len(niceTicks)-1]
	for _, t := range niceTicks {
		if t <= lo*0.8 {
			axisLo = t
		}
	}
	for i := len(niceTicks) - 1; i >= 0; i-- {
		if niceTicks[i] >= hi*1.05 {
			axisHi = niceTicks[i]
		}
	}
	x := func(v float64) float64 {
		return labelW + (math.Log(v)-math.Log(axisLo))/(math.Log(axisHi)-math.Log(axisLo))*(plotRight-labelW)
	}
	fmt.Fprintf(b, `<text x="20" y="%d" font-size="14" font-weight="600" fill="#111827">%s</text>`+"\n", y, esc(title))
	top := y + 12
	bottom := top + len(bars)*rowH
	for _, t := range niceTicks {
		if t < axisLo || t > axisHi {
			continue
		}
		xt := x(t)
		stroke := "#e5e7eb"
		if t == 1 {
			stroke = "#9ca3af"
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", xt, top, xt, bottom, stroke)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="#6b7280">%s×</text>`+"\n", xt, bottom+14, fmtNum(t))
	}
	if target > 0 {
		xt := x(target)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#0f766e" stroke-width="1.5" stroke-dasharray="5 3" stroke-opacity="0.7"/>`+"\n", xt, top-4, xt, bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" fill="#0f766e" text-anchor="middle">%s</text>`+"\n", xt, bottom+28, esc(targetText))
	}
	for i, br := range bars {
		cy := top + i*rowH
		weight := "400"
		if br.impl == "sealedsession" {
			weight = "700"
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" font-weight="%s" fill="#111827">%s</text>`+"\n", labelW-10, cy+barH-3, weight, esc(barLabel(br.impl)))
		w := math.Max(x(br.value)-labelW, 1)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" rx="2" fill="%s"><title>%s</title></rect>`+"\n", labelW, cy+2, w, barH, colorOf(br.impl), esc(barLabel(br.impl)+": "+br.text))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-weight="%s" fill="#111827">%s</text>`+"\n", labelW+w+6, cy+barH-3, weight, esc(br.text))
	}
	return bottom + 34
}

// linearAxis returns the tick step and the end of a linear axis from zero
// that holds every bar.
func linearAxis(bars []bar) (step, axisHi float64) {
	hi := 0.0
	for _, br := range bars {
		hi = math.Max(hi, br.value)
	}
	for _, s := range []float64{10, 20, 50, 100, 200, 500, 1000, 2000, 5000} {
		step = s
		if hi/s <= 8 {
			break
		}
	}
	return step, math.Ceil(hi*1.05/step) * step
}

func linearAxisHi(bars []bar) float64 { _, hi := linearAxis(bars); return hi }

// linearPanel draws a horizontal bar panel on a linear axis from zero.
func linearPanel(b *strings.Builder, y int, title string, bars []bar, cookieLimit bool) int {
	step, axisHi := linearAxis(bars)
	x := func(v float64) float64 { return labelW + v/axisHi*(plotRight-labelW) }
	fmt.Fprintf(b, `<text x="20" y="%d" font-size="14" font-weight="600" fill="#111827">%s</text>`+"\n", y, esc(title))
	top := y + 12
	bottom := top + len(bars)*rowH
	for t := 0.0; t <= axisHi; t += step {
		xt := x(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`+"\n", xt, top, xt, bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="#6b7280">%s</text>`+"\n", xt, bottom+14, fmtNum(t))
	}
	if cookieLimit && axisHi >= 4096 {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#b91c1c" stroke-dasharray="5 3"/>`+"\n", x(4096), top-4, x(4096), bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" fill="#b91c1c" text-anchor="middle">4096: one cookie's limit</text>`+"\n", x(4096), bottom+28)
	}
	for i, br := range bars {
		cy := top + i*rowH
		weight := "400"
		name, _, _ := strings.Cut(br.impl, "/")
		if name == "sealedsession" {
			weight = "700"
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" font-weight="%s" fill="#111827">%s</text>`+"\n", labelW-10, cy+barH-3, weight, esc(barLabel(br.impl)))
		w := math.Max(x(br.value)-labelW, 1)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" rx="2" fill="%s"><title>%s</title></rect>`+"\n", labelW, cy+2, w, barH, colorOf(name), esc(barLabel(br.impl)+": "+br.text))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-weight="%s" fill="#111827">%s</text>`+"\n", labelW+w+6, cy+barH-3, weight, esc(br.text))
	}
	return bottom + 34
}
