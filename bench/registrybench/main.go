// Command registrybench benchmarks Wharf against the distribution registry (the CNCF
// reference registry), side by side in one run on one machine, and prints Wharf's results as
// ratios of distribution's:
//
//  1. push throughput of one large layer (default 1 GiB) with a monolithic upload: POST
//     /v2/REPO/blobs/uploads/ then one PUT LOCATION?digest=... carrying the whole body;
//  2. pull throughput of that blob (GET, whole body read and discarded);
//  3. manifest GETs per second by tag, from many concurrent keep-alive clients holding a
//     bearer token.
//
// It also measures this machine's single-core SHA-256 speed and prints each registry's push
// throughput as a fraction of it: a registry must hash every pushed byte, so that is the
// ceiling a single upload stream can reach.
//
// Both registries run on their local-disk defaults under a temporary directory: Wharf on its
// embedded default (SQLite and local disk), distribution with filesystem storage and its
// in-memory blob descriptor cache. Both use bearer-token auth: Wharf issues tokens at
// /v2/auth; for distribution the benchmark generates a signing key and certificate and mints
// the tokens itself. Push and pull runs alternate between the registries and use different
// random content for every push; medians are reported.
//
// Usage (make bench runs the first form):
//
//	go run ./bench/registrybench -wharf bin/wharf
//	go run ./bench/registrybench -wharf bin/wharf -size 256MiB -runs 1 -duration 3s
//
// The command exits non-zero on any error (a refused request, a server that dies, a wrong
// digest), not when a target is missed.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		// A progress line may be unfinished on stdout: start the error on a line of its own.
		fmt.Fprintln(os.Stderr, "\nregistrybench: error:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	wharf, registry  string
	size             int64
	runs, clients    int
	duration, warmup time.Duration
	jsonOut, workDir string
	warmCache        bool
	quietWait        time.Duration
}

// quiet waits for a quiet machine before a measurement; run sets it up from the flags.
var quiet = func(context.Context) {}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("registrybench", flag.ContinueOnError)
	fs.StringVar(&o.wharf, "wharf", "", "path of the wharf binary to benchmark (required)")
	fs.StringVar(&o.registry, "registry", "", "path of the distribution registry binary (default: registry on PATH, then in $WHARF_TOOLS_DIR, then in ~/.cache/wharf/bin)")
	size := fs.String("size", "1GiB", "size of the pushed and pulled layer (B, KiB, MiB, GiB; KB, MB, GB)")
	fs.IntVar(&o.runs, "runs", 3, "push and pull runs per registry (the median is reported)")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients for the manifest GET benchmark")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration of the manifest GET benchmark")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before the manifest GET measurement")
	fs.StringVar(&o.jsonOut, "json", "", "also write machine-readable results to this file")
	fs.StringVar(&o.workDir, "workdir", "", "where to create the temporary directory for both registries' data (default: $TMPDIR or /tmp)")
	fs.DurationVar(&o.quietWait, "quiet-wait", 20*time.Second, "before each measurement, wait up to this long for other work on the machine to pause (0: do not wait)")
	fs.BoolVar(&o.warmCache, "warm-cache", true, "right before each timed push, write and delete a scratch file of -size next to the registries' data, so that\n"+
		"the page cache reuses recently touched memory (in VMs that hand freed memory back to the host, first touches are several times slower)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, err
	}
	switch {
	case o.wharf == "":
		return o, errors.New("-wharf PATH is required (make build puts it in bin/wharf)")
	case o.size < 1<<20:
		return o, errors.New("-size must be at least 1 MiB")
	case o.size > 64<<30:
		return o, errors.New("-size must be at most 64 GiB")
	case o.runs < 1:
		return o, errors.New("-runs must be at least 1")
	case o.clients < 1:
		return o, errors.New("-clients must be at least 1")
	case o.duration < 100*time.Millisecond:
		return o, errors.New("-duration must be at least 100ms")
	case o.warmup < 0:
		return o, errors.New("-warmup must not be negative")
	}
	return o, nil
}

// parseSize reads a byte count with an optional binary (KiB, MiB, GiB) or decimal (KB, MB,
// GB) unit.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	// Longer suffixes first, so that "gib" wins over "b".
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q: use e.g. 1GiB, 256MiB or a byte count", s)
	}
	return n * mult, nil
}

