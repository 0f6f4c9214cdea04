package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	name  string
	color string
	x, y  []float64
}

// panel is one chart with its own y axis.
type panel struct {
	title, ylabel string
	lines         []series
	limit         float64 // a dashed horizontal line (a target), 0 for none
	limitLabel    string
}

// writeSweepChart draws CPU per forwarded packet and loss against load,
// our SFU beside the relay baseline, as a standalone SVG.
func writeSweepChart(w io.Writer, title string, reports []*Report) error {
	var sfuCPU, relayCPU, sfuLoss, relayLoss series
	sfuCPU = series{name: "videosupport SFU", color: "#1f6feb"}
	relayCPU = series{name: "UDP relay baseline", color: "#8b949e"}
	sfuLoss, relayLoss = sfuCPU, relayCPU
	sfuLoss.x, sfuLoss.y, relayLoss.x, relayLoss.y = nil, nil, nil, nil
	for _, r := range reports {
		load := r.Server.SentPPS * float64(r.Participants-1) / 1000 // offered forwarded packets, thousands per second
		if r.Server.CPUPerPacketUS >= 0 {
			sfuCPU.x, sfuCPU.y = append(sfuCPU.x, load), append(sfuCPU.y, r.Server.CPUPerPacketUS)
		}
		sfuLoss.x, sfuLoss.y = append(sfuLoss.x, load), append(sfuLoss.y, math.Max(r.Server.Loss, 0)*100)
		if r.Relay != nil {
			if r.Relay.CPUPerPacketUS >= 0 {
				relayCPU.x, relayCPU.y = append(relayCPU.x, load), append(relayCPU.y, r.Relay.CPUPerPacketUS)
			}
			relayLoss.x, relayLoss.y = append(relayLoss.x, load), append(relayLoss.y, math.Max(r.Relay.Loss, 0)*100)
		}
	}
	var cores series
	cores = series{name: "SFU CPU (cores)", color: "#d29922"}
	for _, r := range reports {
		cores.x = append(cores.x, r.Server.SentPPS*float64(r.Participants-1)/1000)
		cores.y = append(cores.y, r.Server.CPUCores)
	}
	panels := []panel{
		{title: "CPU per forwarded packet", ylabel: "µs of CPU", lines: []series{sfuCPU, relayCPU}},
		{title: "Packet loss", ylabel: "% lost", lines: []series{sfuLoss, relayLoss}, limit: 0.5, limitLabel: "0.5% limit"},
		{title: "Server CPU", ylabel: "cores", lines: []series{cores}, limit: 0.8, limitLabel: "80% of a core"},
	}
	return drawPanels(w, title, "offered load (thousand forwarded packets per second)", panels)
}

func drawPanels(w io.Writer, title, xlabel string, panels []panel) error {
	const width, ph, left, right, top, gap = 760.0, 200.0, 70.0, 20.0, 40.0, 60.0
	height := top + float64(len(panels))*(ph+gap) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	xmax := 0.0
	for _, p := range panels {
		for _, s := range p.lines {
			for _, v := range s.x {
				xmax = math.Max(xmax, v)
			}
		}
	}
	xmax = niceCeil(xmax)
	for i, p := range panels {
		y0 := top + float64(i)*(ph+gap) + 10
		ymax := p.limit * 1.25
		for _, s := range p.lines {
			for _, v := range s.y {
				ymax = math.Max(ymax, v)
			}
		}
		ymax = niceCeil(ymax)
		px := func(x float64) float64 { return left + x/xmax*(width-left-right) }
		py := func(y float64) float64 { return y0 + ph - y/ymax*ph }
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0-6, esc(p.title))
		for k := 0; k <= 4; k++ {
			yv := ymax * float64(k) / 4
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
				left, width-right, py(yv), py(yv), left-6, py(yv)+4, trim(yv))
			xv := xmax * float64(k) / 4
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(xv), y0+ph+16, trim(xv))
		}
		fmt.Fprintf(&b, `<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s</text>`+"\n", y0+ph/2, y0+ph/2, esc(p.ylabel))
		if p.limit > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#cf222e" stroke-dasharray="5,4"/><text x="%.1f" y="%.1f" fill="#cf222e" text-anchor="end">%s</text>`+"\n",
				left, width-right, py(p.limit), py(p.limit), width-right, py(p.limit)-4, esc(p.limitLabel))
		}
		for j, s := range p.lines {
			var pts []string
			for k := range s.x {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[k]), py(s.y[k])))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(s.x[k]), py(s.y[k]), s.color)
			}
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
			}
			lx := left + 10 + float64(j)*200
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="3" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`+"\n", lx, y0+8, s.color, lx+16, y0+12, esc(s.name))
		}
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", left+(width-left-right)/2, height-8, esc(xlabel))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
