package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// results is everything one benchmark run measured (also its -json output).
type results struct {
	Date     string   `json:"date"`
	Machine  machine  `json:"machine"`
	Settings settings `json:"settings"`
	SHA256   struct {
		SamplesMiBps []float64 `json:"samples_mib_per_s"`
		BestMiBps    float64   `json:"best_mib_per_s"`
	} `json:"sha256_single_core"`
	// DiskMiBps is the speed of a durable write (write, then fsync) of the blob's size to the
	// work directory: the ceiling of a push by a registry that makes pushed blobs durable.
	DiskMiBps    float64         `json:"disk_durable_write_mib_per_s"`
	Wharf        *registryResult `json:"wharf"`
	Distribution *registryResult `json:"distribution"`
	Ratios       struct {
		Push     float64 `json:"push"`
		Pull     float64 `json:"pull"`
		Manifest float64 `json:"manifest_get"`
	} `json:"ratios_wharf_over_distribution"`
	Targets []targetResult `json:"targets"`
	// Warnings name measurements during which the rest of the machine was busy.
	Warnings []string `json:"warnings,omitempty"`
}

type machine struct {
	CPUs     int     `json:"cpus"`
	CPUModel string  `json:"cpu_model"`
	MemGiB   float64 `json:"mem_gib"`
	Kernel   string  `json:"kernel"`
	Go       string  `json:"go"`
}

type settings struct {
	SizeBytes      int64   `json:"size_bytes"`
	Runs           int     `json:"runs"`
	Clients        int     `json:"clients"`
	DurationSecs   float64 `json:"duration_seconds"`
	WarmupSecs     float64 `json:"warmup_seconds"`
	WorkDir        string  `json:"work_dir"`
	WharfBinary    string  `json:"wharf_binary"`
	RegistryBinary string  `json:"registry_binary"`
	WarmCache      bool    `json:"warm_page_cache_before_push"`
	QuietWaitSecs  float64 `json:"quiet_wait_seconds"`
}

// registryResult is one registry's measurements.
type registryResult struct {
	Version         string       `json:"version"`
	Push            []transfer   `json:"push"`
	PushMedianMiBps float64      `json:"push_median_mib_per_s"`
	PushOfSHA256    float64      `json:"push_fraction_of_sha256"`
	Pull            []transfer   `json:"pull"`
	PullMedianMiBps float64      `json:"pull_median_mib_per_s"`
	Manifest        []loadResult `json:"manifest_get"`
	ManifestRPS     float64      `json:"manifest_get_median_requests_per_second"`
	// Server CPU cost, medians: less sensitive to other work on the machine than the rates.
	PushCPUPerGiB      float64 `json:"push_server_cpu_seconds_per_gib"`
	PullCPUPerGiB      float64 `json:"pull_server_cpu_seconds_per_gib"`
	ManifestCPUPerReqU float64 `json:"manifest_get_server_cpu_us_per_request"`
}

