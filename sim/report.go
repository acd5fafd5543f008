package sim

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of one run (written as report.json and report.html).
type Report struct {
	Scenario  string  `json:"scenario"`
	Seed      uint64  `json:"seed"`
	Command   string  `json:"command"`
	Simulated string  `json:"simulated"`
	Wall      string  `json:"wall"`
	WallSec   float64 `json:"wall_s"`
	Nodes     int     `json:"nodes"`
	// NodeHoursPerSec is simulated node-hours per wall-clock second.
	NodeHoursPerSec float64          `json:"node_hours_per_wall_s"`
	Events          uint64           `json:"events"`
	TraceHash       string           `json:"trace_sha256"`
	Knobs           []string         `json:"knobs"`
	Violations      []Violation      `json:"violations"`
	ViolationCount  int              `json:"violation_count"`
	Plays           int              `json:"plays"`
	Levels          map[string][]int `json:"plays_per_level_per_bucket"`
	BucketSec       float64          `json:"bucket_s"`
	Stores          []StoreReport    `json:"stores"`
	// Convergence of the catalog inside a store: first node at a revision to every live node at it, in ms.
	ConvergeSamples int       `json:"converge_samples"`
	ConvergeP50ms   float64   `json:"converge_p50_ms"`
	ConvergeP99ms   float64   `json:"converge_p99_ms"`
	ConvergeMaxms   float64   `json:"converge_max_ms"`
	ConvergeAll     []float64 `json:"-"`
	Gossip          int       `json:"gossip_payloads"`
	GossipBytes     int64     `json:"gossip_bytes"`
	PushPulls       int       `json:"push_pulls"`
	PushPullBytes   int64     `json:"push_pull_bytes"`
}

// StoreReport is one store's uplink figures.
type StoreReport struct {
	Store         int       `json:"store"`
	UplinkBytes   int64     `json:"uplink_bytes"`
	UniqueBytes   int64     `json:"unique_bytes"`
	Amplification float64   `json:"amplification"`
	CloudPulls    int       `json:"cloud_pulls"`
	Sides         int       `json:"lan_sides"`
	HealConverge  string    `json:"heal_converged_after"`
	Series        []float64 `json:"uplink_bytes_per_bucket"`
}

// Failed reports whether any invariant broke.
func (r *Report) Failed() bool { return r.ViolationCount > 0 }

func (w *world) report(wall time.Duration) *Report {
	sim := w.sc.Chaos + w.sc.Heal
	r := &Report{Scenario: w.sc.Name, Seed: w.opts.Seed, Simulated: sim.String(), Wall: wall.Round(time.Millisecond).String(),
		WallSec: wall.Seconds(), Nodes: len(w.nodes), Events: w.events, TraceHash: w.traceHash(), Knobs: w.knobs,
		Violations: w.violations, ViolationCount: w.met.violations, Plays: w.met.plays, Levels: w.met.levels,
		BucketSec: w.met.bucket.Seconds(), Gossip: w.met.gossipN, GossipBytes: w.met.gossipB,
		PushPulls: w.met.pushPullN, PushPullBytes: w.met.pushPullB}
	r.Command = w.command()
	if wall > 0 {
		r.NodeHoursPerSec = float64(len(w.nodes)) * sim.Hours() / wall.Seconds()
	}
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	for _, st := range w.stores {
		m := w.met.store(st)
		sr := StoreReport{Store: st.idx, UplinkBytes: int64(m.uplinkBytes), Sides: st.sides, Series: m.series,
			HealConverge: "never"}
		if st.healConvAt >= 0 {
			sr.HealConverge = st.healConvAt.String()
		}
		for sha, n := range m.pulls {
			sr.CloudPulls += n
			sr.UniqueBytes += m.sizes[sha]
		}
		if sr.UniqueBytes > 0 {
			sr.Amplification = float64(sr.UplinkBytes) / float64(sr.UniqueBytes)
		}
		r.Stores = append(r.Stores, sr)
	}
	c := slices.Clone(w.met.converge)
	slices.Sort(c)
	r.ConvergeSamples = len(c)
	for _, d := range c {
		r.ConvergeAll = append(r.ConvergeAll, float64(d)/1e6)
	}
	if len(c) > 0 {
		q := func(p float64) float64 { return float64(c[min(int(p*float64(len(c))), len(c)-1)]) / 1e6 }
		r.ConvergeP50ms, r.ConvergeP99ms, r.ConvergeMaxms = q(0.5), q(0.99), float64(c[len(c)-1])/1e6
	}
	return r
}

