// Command scannerbench measures the vulnerability scanner on a real image: Debian 12 as
// `debootstrap --variant=minbase bookworm` makes it (built once, then cached), against the
// Debian OSV data of ../shared/vulndb. It reports:
//
//  1. how long `wharf scanner import` takes to load debian-osv.zip into a fresh SQLite store,
//     and the importing process's peak resident memory;
//  2. how long indexing the image takes (reading its layer blob, unpacking it, finding the
//     packages), the median and slowest of several runs, and the Go heap's peak while indexing;
//  3. how long matching its index report against the data takes (median and slowest), and
//     the heap's peak while matching.
//
// Indexing and matching run in this process, through the same packages `wharf serve` and
// `wharf scanner serve` use, on the same store the import filled. The scanner has no peer
// named for it, so the numbers stand alone; they are printed with the machine's core count.
//
// Usage (make bench runs the first form):
//
//	go run ./bench/scannerbench -wharf bin/wharf
//	go run ./bench/scannerbench -wharf bin/wharf -runs 3 -vulndb ../shared/vulndb/debian-osv.zip
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/images/debian"
	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/matcher"
	"github.com/wharf-registry/wharf/scanner/report"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "scannerbench: error:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scannerbench", flag.ContinueOnError)
	wharf := fs.String("wharf", "bin/wharf", "the wharf binary (for `wharf scanner import`)")
	data := fs.String("vulndb", filepath.Join("..", "shared", "vulndb", "debian-osv.zip"), "Debian OSV data")
	runs := fs.Int("runs", 5, "index and match runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Fprintf(out, "scannerbench: Debian 12 minbase image against %s, %d runs, %d cores\n", *data, *runs, runtime.NumCPU())

	archive, err := debian.Build(ctx, debian.Minbase, debian.Options{Log: io.Discard})
	if err != nil {
		return err
	}
	tag, err := name.NewTag(debian.Ref(debian.Minbase, debian.DefaultSuite))
	if err != nil {
		return err
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		return err
	}
	v1layers, err := img.Layers()
	if err != nil {
		return err
	}
	var layers []indexer.Layer
	var size int64
	for _, l := range v1layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		n, _ := l.Size()
		size += n
		layers = append(layers, indexer.Layer{Digest: d.String(), Size: n, Open: func(context.Context) (io.ReadCloser, error) { return l.Compressed() }})
	}
	manifest, err := img.Digest()
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "scannerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. Import, as a user runs it.
	start := time.Now()
	cmd := exec.Command(*wharf, "scanner", "import", "--data-dir", dir, *data)
	cmd.Stderr = os.Stderr
	if outBytes, err := cmd.Output(); err != nil {
		return fmt.Errorf("wharf scanner import: %w\n%s", err, outBytes)
	}
	importTime := time.Since(start)
	importRSS := int64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10
	fmt.Fprintf(out, "  import debian-osv.zip:   %8s   peak RSS %s\n", importTime.Round(time.Millisecond), mib(importRSS))

	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		return err
	}
	defer st.Close()
	ix := indexer.New(indexer.Options{TempDir: dir})

	// 2. Index.
	var ir *report.IndexReport
	indexTimes, indexPeak, err := measure(*runs, func() error {
		var err error
		ir, err = ix.Index(ctx, manifest.String(), layers)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  index (%d layer, %s):  median %8s  slowest %8s   heap peak %s   %d packages\n", len(layers), mib(size),
		median(indexTimes), slices.Max(indexTimes).Round(time.Microsecond), mib(indexPeak), len(ir.Packages))

	// 3. Match.
	var vr *report.VulnerabilityReport
	matchTimes, matchPeak, err := measure(*runs, func() error {
		var err error
		vr, err = matcher.Match(ctx, st, ir)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  match:                   median %8s  slowest %8s   heap peak %s   %d vulnerabilities\n",
		median(matchTimes), slices.Max(matchTimes).Round(time.Microsecond), mib(matchPeak), len(vr.Vulnerabilities))
	fmt.Fprintf(out, "  index + match:           median %8s\n", median(indexTimes)+median(matchTimes))
	return nil
}

// measure runs fn runs times, after one warm-up run, and returns each run's time and the Go
// heap's peak above its level before the runs, sampled every millisecond.
func measure(runs int, fn func() error) ([]time.Duration, int64, error) {
	if err := fn(); err != nil { // warm-up: caches, prepared statements
		return nil, 0, err
	}
	runtime.GC()
	base := heapBytes()
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapBytes() - base; h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var times []time.Duration
	for range runs {
		start := time.Now()
		if err := fn(); err != nil {
			close(stop)
			<-done
			return nil, 0, err
		}
		times = append(times, time.Since(start))
	}
	close(stop)
	<-done
	return times, peak.Load(), nil
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Microsecond)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