// findRegistry locates the distribution registry binary.
func findRegistry(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if p, err := exec.LookPath("registry"); err == nil {
		return filepath.Abs(p)
	}
	var dirs []string
	if d := os.Getenv("WHARF_TOOLS_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "wharf", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "registry")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("the distribution registry binary was not found on PATH or in $WHARF_TOOLS_DIR: run `make deps`, or pass -registry PATH")
}

// target is one registry under test.
type target struct {
	name   string
	proc   *process
	client *registryClient
	res    *registryResult
}

func run(args []string, out io.Writer) (err error) {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.wharf, err = filepath.Abs(o.wharf); err != nil {
		return err
	}
	if fi, serr := os.Stat(o.wharf); serr != nil || fi.IsDir() {
		return fmt.Errorf("-wharf %s: not a file (run make build first)", o.wharf)
	}
	if o.registry, err = findRegistry(o.registry); err != nil {
		return err
	}

	// The first Ctrl-C (or SIGTERM) cancels the run, which then stops its servers and removes
	// its data; a second one kills the benchmark at once (the servers die with it).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	work, err := os.MkdirTemp(o.workDir, "registrybench-")
	if err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	var targets []*target
	defer func() {
		// Stop the servers before removing their data, on success, error and interrupt.
		for _, t := range targets {
			t.proc.stop()
		}
		if rerr := os.RemoveAll(work); rerr != nil && err == nil {
			err = fmt.Errorf("remove work directory: %w", rerr)
		}
		if ctx.Err() != nil && err != nil {
			err = fmt.Errorf("interrupted (servers stopped, %s removed): %w", work, err)
		}
	}()
	if err := checkResources(work, o); err != nil {
		return err
	}

	say := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }
	// quiet waits (briefly) for other work on the machine to pause before a measurement.
	quiet = func(ctx context.Context) {
		if o.quietWait <= 0 {
			return
		}
		busy, ok, err := waitQuiet(ctx, o.quietWait)
		if err == nil && !ok {
			say("[machine busy: %.0f%% of the CPUs used by other work; measuring anyway] ", 100*busy)
		}
	}
	res := &results{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: describeMachine(),
		Settings: settings{
			SizeBytes: o.size, Runs: o.runs, Clients: o.clients, DurationSecs: o.duration.Seconds(),
			WarmupSecs: o.warmup.Seconds(), WorkDir: work, WharfBinary: o.wharf, RegistryBinary: o.registry,
			WarmCache: o.warmCache, QuietWaitSecs: o.quietWait.Seconds(),
		},
		Wharf:        &registryResult{Version: strings.TrimPrefix(version(o.wharf), o.wharf+" ")},
		Distribution: &registryResult{Version: strings.TrimPrefix(version(o.registry), o.registry+" ")},
	}
	m := res.Machine
	say("registrybench: Wharf vs the distribution registry, side by side\n")
	say("  machine       %d CPUs (%s), %.0f GiB RAM, %s, %s\n", m.CPUs, m.CPUModel, m.MemGiB, m.Kernel, m.Go)
	say("  wharf         %s (%s)\n", o.wharf, res.Wharf.Version)
	say("  distribution  %s (%s)\n", o.registry, res.Distribution.Version)
	say("  settings      %s blob, %d runs each, manifest GET %d clients x %s after %s warm-up\n",
		sizeString(o.size), o.runs, o.clients, o.duration, o.warmup)
	say("                page cache warmed before each push: %t; wait for a quiet machine: up to %s\n", o.warmCache, o.quietWait)
	say("  work dir      %s\n\n", work)

	// The layer lives in memory for the whole run; each push run refills it.
	say("allocating and filling the %s layer buffer... ", sizeString(o.size))
	buf := make([]byte, o.size)
	fillRandom(buf, randomSeed())
	say("done\n")

	say("measuring single-core SHA-256 speed (crypto/sha256, best of 5 samples of >= 512 MiB)... ")
	quiet(ctx)
	samples := sha256Speed(buf, 5, 512<<20)
	for _, s := range samples {
		res.SHA256.SamplesMiBps = append(res.SHA256.SamplesMiBps, s/(1<<20))
	}
	res.SHA256.BestMiBps = slices.Max(res.SHA256.SamplesMiBps)
	say("%.0f MiB/s (samples %s)\n", res.SHA256.BestMiBps, joinFloats(res.SHA256.SamplesMiBps, "%.0f"))
	if err := ctx.Err(); err != nil {
		return err
	}

	say("measuring durable disk writes (write %s + fsync, 3 samples)... ", sizeString(o.size))
	var disk []float64
	for range 3 {
		quiet(ctx)
		if o.warmCache {
			if err := warmPageCache(work, o.size, buf); err != nil {
				return err
			}
		}
		speed, err := diskSpeed(work, buf)
		if err != nil {
			return err
		}
		disk = append(disk, speed/(1<<20))
	}
	res.DiskMiBps = median(disk)
	say("%.0f MiB/s (samples %s)\n", res.DiskMiBps, joinFloats(disk, "%.0f"))

	say("starting wharf... ")
	wdir := filepath.Join(work, "wharf")
	wp, wc, err := startWharf(ctx, o.wharf, wdir)
	if err != nil {
		return err
	}
	targets = append(targets, &target{name: "wharf", proc: wp, client: wc, res: res.Wharf})
	say("ready at %s (pid %d)\n", wc.base, wp.pid())

	say("starting distribution... ")
	ddir := filepath.Join(work, "distribution")
	if err := os.MkdirAll(ddir, 0o750); err != nil {
		return err
	}
	dp, dc, err := startDistribution(ctx, o.registry, ddir)
	if err != nil {
		return err
	}
	targets = append(targets, &target{name: "distribution", proc: dp, client: dc, res: res.Distribution})
	say("ready at %s (pid %d), accepts the benchmark's tokens\n", dc.base, dp.pid())

	img, err := newSmallImage()
	if err != nil {
		return err
	}
	for _, t := range targets {
		say("pushing a small image (config, 1 layer, OCI manifest, tag v1) to %s... ", t.name)
		if err := t.client.refreshToken(ctx); err != nil {
			return err
		}
		if err := t.client.pushImage(ctx, img, "v1"); err != nil {
			return err
		}
		say("ok\n")
	}

	// Push: alternate registries; every run has new random content.
	var warm func() error
	if o.warmCache {
		warm = func() error { return warmPageCache(work, o.size, buf) }
	}
	digests := make([]digest.Digest, o.runs)
	say("\n")
	for r := range o.runs {
		say("preparing run %d/%d: new random %s layer and its digest (untimed)... ", r+1, o.runs, sizeString(o.size))
		fillRandom(buf, randomSeed())
		digests[r] = digest.FromBytes(buf)
		say("%s\n", short(digests[r]))
		for _, t := range targets {
			if err := t.client.refreshToken(ctx); err != nil {
				return err
			}
			say("pushing %s to %s (run %d/%d)... ", sizeString(o.size), t.name, r+1, o.runs)
			x, err := timed(ctx, t, warm, func() error { return t.client.pushBlob(ctx, buf, digests[r]) })
			if err != nil {
				return err
			}
			x.Run, x.Digest, x.Bytes = r+1, digests[r].String(), o.size
			x.MiBps = float64(o.size) / (1 << 20) / x.Seconds
			t.res.Push = append(t.res.Push, x)
			say("%s\n", x)
		}
	}

	// Pull: each run pulls the blob of the same push run; the body is read in 1 MiB reads. An
	// untimed pull first brings the blob into the page cache, so that both registries serve
	// it from memory and the disk (and the order of the runs) does not decide the result.
	say("\n")
	rbuf := make([]byte, 1<<20)
	for r := range o.runs {
		for _, t := range targets {
			if err := t.client.refreshToken(ctx); err != nil {
				return err
			}
			say("pulling %s from %s (run %d/%d; untimed warm-up pull, then timed)... ", sizeString(o.size), t.name, r+1, o.runs)
			if err := t.client.pullBlob(ctx, digests[r], o.size, rbuf, nil); err != nil {
				return err
			}
			x, err := timed(ctx, t, nil, func() error { return t.client.pullBlob(ctx, digests[r], o.size, rbuf, nil) })
			if err != nil {
				return err
			}
			x.Run, x.Digest, x.Bytes = r+1, digests[r].String(), o.size
			x.MiBps = float64(o.size) / (1 << 20) / x.Seconds
			t.res.Pull = append(t.res.Pull, x)
			say("%s\n", x)
		}
	}
	// Once, untimed: the bytes pulled are the bytes pushed.
	last := digests[o.runs-1]
	for _, t := range targets {
		say("verifying the content %s serves for %s (untimed)... ", t.name, short(last))
		h := digest.SHA256.Digester()
		if err := t.client.pullBlob(ctx, last, o.size, rbuf, h.Hash()); err != nil {
			return err
		}
		if got := h.Digest(); got != last {
			return fmt.Errorf("%s served content with digest %s for blob %s", t.name, got, last)
		}
		say("ok\n")
	}
	buf = nil
	runtime.GC()

	// Manifest GETs: runs alternate between the registries, like the transfers.
	say("\n")
	for r := range o.runs {
		for _, t := range targets {
			if err := t.client.refreshToken(ctx); err != nil {
				return err
			}
			syscall.Sync()
			say("manifest GET on %s (run %d/%d): %d clients, %s warm-up, then %s measured... ", t.name, r+1, o.runs, o.clients, o.warmup, o.duration)
			quiet(ctx)
			l, err := manifestLoad(ctx, t.client, t.proc, "v1", img.manifest, o.clients, o.warmup, o.duration)
			if err != nil {
				return err
			}
			l.Run = r + 1
			t.res.Manifest = append(t.res.Manifest, l)
			say("%.0f req/s (p50 %.2fms, p99 %.2fms; CPU: server %.0fus/request, client %.1fs, other %.1fs)\n",
				l.RPS, l.P50Micros/1000, l.P99Micros/1000, l.CPUPerReqU, l.ClientCPU, l.OtherCPU)
		}
	}

	for _, t := range targets {
		if err := t.proc.alive(); err != nil {
			return err
		}
	}
	res.finish()
	res.printTables(out)
	if len(res.Warnings) > 0 {
		say("\n")
	}
	for _, w := range res.Warnings {
		say("warning: %s\n", w)
	}
	say("\n")
	res.printSummary(out)
	if o.jsonOut != "" {
		if err := res.writeJSON(o.jsonOut); err != nil {
			return err
		}
		say("results written to %s\n", o.jsonOut)
	}
	return nil
}

