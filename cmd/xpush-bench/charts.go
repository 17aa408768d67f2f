package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// summaryChart is the file name of the four main charts in one image,
// the one the README shows.
const summaryChart = "summary.png"

// chartSpec is one bar chart: a figure of every run, servers side by
// side per size.
type chartSpec struct {
	name  string
	title string
	unit  string
	get   func(*Result) (float64, bool)
}

var chartSpecs = []chartSpec{
	{"rss-per-session.png", "RSS per idle session (lower is better)", "KiB", rssPerSession},
	{"logins.png", "Logins per second (higher is better)", "logins/s", loginRate},
	{"push-p50.png", "Push latency p50 (lower is better)", "ms", pushP50},
	{"push-p99.png", "Push latency p99 (lower is better)", "ms", pushP99},
	{"broadcast.png", "Broadcast deliveries per second (higher is better)", "deliveries/s", broadcastRate},
}

// summarySpecs are the charts tiled into summaryChart, 2×2.
var summarySpecs = []string{"rss-per-session.png", "logins.png", "push-p99.png", "broadcast.png"}

// serverColors gives each known server the same colour in every chart.
var serverColors = map[string]color.RGBA{
	"xpushd":   {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"prosody":  {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"ejabberd": {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

var otherColors = []color.RGBA{
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

func (rep *report) colorOf(kind string) color.RGBA {
	if c, ok := serverColors[kind]; ok {
		return c
	}
	i := 0
	for _, k := range rep.kinds {
		if k == kind {
			break
		}
		if _, ok := serverColors[k]; !ok {
			i++
		}
	}
	return otherColors[i%len(otherColors)]
}

// Chart sizes.
const (
	chartWidth  = 16 * vg.Centimeter
	chartHeight = 10 * vg.Centimeter
)

// writeCharts writes one PNG per figure that some run has, and the
// summary, into dir.
func writeCharts(dir string, rep *report) ([]chartFile, error) {
	var files []chartFile
	plots := map[string]*plot.Plot{}
	for _, spec := range chartSpecs {
		p, err := rep.barChart(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		if p == nil {
			continue
		}
		if err := p.Save(chartWidth, chartHeight, filepath.Join(dir, spec.name)); err != nil {
			return nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		plots[spec.name] = p
		files = append(files, chartFile{name: spec.name, title: spec.title})
	}
	if len(files) == 0 {
		return nil, errNoFigures
	}
	if err := writeSummary(filepath.Join(dir, summaryChart), plots); err != nil {
		return nil, fmt.Errorf("%s: %w", summaryChart, err)
	}
	return append([]chartFile{{name: summaryChart, title: "xpushd, Prosody and ejabberd: memory, logins, latency, broadcast"}}, files...), nil
}

// barChart draws spec's figure: one group of bars per size, one bar per
// server, each labelled with its value. It returns nil when no run has
// the figure.
func (rep *report) barChart(spec chartSpec) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = spec.title
	p.Y.Label.Text = spec.unit
	p.X.Label.Text = "sessions"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	p.Add(grid)
	var names []string
	for _, n := range rep.sizes {
		name := thousands(float64(n))
		if !rep.anyFigures(n) {
			name += " (no runs)"
		}
		names = append(names, name)
	}
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = tickLabel(ticks[i].Value)
			}
		}
		return ticks
	})
	k := len(rep.kinds)
	width := vg.Points(min(36, 240/float64(max(1, k*len(rep.sizes)))))
	some := false
	maxV := 0.0
	for j, kind := range rep.kinds {
		vals := make(plotter.Values, len(rep.sizes))
		var labels plotter.XYLabels
		for i, n := range rep.sizes {
			r := rep.find(kind, n)
			if r == nil || failed(r) != "" {
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: 0})
				labels.Labels = append(labels.Labels, "")
				continue
			}
			v, ok := spec.get(r)
			if !ok {
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: 0})
				labels.Labels = append(labels.Labels, "")
				continue
			}
			vals[i] = v
			maxV = max(maxV, v)
			some = true
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: v})
			labels.Labels = append(labels.Labels, figureText(v))
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		offset := (float64(j) - float64(k-1)/2) * float64(width)
		bars.Offset = vg.Length(offset)
		c := rep.colorOf(kind)
		bars.Color = c
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(serverName(kind), bars)
		lab, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i].XAlign = draw.XCenter
			lab.TextStyle[i].Font.Size = vg.Points(7)
		}
		lab.Offset = vg.Point{X: vg.Length(offset), Y: vg.Points(2)}
		p.Add(lab)
	}
	if !some {
		return nil, nil
	}
	// Room above the tallest bar for its label and the legend.
	p.Y.Max = maxV * 1.5
	p.NominalX(names...)
	return p, nil
}

// writeSummary tiles the main charts into one PNG, 2×2.
func writeSummary(path string, plots map[string]*plot.Plot) error {
	var ps []*plot.Plot
	for _, name := range summarySpecs {
		if p := plots[name]; p != nil {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return errNoFigures
	}
	const cols = 2
	rows := (len(ps) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i, p := range ps {
		grid[i/cols] = append(grid[i/cols], p)
	}
	for i := range grid {
		for len(grid[i]) < cols {
			grid[i] = append(grid[i], nil)
		}
	}
	img := vgimg.New(2*chartWidth, vg.Length(rows)*chartHeight)
	dc := draw.New(img)
	t := draw.Tiles{
		Rows: rows, Cols: cols, PadX: vg.Millimeter, PadY: vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter,
	}
	canvases := plot.Align(grid, t, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// anyFigures reports whether some run at n sessions has figures.
func (rep *report) anyFigures(n int) bool {
	for _, r := range rep.runs {
		if r.Sessions == n && failed(r) == "" {
			return true
		}
	}
	return false
}

// tickLabel formats an axis value: 2.5, 40, 12,000.
func tickLabel(v float64) string {
	if math.Abs(v) >= 1000 {
		return thousands(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
