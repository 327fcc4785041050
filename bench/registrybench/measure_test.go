package main

import (
	"bytes"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1}, 10},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !equalFloats(in, tc.in) {
			t.Errorf("median reordered its input: %v", in)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFillRandom(t *testing.T) {
	// Longer than one 64 MiB piece and not a multiple of 8, to cover the piece and tail edges.
	n := 64<<20 + 13
	a, b, c := make([]byte, n), make([]byte, n), make([]byte, n)
	fillRandom(a, 1)
	fillRandom(b, 1)
	fillRandom(c, 2)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different content")
	}
	if bytes.Equal(a[:4096], c[:4096]) || bytes.Equal(a[n-4096:], c[n-4096:]) {
		t.Error("different seeds gave the same content")
	}
	if bytes.Equal(a[:8], a[64<<20:64<<20+8]) {
		t.Error("pieces repeat each other")
	}
	zeros := bytes.Count(a[n-5:], []byte{0})
	if zeros == 5 {
		t.Error("the tail was not filled")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses; utime=250 and stime=50 ticks.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 500 18446744073709551615"
	got, err := parseProcStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseProcStatCPU("garbage"); err == nil {
		t.Error("no error for garbage")
	}
}

func TestParseProcStatTotal(t *testing.T) {
	busy, steal, err := parseProcStatTotal("cpu  100 20 30 5000 40 7 8 9 0 0")
	if err != nil {
		t.Fatal(err)
	}
	if busy != 150*clockTick || steal != 9*clockTick {
		t.Errorf("busy %v steal %v, want %v and %v", busy, steal, 150*clockTick, 9*clockTick)
	}
	if _, _, err := parseProcStatTotal("cpu0 1 2 3"); err == nil {
		t.Error("no error for a short line")
	}
}
