package ui

import (
	"fmt"
	"html/template"
	"strings"
)

// Bar is one bar of a chart: its label under the axis (may be empty), its value, and the
// text a pointer over it shows.
type Bar struct {
	Label string
	Value int
	Title string
}

// barChart draws bars as an SVG made on the server: no script, no style attribute (the
// page's Content-Security-Policy allows neither), colours from the stylesheet's classes.
// The SVG is built only from numbers and escaped text. summary is the accessible name.
func barChart(bars []Bar, summary string) template.HTML {
	const width, height, left, bottom, top = 720, 180, 36, 22, 10
	plotW, plotH := float64(width-left-4), float64(height-bottom-top)
	max := 0
	for _, b := range bars {
		if b.Value > max {
			max = b.Value
		}
	}
	scale := niceCeil(max)
	var sb strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&sb, `<svg class="bars" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, width, height, esc(summary))
	fmt.Fprintf(&sb, `<desc>%s</desc>`, esc(summary))
	// Grid lines and their values: zero, half, the top.
	for _, f := range []float64{0, 0.5, 1} {
		y := float64(top) + plotH*(1-f)
		fmt.Fprintf(&sb, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f"></line>`, left, width-4, y, y)
		fmt.Fprintf(&sb, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%d</text>`, left-4, y+3, int(f*float64(scale)))
	}
	if len(bars) > 0 {
		slot := plotW / float64(len(bars))
		gap := slot * 0.2
		// Label every bar when they fit, else about ten of them.
		every := 1
		if len(bars) > 12 {
			every = (len(bars) + 9) / 10
		}
		for i, b := range bars {
			h := 0.0
			if scale > 0 {
				h = plotH * float64(b.Value) / float64(scale)
			}
			x := float64(left) + float64(i)*slot + gap/2
			fmt.Fprintf(&sb, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				x, float64(top)+plotH-h, slot-gap, h, esc(b.Title))
			if b.Label != "" && i%every == 0 {
				fmt.Fprintf(&sb, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+(slot-gap)/2, height-6, esc(b.Label))
			}
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 1), for the chart's top.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	p := 1
	for p*10 < n {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}