// command is the command line that reproduces the run.
func (w *world) command() string {
	path := w.opts.ScenarioPath
	if path == "" {
		path = w.sc.Name
	}
	return fmt.Sprintf("lomuz sim --scenario %s --seed %d", path, w.opts.Seed)
}

// Summary is a few lines for a terminal.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s seed %d: %s simulated in %s (%d nodes, %.3f node-hours per wall second), %d events, %d plays\n",
		r.Scenario, r.Seed, r.Simulated, r.Wall, r.Nodes, r.NodeHoursPerSec, r.Events, r.Plays)
	for _, s := range r.Stores {
		fmt.Fprintf(&b, "  store %d: uplink %d B for %d B of distinct blobs (amplification %.3f, %d cloud pulls, %d LAN sides), converged %s after heal\n",
			s.Store, s.UplinkBytes, s.UniqueBytes, s.Amplification, s.CloudPulls, s.Sides, s.HealConverge)
	}
	fmt.Fprintf(&b, "  catalog convergence in a store: p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d revisions\n",
		r.ConvergeP50ms, r.ConvergeP99ms, r.ConvergeMaxms, r.ConvergeSamples)
	fmt.Fprintf(&b, "  trace sha256 %s\n", r.TraceHash)
	if r.Failed() {
		fmt.Fprintf(&b, "FAILED: %d invariant violations; first:\n", r.ViolationCount)
		for i, v := range r.Violations {
			if i == 10 {
				break
			}
			fmt.Fprintf(&b, "  %s\n", v)
		}
		fmt.Fprintf(&b, "reproduce with: %s\n", r.Command)
	}
	return b.String()
}

// Write saves report.json and report.html into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	if err := pageTmpl.Execute(f, r.page()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// svgSeries is one line of a plot.
type svgSeries struct {
	Name, Color, Points string
	LX                  float64 // legend position
}

type svgPlot struct {
	Title, YLabel string
	Max           string
	Lines         []svgSeries
	Bars          []svgBar
}

type svgBar struct {
	X, Y, W, H float64
	Label      string
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
	"#bcbd22", "#17becf"}

const plotW, plotH = 640.0, 200.0