// transfer is one timed push or pull of the large blob.
type transfer struct {
	Run       int     `json:"run"`
	Digest    string  `json:"digest"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	MiBps     float64 `json:"mib_per_s"`
	ServerCPU float64 `json:"server_cpu_seconds"`
	ClientCPU float64 `json:"client_cpu_seconds"`
	OtherCPU  float64 `json:"other_cpu_seconds"`
	StealCPU  float64 `json:"steal_cpu_seconds"`
}

type targetResult struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  float64 `json:"goal"`
	Met   bool    `json:"met"`
}

func mibps(xs []transfer) []float64 {
	var out []float64
	for _, x := range xs {
		out = append(out, x.MiBps)
	}
	return out
}

// String is the progress line of a transfer.
func (x transfer) String() string {
	s := fmt.Sprintf("%.0f MiB/s (%.2fs; CPU: server %.2fs, client %.2fs, other %.2fs", x.MiBps, x.Seconds, x.ServerCPU, x.ClientCPU, x.OtherCPU)
	if x.StealCPU > 0 {
		s += fmt.Sprintf(", steal %.2fs", x.StealCPU)
	}
	return s + ")"
}

// noisy is the share of the machine's CPU capacity that others (other processes, or other
// guests through steal) used during a measurement, above which it is reported.
const noisy = 0.15

// finish computes medians, ratios and target verdicts.
func (r *results) finish() {
	check := func(what string, seconds, other, steal float64) {
		capacity := seconds * float64(r.Machine.CPUs)
		if capacity > 0 && (other+steal)/capacity > noisy {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: other processes and steal used %.0f%% of the CPUs (%.2fs of %.2fs); the machine was not quiet",
				what, 100*(other+steal)/capacity, other+steal, capacity))
		}
	}
	for _, x := range []struct {
		name string
		rr   *registryResult
	}{{"wharf", r.Wharf}, {"distribution", r.Distribution}} {
		for _, t := range x.rr.Push {
			check(fmt.Sprintf("push to %s, run %d", x.name, t.Run), t.Seconds, t.OtherCPU, t.StealCPU)
		}
		for _, t := range x.rr.Pull {
			check(fmt.Sprintf("pull from %s, run %d", x.name, t.Run), t.Seconds, t.OtherCPU, t.StealCPU)
		}
		for _, m := range x.rr.Manifest {
			check(fmt.Sprintf("manifest GET on %s, run %d", x.name, m.Run), m.Seconds, m.OtherCPU, m.StealCPU)
		}
	}
	sha := r.SHA256.BestMiBps
	for _, rr := range []*registryResult{r.Wharf, r.Distribution} {
		rr.PushMedianMiBps = median(mibps(rr.Push))
		rr.PullMedianMiBps = median(mibps(rr.Pull))
		var rps []float64
		for _, m := range rr.Manifest {
			rps = append(rps, m.RPS)
		}
		rr.ManifestRPS = median(rps)
		perGiB := func(xs []transfer) float64 {
			var v []float64
			for _, x := range xs {
				v = append(v, x.ServerCPU/(float64(x.Bytes)/(1<<30)))
			}
			return median(v)
		}
		rr.PushCPUPerGiB = perGiB(rr.Push)
		rr.PullCPUPerGiB = perGiB(rr.Pull)
		var cpr []float64
		for _, m := range rr.Manifest {
			cpr = append(cpr, m.CPUPerReqU)
		}
		rr.ManifestCPUPerReqU = median(cpr)
		if sha > 0 {
			rr.PushOfSHA256 = rr.PushMedianMiBps / sha
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	r.Ratios.Push = ratio(r.Wharf.PushMedianMiBps, r.Distribution.PushMedianMiBps)
	r.Ratios.Pull = ratio(r.Wharf.PullMedianMiBps, r.Distribution.PullMedianMiBps)
	r.Ratios.Manifest = ratio(r.Wharf.ManifestRPS, r.Distribution.ManifestRPS)
	r.Targets = []targetResult{
		{Name: "push wharf/distribution", Value: r.Ratios.Push, Goal: 1.2},
		{Name: "pull wharf/distribution", Value: r.Ratios.Pull, Goal: 1.0},
		{Name: "manifest GET wharf/distribution", Value: r.Ratios.Manifest, Goal: 1.5},
		{Name: "wharf push / sha256", Value: r.Wharf.PushOfSHA256, Goal: 0.8},
	}
	for i := range r.Targets {
		r.Targets[i].Met = r.Targets[i].Value >= r.Targets[i].Goal
	}
}

func verdict(t targetResult) string {
	if t.Met {
		return "met"
	}
	return "MISSED"
}

// sizeString prints a byte count in binary units.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// printTables writes the per-run details and the results table.
func (r *results) printTables(w io.Writer) {
	size := sizeString(r.Settings.SizeBytes)
	fmt.Fprintf(w, "\nPer run (%s blob; CPU = server CPU seconds used during the transfer)\n", size)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  \t")
	for i := range r.Settings.Runs {
		fmt.Fprintf(tw, "run %d\t", i+1)
	}
	fmt.Fprint(tw, "median\t\n")
	row := func(label string, xs []transfer, med float64) {
		fmt.Fprintf(tw, "  %s\t", label)
		for _, x := range xs {
			fmt.Fprintf(tw, "%.0f MiB/s (%.2fs, CPU %.2fs)\t", x.MiBps, x.Seconds, x.ServerCPU)
		}
		fmt.Fprintf(tw, "%.0f MiB/s\t\n", med)
	}
	row("push wharf", r.Wharf.Push, r.Wharf.PushMedianMiBps)
	row("push distribution", r.Distribution.Push, r.Distribution.PushMedianMiBps)
	row("pull wharf", r.Wharf.Pull, r.Wharf.PullMedianMiBps)
	row("pull distribution", r.Distribution.Pull, r.Distribution.PullMedianMiBps)
	tw.Flush()

	fmt.Fprintf(w, "\nManifest GET (%d clients, %.0fs measured after %.0fs warm-up, per run)\n", r.Settings.Clients, r.Settings.DurationSecs, r.Settings.WarmupSecs)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  \trun\treq/s\tp50\tp90\tp99\tmax\tserver CPU/req\tserver CPU\tclient CPU\tother CPU\t\n")
	for _, x := range []struct {
		name string
		rr   *registryResult
	}{{"wharf", r.Wharf}, {"distribution", r.Distribution}} {
		for _, l := range x.rr.Manifest {
			fmt.Fprintf(tw, "  %s\t%d\t%.0f\t%.2fms\t%.2fms\t%.2fms\t%.1fms\t%.0fus\t%.1fs\t%.1fs\t%.1fs\t\n", x.name, l.Run, l.RPS,
				l.P50Micros/1000, l.P90Micros/1000, l.P99Micros/1000, l.MaxMicros/1000, l.CPUPerReqU, l.ServerCPU, l.ClientCPU, l.OtherCPU)
		}
	}
	tw.Flush()

	fmt.Fprintf(w, "\nServer CPU cost (medians; less sensitive than the rates to other work on the machine)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  \twharf\tdistribution\tdistribution/wharf\t\n")
	cost := func(label, unit string, a, b float64) {
		x := "-"
		if a > 0 {
			x = fmt.Sprintf("%.2fx", b/a)
		}
		fmt.Fprintf(tw, "  %s\t%.2f %s\t%.2f %s\t%s\t\n", label, a, unit, b, unit, x)
	}
	cost("push, CPU per GiB", "s", r.Wharf.PushCPUPerGiB, r.Distribution.PushCPUPerGiB)
	cost("pull, CPU per GiB", "s", r.Wharf.PullCPUPerGiB, r.Distribution.PullCPUPerGiB)
	cost("manifest GET, CPU per request", "us", r.Wharf.ManifestCPUPerReqU, r.Distribution.ManifestCPUPerReqU)
	tw.Flush()

	fmt.Fprintf(w, "\nResults (medians of %d runs; ratio = Wharf / distribution)\n", r.Settings.Runs)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  metric\twharf\tdistribution\tratio\ttarget\tverdict\t\n")
	t := r.Targets
	fmt.Fprintf(tw, "  push %s (monolithic PUT)\t%.0f MiB/s\t%.0f MiB/s\t%.2fx\t>= %.2fx\t%s\t\n", size,
		r.Wharf.PushMedianMiBps, r.Distribution.PushMedianMiBps, t[0].Value, t[0].Goal, verdict(t[0]))
	fmt.Fprintf(tw, "  pull %s (GET)\t%.0f MiB/s\t%.0f MiB/s\t%.2fx\t>= %.2fx\t%s\t\n", size,
		r.Wharf.PullMedianMiBps, r.Distribution.PullMedianMiBps, t[1].Value, t[1].Goal, verdict(t[1]))
	fmt.Fprintf(tw, "  manifest GET (%d clients)\t%.0f req/s\t%.0f req/s\t%.2fx\t>= %.2fx\t%s\t\n", r.Settings.Clients,
		r.Wharf.ManifestRPS, r.Distribution.ManifestRPS, t[2].Value, t[2].Goal, verdict(t[2]))
	fmt.Fprintf(tw, "  push / SHA-256 (%.0f MiB/s)\t%.1f%%\t%.1f%%\t\t>= %.0f%% (wharf)\t%s\t\n", r.SHA256.BestMiBps,
		100*r.Wharf.PushOfSHA256, 100*r.Distribution.PushOfSHA256, 100*t[3].Goal, verdict(t[3]))
	tw.Flush()
}

// printSummary writes the block meant for pasting into a report.
func (r *results) printSummary(w io.Writer) {
	met := 0
	for _, t := range r.Targets {
		if t.Met {
			met++
		}
	}
	t := r.Targets
	m := r.Machine
	s := r.Settings
	var b strings.Builder
	fmt.Fprintf(&b, "==================== registrybench summary ====================\n")
	fmt.Fprintf(&b, "date          %s\n", r.Date)
	fmt.Fprintf(&b, "machine       %d CPUs (%s), %.0f GiB RAM, %s, %s\n", m.CPUs, m.CPUModel, m.MemGiB, m.Kernel, m.Go)
	fmt.Fprintf(&b, "wharf         %s\n", r.Wharf.Version)
	fmt.Fprintf(&b, "distribution  %s\n", r.Distribution.Version)
	fmt.Fprintf(&b, "settings      %s blob, %d interleaved runs each (median), manifest GET %d clients x %.0fs after %.0fs warm-up\n",
		sizeString(s.SizeBytes), s.Runs, s.Clients, s.DurationSecs, s.WarmupSecs)
	fmt.Fprintf(&b, "sha256        %.0f MiB/s on one core\n", r.SHA256.BestMiBps)
	if r.DiskMiBps > 0 {
		fmt.Fprintf(&b, "disk          %.0f MiB/s durable write (write + fsync, median of 3): the ceiling of a durable push\n", r.DiskMiBps)
	}
	fmt.Fprintf(&b, "push          wharf %.0f MiB/s, distribution %.0f MiB/s: %.2fx (target >= %.1fx: %s)\n",
		r.Wharf.PushMedianMiBps, r.Distribution.PushMedianMiBps, t[0].Value, t[0].Goal, verdict(t[0]))
	fmt.Fprintf(&b, "pull          wharf %.0f MiB/s, distribution %.0f MiB/s: %.2fx (target >= %.1fx: %s)\n",
		r.Wharf.PullMedianMiBps, r.Distribution.PullMedianMiBps, t[1].Value, t[1].Goal, verdict(t[1]))
	fmt.Fprintf(&b, "manifest GET  wharf %.0f req/s, distribution %.0f req/s: %.2fx (target >= %.1fx: %s)\n",
		r.Wharf.ManifestRPS, r.Distribution.ManifestRPS, t[2].Value, t[2].Goal, verdict(t[2]))
	fmt.Fprintf(&b, "push/sha256   wharf %.1f%% (target >= %.0f%%: %s), distribution %.1f%%\n",
		100*r.Wharf.PushOfSHA256, 100*t[3].Goal, verdict(t[3]), 100*r.Distribution.PushOfSHA256)
	if r.DiskMiBps > 0 {
		fmt.Fprintf(&b, "push/disk     wharf %.0f%%, distribution %.0f%% of the durable write speed\n",
			100*r.Wharf.PushMedianMiBps/r.DiskMiBps, 100*r.Distribution.PushMedianMiBps/r.DiskMiBps)
	}
	fmt.Fprintf(&b, "server CPU    push %.2f vs %.2f s/GiB, pull %.2f vs %.2f s/GiB, manifest GET %.0f vs %.0f us/request (wharf vs distribution)\n",
		r.Wharf.PushCPUPerGiB, r.Distribution.PushCPUPerGiB, r.Wharf.PullCPUPerGiB, r.Distribution.PullCPUPerGiB,
		r.Wharf.ManifestCPUPerReqU, r.Distribution.ManifestCPUPerReqU)
	fmt.Fprintf(&b, "targets met   %d of %d\n", met, len(t))
	if n := len(r.Warnings); n > 0 {
		fmt.Fprintf(&b, "noise         %d of %d measurements ran while other work used > %.0f%% of the CPUs (see the warnings above)\n",
			n, 3*2*s.Runs, 100*noisy)
	}
	fmt.Fprintf(&b, "===============================================================\n")
	io.WriteString(w, b.String())
}

// writeJSON saves the results.
func (r *results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write -json file: %w", err)
	}
	return nil
}
