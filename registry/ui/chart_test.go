package ui

import (
	"strings"
	"testing"
)

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 1}, {1, 1}, {2, 2}, {3, 5}, {7, 10}, {11, 20}, {45, 50}, {99, 100}, {101, 200}, {5000, 5000}, {5001, 10000}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestBarChart(t *testing.T) {
	svg := string(barChart([]Bar{{"11-20", 3, "3 <push>"}, {"11-21", 0, "none"}, {"11-22", 10, "ten"}}, `Actions "per" day`))
	for _, want := range []string{`role="img"`, `aria-label="Actions &#34;per&#34; day"`, `<title>3 &lt;push&gt;</title>`, `>11-22</text>`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %s:\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, `<rect class="bar"`); n != 3 {
		t.Errorf("%d bars, want 3", n)
	}
	for _, bad := range []string{"style=", "<script", "<push>"} {
		if strings.Contains(svg, bad) {
			t.Errorf("the chart holds %q", bad)
		}
	}
	// The tallest bar fills the plot; an empty one has no height.
	if !strings.Contains(svg, `height="0.0"`) {
		t.Errorf("the zero bar has a height:\n%s", svg)
	}
}
