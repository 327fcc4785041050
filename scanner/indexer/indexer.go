// Package indexer is the scanner's indexer (Clair's "index" step): given the layers of an
// image manifest, as blobs stored in a registry (gzip, zstd, bzip2 or plain tar), it applies
// whiteouts, takes the inventory of the installed packages with osv-scalibr, attributes each
// to the layer that introduced it, and returns a Clair-shaped index report.
//
// Every package's environment names its OSV ecosystem ("Debian:12", "Alpine:v3.19", "Go",
// "PyPI", ...) through a repository whose Key is report.EcosystemKey; OS packages (dpkg, apk,
// rpm) also name their source package and the distribution from os-release.
//
// Each blob is read once, as a stream, and checked against its digest. scalibr keeps the
// content of the image's files in one scratch file, which it creates in os.TempDir() ($TMPDIR)
// whatever Options.TempDir says, and removes when the index is done.
package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"

	"github.com/google/osv-scalibr"
	layerimage "github.com/google/osv-scalibr/artifact/image/layerscanning/image"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	javaarchive "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	"github.com/google/osv-scalibr/plugin"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"

	"github.com/wharf-registry/wharf/scanner/report"
)

// formatVersion names the shape of this package's output; bump it whenever the report the
// indexer makes from the same inventory changes, so that State changes.
const formatVersion = "wharf-indexer/1"

// Layer is one layer blob to index.
type Layer struct {
	Digest    string                                           // the blob's digest, e.g. "sha256:..."
	MediaType string                                           // may be empty
	Size      int64                                            // may be 0 when unknown
	Open      func(ctx context.Context) (io.ReadCloser, error) // the blob as stored (compressed)
}

// Options configure an Indexer.
type Options struct {
	// MaxLayerSize skips layers larger than this many bytes, compressed (0: no limit): Quay's
	// SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE. A layer of unknown Size is first copied to
	// TempDir, up to the limit, to learn its size.
	MaxLayerSize int64
	// TempDir is where the indexer's scratch files go ("": os.TempDir()); it is created when
	// needed. scalibr's own scratch file goes to os.TempDir() regardless.
	TempDir string
}

// Indexer takes the inventory of images. It is safe for concurrent use.
type Indexer struct {
	opts  Options
	state string
}

var quietScalibr sync.Once

// New returns an Indexer. The first call routes scalibr's logging, which is process-wide, to
// slog's default logger at debug level.
func New(opts Options) *Indexer {
	quietScalibr.Do(setScalibrLogger)
	return &Indexer{opts: opts, state: state()}
}

// State is the indexer's state token (Clair's index_state): it changes when the set or the
// versions of the extractors, or this package's output format, change. A hex string.
func (ix *Indexer) State() string { return ix.state }

func state() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nscalibr %s\n", formatVersion, scalibrVersion())
	exs, err := extractors()
	if err != nil {
		fmt.Fprintf(h, "error %v\n", err)
	}
	names := make([]string, 0, len(exs))
	for _, e := range exs {
		names = append(names, e.Name()+" "+strconv.Itoa(e.Version()))
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintln(h, n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scalibrVersion is the version of the osv-scalibr module built in, or "".
func scalibrVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/google/osv-scalibr" {
			if d.Replace != nil {
				return d.Replace.Path + "@" + d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// extractors returns new instances of the extractors the indexer runs.
func extractors() ([]filesystem.Extractor, error) {
	noHash, fromName := false, true
	inits := []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		dpkg.New, apk.New, rpm.New, gobinary.New, wheelegg.New, packagejson.New, javaarchive.New,
	}
	cfg := &cpb.PluginConfig{PluginSpecific: []*cpb.PluginSpecificConfig{{
		Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{
			HashJars: &noHash, ExtractFromFilename: &fromName,
		}},
	}}}
	out := make([]filesystem.Extractor, 0, len(inits))
	for _, newExtractor := range inits {
		e, err := newExtractor(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Index reads the layers in order and returns the inventory. Unsupported content is not an
// error (an empty report with Success true); a layer that cannot be read or decompressed, or
// whose content does not match its digest, is an error wrapped with the layer digest.
func (ix *Indexer) Index(ctx context.Context, manifestDigest string, layers []Layer) (*report.IndexReport, error) {
	kept, cleanup, err := ix.sizeUp(ctx, layers)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 {
		return newReport(manifestDigest), nil
	}

	img := newImage(ctx, kept)
	squashed, err := layerimage.FromV1Image(img, layerimage.DefaultConfig())
	if err != nil {
		if lerr := img.layerErr(); lerr != nil {
			return nil, lerr
		}
		return nil, fmt.Errorf("index %s: %w", manifestDigest, err)
	}
	defer func() { _ = squashed.CleanUp() }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	exs, err := extractors()
	if err != nil {
		return nil, err
	}
	plugins := make([]plugin.Plugin, len(exs))
	for i, e := range exs {
		plugins[i] = e
	}
	res, err := scalibr.New().ScanContainer(ctx, squashed, &scalibr.ScanConfig{
		Plugins:      plugins,
		Capabilities: &plugin.Capabilities{OS: plugin.OSLinux, Network: plugin.NetworkOffline},
	})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", manifestDigest, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if res.Status != nil && res.Status.Status == plugin.ScanStatusFailed {
		return nil, fmt.Errorf("index %s: scan failed: %s", manifestDigest, res.Status.FailureReason)
	}
	for _, st := range res.PluginStatus {
		if st.Status != nil && st.Status.Status == plugin.ScanStatusFailed {
			slog.WarnContext(ctx, "indexer: extractor failed", "manifest", manifestDigest,
				"extractor", st.Name, "reason", st.Status.FailureReason)
		}
	}

	osRelease, _ := osrelease.GetOSRelease(squashed.FS())
	return buildReport(manifestDigest, kept, osRelease, res.Inventory.Packages), nil
}

// sizeUp returns the layers to index: those no larger than MaxLayerSize. A layer of unknown
// size is copied to a scratch file, up to the limit, and read from there. cleanup removes
// the scratch files.
func (ix *Indexer) sizeUp(ctx context.Context, layers []Layer) (kept []Layer, cleanup func(), err error) {
	var files []string
	cleanup = func() {
		for _, f := range files {
			_ = os.Remove(f)
		}
	}
	max := ix.opts.MaxLayerSize
	for _, l := range layers {
		if max <= 0 || (l.Size > 0 && l.Size <= max) {
			kept = append(kept, l)
			continue
		}
		if l.Size > max {
			slog.InfoContext(ctx, "indexer: layer too large, skipped", "layer", l.Digest, "size", l.Size, "max", max)
			continue
		}
		name, size, err := ix.spool(ctx, l, max)
		if name != "" {
			files = append(files, name)
		}
		if err != nil {
			return nil, cleanup, err
		}
		if size > max {
			slog.InfoContext(ctx, "indexer: layer too large, skipped", "layer", l.Digest, "max", max)
			continue
		}
		l.Size = size
		l.Open = func(context.Context) (io.ReadCloser, error) { return os.Open(name) }
		kept = append(kept, l)
	}
	return kept, cleanup, nil
}

// spool copies up to max+1 bytes of the layer's blob to a scratch file and returns its name
// and the number of bytes copied.
func (ix *Indexer) spool(ctx context.Context, l Layer, max int64) (string, int64, error) {
	dir := ix.opts.TempDir
	if dir == "" {
		dir = os.TempDir()
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "wharf-layer-*")
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(f, io.LimitReader(rc, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return f.Name(), n, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return f.Name(), n, nil
}