func linePlot(title, ylabel string, names []string, series [][]float64) svgPlot {
	p := svgPlot{Title: title, YLabel: ylabel}
	top := 0.0
	for _, s := range series {
		for _, v := range s {
			top = max(top, v)
		}
	}
	p.Max = fmt.Sprintf("%.4g", top)
	if top == 0 {
		top = 1
	}
	for i, s := range series {
		var pts []string
		for j, v := range s {
			x := float64(j) / float64(max(len(s)-1, 1)) * plotW
			y := plotH - v/top*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		p.Lines = append(p.Lines, svgSeries{Name: names[i], Color: palette[i%len(palette)], Points: strings.Join(pts, " "),
			LX: float64(i%8) * 80})
	}
	return p
}

func barPlot(title, ylabel string, labels []string, vals []float64) svgPlot {
	p := svgPlot{Title: title, YLabel: ylabel}
	top := 0.0
	for _, v := range vals {
		top = max(top, v)
	}
	p.Max = fmt.Sprintf("%.4g", top)
	if top == 0 {
		top = 1
	}
	bw := plotW / float64(max(len(vals), 1))
	for i, v := range vals {
		h := v / top * plotH
		p.Bars = append(p.Bars, svgBar{X: float64(i) * bw, Y: plotH - h, W: bw * 0.8, H: h, Label: labels[i]})
	}
	return p
}

type page struct {
	R     *Report
	Plots []svgPlot
}

func (r *Report) page() page {
	pg := page{R: r}
	var names []string
	var series [][]float64
	for _, s := range r.Stores {
		names = append(names, fmt.Sprintf("store %d", s.Store))
		series = append(series, s.Series)
	}
	pg.Plots = append(pg.Plots, linePlot(fmt.Sprintf("Uplink bytes per store per %gs", r.BucketSec), "bytes", names, series))
	// Convergence distribution: a histogram over 20 bins.
	if len(r.ConvergeAll) > 0 {
		top := r.ConvergeAll[len(r.ConvergeAll)-1]
		bins := make([]float64, 20)
		labels := make([]string, 20)
		for i := range labels {
			labels[i] = fmt.Sprintf("<= %.0f ms", top*float64(i+1)/20)
		}
		for _, v := range r.ConvergeAll {
			i := 19
			if top > 0 {
				i = min(int(v/top*20), 19)
			}
			bins[i]++
		}
		pg.Plots = append(pg.Plots, barPlot(fmt.Sprintf("Catalog convergence inside a store (%d revisions, max %.0f ms)", len(r.ConvergeAll), top), "revisions", labels, bins))
	}
	var lnames []string
	var lseries [][]float64
	for _, l := range []string{"scheduled", "spot", "emergency", "builtin", "silence"} {
		if s, ok := r.Levels[l]; ok {
			f := make([]float64, len(s))
			for i, v := range s {
				f[i] = float64(v)
			}
			lnames, lseries = append(lnames, l), append(lseries, f)
		}
	}
	pg.Plots = append(pg.Plots, linePlot(fmt.Sprintf("Plays per fallback level per %gs", r.BucketSec), "plays", lnames, lseries))
	var alabels []string
	var avals []float64
	for _, s := range r.Stores {
		alabels = append(alabels, fmt.Sprintf("store %d: %.3f", s.Store, s.Amplification))
		avals = append(avals, s.Amplification)
	}
	pg.Plots = append(pg.Plots, barPlot("Uplink amplification per store (bytes / distinct blob bytes)", "x", alabels, avals))
	return pg
}

var pageTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>lomuz sim {{.R.Scenario}} seed {{.R.Seed}}</title>
<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}svg{background:#fafafa;border:1px solid #ddd}
.bad{color:#b00}code{background:#eee;padding:2px 4px}td,th{padding:2px 8px;text-align:left}</style></head><body>
<h1>Scenario {{.R.Scenario}}, seed {{.R.Seed}}</h1>
<p>{{.R.Simulated}} simulated in {{.R.Wall}}; {{.R.Nodes}} nodes; {{printf "%.3f" .R.NodeHoursPerSec}} node-hours per wall second;
{{.R.Events}} events; {{.R.Plays}} plays. Trace sha256 <code>{{.R.TraceHash}}</code>.</p>
<p>Reproduce: <code>{{.R.Command}}</code></p>
{{if .R.ViolationCount}}<h2 class="bad">{{.R.ViolationCount}} invariant violations</h2><ul>
{{range .R.Violations}}<li class="bad">{{.}}</li>{{end}}</ul>{{else}}<h2>All invariants held</h2>{{end}}
<table><tr><th>store</th><th>uplink bytes</th><th>distinct blob bytes</th><th>amplification</th><th>cloud pulls</th><th>LAN sides</th><th>converged after heal</th></tr>
{{range .R.Stores}}<tr><td>{{.Store}}</td><td>{{.UplinkBytes}}</td><td>{{.UniqueBytes}}</td><td>{{printf "%.3f" .Amplification}}</td><td>{{.CloudPulls}}</td><td>{{.Sides}}</td><td>{{.HealConverge}}</td></tr>{{end}}
</table>
<p>Catalog convergence inside a store: p50 {{printf "%.0f" .R.ConvergeP50ms}} ms, p99 {{printf "%.0f" .R.ConvergeP99ms}} ms, max {{printf "%.0f" .R.ConvergeMaxms}} ms.</p>
{{range .Plots}}<h3>{{.Title}}</h3>
<svg xmlns="http://www.w3.org/2000/svg" width="700" height="250" viewBox="-50 -10 700 250">
<line x1="0" y1="200" x2="640" y2="200" stroke="#444"/><line x1="0" y1="0" x2="0" y2="200" stroke="#444"/>
<text x="-45" y="8" font-size="10">{{.Max}}</text><text x="-45" y="200" font-size="10">0</text>
<text x="-45" y="100" font-size="10">{{.YLabel}}</text>
{{range $l := .Lines}}<polyline fill="none" stroke="{{$l.Color}}" stroke-width="1.5" points="{{$l.Points}}"/>
<text x="{{$l.LX}}" y="225" font-size="10" fill="{{$l.Color}}">{{$l.Name}}</text>{{end}}
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#1f77b4"><title>{{.Label}}</title></rect>{{end}}
</svg>{{end}}
<h2>Knobs drawn from the seed</h2><ul>{{range .R.Knobs}}<li>{{.}}</li>{{end}}</ul>
</body></html>
`))
