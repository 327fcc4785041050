package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1GiB": 1 << 30, "256MiB": 256 << 20, "64KiB": 64 << 10, "1gib": 1 << 30, "2G": 2 << 30,
		"1GB": 1e9, "5MB": 5e6, "123": 123, "123B": 123, " 2 MiB ": 2 << 20,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "1.5GiB", "1TiB", "0"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func TestParseFlags(t *testing.T) {
	if _, err := parseFlags(nil); err == nil || !strings.Contains(err.Error(), "-wharf") {
		t.Errorf("missing -wharf: %v", err)
	}
	o, err := parseFlags([]string{"-wharf", "bin/wharf", "-size", "256MiB", "-runs", "5"})
	if err != nil {
		t.Fatal(err)
	}
	if o.size != 256<<20 || o.runs != 5 || o.clients != 32 || o.duration.Seconds() != 10 {
		t.Errorf("options %+v", o)
	}
	if _, err := parseFlags([]string{"-wharf", "x", "-size", "10"}); err == nil {
		t.Error("no error for a size below 1 MiB")
	}
}

func TestFinishAndSummary(t *testing.T) {
	r := &results{Settings: settings{SizeBytes: 1 << 30, Runs: 3, Clients: 32, DurationSecs: 10}}
	r.Machine.CPUs = 2
	r.SHA256.BestMiBps = 1000
	mk := func(push, pull, rps []float64) *registryResult {
		rr := &registryResult{Version: "v"}
		for i := range push {
			rr.Push = append(rr.Push, transfer{Run: i + 1, MiBps: push[i], Seconds: 1})
			rr.Pull = append(rr.Pull, transfer{Run: i + 1, MiBps: pull[i], Seconds: 1})
			rr.Manifest = append(rr.Manifest, loadResult{Run: i + 1, RPS: rps[i], Seconds: 10})
		}
		return rr
	}
	r.Wharf = mk([]float64{700, 900, 800}, []float64{2000, 2000, 2000}, []float64{5000, 4000, 6000})
	r.Distribution = mk([]float64{200, 200, 200}, []float64{2100, 1900, 2000}, []float64{2000, 2000, 2000})
	r.finish()
	if r.Wharf.PushMedianMiBps != 800 || r.Ratios.Push != 4 || r.Ratios.Pull != 1 || r.Ratios.Manifest != 2.5 {
		t.Errorf("medians/ratios: %+v %+v", r.Wharf, r.Ratios)
	}
	met := []bool{true, true, true, true}
	for i, tg := range r.Targets {
		if tg.Met != met[i] {
			t.Errorf("target %s: met=%v, want %v", tg.Name, tg.Met, met[i])
		}
	}
	var b strings.Builder
	r.printSummary(&b)
	for _, s := range []string{"push          wharf 800 MiB/s, distribution 200 MiB/s: 4.00x", "push/sha256   wharf 80.0%", "targets met   4 of 4"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, b.String())
		}
	}
}