// timed runs one transfer against t and returns its wall time and the CPU time used. Before,
// it flushes dirty pages (so that neither registry pays for writing back the other's data),
// waits briefly for a quiet machine and runs prepare (if set), untimed.
func timed(ctx context.Context, t *target, prepare, op func() error) (transfer, error) {
	syscall.Sync()
	quiet(ctx)
	if prepare != nil {
		if err := prepare(); err != nil {
			return transfer{}, err
		}
	}
	meter, err := startCPU(t.proc)
	if err != nil {
		return transfer{}, err
	}
	start := time.Now()
	if err := op(); err != nil {
		if aerr := t.proc.alive(); aerr != nil {
			return transfer{}, fmt.Errorf("%w\n%v", err, aerr)
		}
		return transfer{}, err
	}
	elapsed := time.Since(start)
	use, err := meter.since()
	if err != nil {
		return transfer{}, err
	}
	return transfer{Seconds: elapsed.Seconds(), ServerCPU: use.Server.Seconds(), ClientCPU: use.Client.Seconds(),
		OtherCPU: use.Other.Seconds(), StealCPU: use.Steal.Seconds()}, nil
}

// checkResources refuses to start without room for every pushed blob (runs per registry,
// two registries, plus one staged upload and a margin) or memory for the layer buffer.
func checkResources(dir string, o options) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("check free disk space in %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	need := o.size*int64(2*o.runs+1) + 1<<30
	if free < need {
		return fmt.Errorf("%s has %s free, the benchmark needs about %s (-size x (2 x -runs + 1) + 1 GiB); use -workdir or a smaller -size",
			dir, sizeString(free>>20<<20), sizeString(need>>20<<20))
	}
	if avail := memAvailable(); avail > 0 && avail < o.size+(512<<20) {
		return fmt.Errorf("only %s of memory available, the benchmark keeps the %s layer in memory; use a smaller -size",
			sizeString(avail>>20<<20), sizeString(o.size))
	}
	return nil
}

// memAvailable reads MemAvailable from /proc/meminfo (0 when unknown).
func memAvailable() int64 {
	return meminfo("MemAvailable:")
}

func meminfo(key string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// describeMachine collects what the results depend on.
func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), CPUModel: "unknown", Kernel: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b)) + " " + runtime.GOARCH
	}
	m.MemGiB = float64(meminfo("MemTotal:")) / (1 << 30)
	return m
}

func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func short(d digest.Digest) string {
	s := d.String()
	if len(s) > 19 {
		return s[:19] + "..."
	}
	return s
}

func joinFloats(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}
