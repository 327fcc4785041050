// Package secscan is the registry's side of vulnerability scanning, as Quay's security worker:
// it queues every image manifest pushed, has a scanner index it (the built-in one, a `wharf
// scanner serve` or a Clair v4, all behind clair.Backend), re-matches indexed manifests when
// the scanner's vulnerability data changes, records a "vulnerability found" event when a
// manifest gains a vulnerability at or above the configured severity, and answers Quay's
// manifest security API.
package secscan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/report"
)

// Options configure a Worker.
type Options struct {
	// Interval is SECURITY_SCANNER_INDEXING_INTERVAL: the time between passes (a push also
	// starts one).
	Interval time.Duration
	// Namespaces is SECURITY_SCANNER_V4_NAMESPACE_WHITELIST: when set, only manifests in
	// these namespaces are scanned.
	Namespaces []string
	// ReindexAfter is SECURITY_SCANNER_V4_REINDEX_THRESHOLD: a manifest indexed longer ago is
	// indexed again (0: only when the indexer changes).
	ReindexAfter time.Duration
	// MaxLayerSize is SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE: a manifest with a larger layer
	// is not indexed (status "unsupported"); 0: no limit.
	MaxLayerSize int64
	// EventSeverity is the least severity of a newly found vulnerability that raises a
	// "vulnerability found" event.
	EventSeverity report.Severity
	// LayerLocation tells an external scanner where to fetch a layer of a manifest held in a
	// repository; nil for the built-in scanner, which reads blob storage itself.
	LayerLocation func(loc store.ManifestLocation, digest string) (uri string, headers map[string][]string, err error)
	// Batch is how many manifests a pass claims at a time (default 10).
	Batch int
	// ManifestCleanup is SECURITY_SCANNER_V4_MANIFEST_CLEANUP: tell the scanner to forget the
	// index reports of manifests the garbage collector removed.
	ManifestCleanup bool
	// MaxAttempts is how many times indexing a manifest is tried before it is "failed"
	// (default 5).
	MaxAttempts int
}

// Worker scans manifests in the background.
type Worker struct {
	st      *store.Store
	scanner clair.Backend
	opts    Options
	log     *slog.Logger
	nudge   chan struct{}
	passMu  sync.Mutex
}

// New returns a worker that scans with sc.
func New(st *store.Store, sc clair.Backend, opts Options, log *slog.Logger) *Worker {
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 10
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{st: st, scanner: sc, opts: opts, log: log, nudge: make(chan struct{}, 1)}
}

// Scanner is the scanner the worker uses.
func (w *Worker) Scanner() clair.Backend { return w.scanner }

// Pushed tells the worker a manifest was stored: an image manifest starts a pass soon.
func (w *Worker) Pushed(_, mediaType string) {
	if !slices.Contains(store.ImageManifestTypes, mediaType) {
		return
	}
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Run makes a pass every Interval, and soon after a push, until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		if _, err := w.Pass(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("security scan pass failed; retrying at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.nudge:
		}
	}
}

// Stats counts what a pass did.
type Stats struct {
	Queued, Indexed, Failed, Unsupported, Matched, Events, Forgotten int
}

// Pass queues new image manifests, indexes what is due, and matches what was not matched
// against the scanner's current vulnerability data.
func (w *Worker) Pass(ctx context.Context) (Stats, error) {
	w.passMu.Lock()
	defer w.passMu.Unlock()
	var stats Stats
	state, err := w.scanner.IndexState(ctx)
	if err != nil {
		return stats, fmt.Errorf("ask the scanner for its index state: %w", err)
	}
	for {
		n, err := w.st.QueueScans(ctx, w.opts.Namespaces, 500)
		if err != nil {
			return stats, err
		}
		stats.Queued += n
		if n < 500 {
			break
		}
	}
	for {
		claimed, err := w.st.ClaimScans(ctx, state, w.opts.ReindexAfter, w.opts.Batch, 15*time.Minute)
		if err != nil {
			return stats, err
		}
		for _, d := range claimed {
			o := w.index(ctx, d, state)
			if err := w.st.FinishScan(ctx, d, o); err != nil {
				return stats, err
			}
			switch o.Status {
			case store.ScanScanned:
				stats.Indexed++
			case store.ScanUnsupported:
				stats.Unsupported++
			default:
				stats.Failed++
			}
		}
		if len(claimed) < w.opts.Batch || ctx.Err() != nil {
			break
		}
	}
	if stats.Forgotten, err = w.cleanup(ctx); err != nil {
		return stats, err
	}
	matched, events, err := w.rematch(ctx)
	stats.Matched, stats.Events = matched, events
	if stats != (Stats{}) {
		w.log.Info("security scan pass", "queued", stats.Queued, "indexed", stats.Indexed, "failed", stats.Failed,
			"unsupported", stats.Unsupported, "matched", stats.Matched, "events", stats.Events, "forgotten", stats.Forgotten)
	}
	return stats, err
}

// cleanup forgets the scans of manifests no repository holds any more, and with
// ManifestCleanup has the scanner delete their index reports.
func (w *Worker) cleanup(ctx context.Context) (int, error) {
	forgotten := 0
	for {
		orphans, err := w.st.OrphanedScans(ctx, 100)
		if err != nil || len(orphans) == 0 {
			return forgotten, err
		}
		if w.opts.ManifestCleanup {
			if _, err := w.scanner.DeleteManifests(ctx, orphans); err != nil {
				return forgotten, fmt.Errorf("ask the scanner to forget %d removed manifests: %w", len(orphans), err)
			}
		}
		if err := w.st.ForgetScans(ctx, orphans); err != nil {
			return forgotten, err
		}
		forgotten += len(orphans)
	}
}

// imageManifest is what the worker reads of an image manifest.
type imageManifest struct {
	Config struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	} `json:"layers"`
}

// imageConfigTypes are config media types of container images (others are artifacts).
var imageConfigTypes = []string{"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}

// index has the scanner index one claimed manifest.
func (w *Worker) index(ctx context.Context, digest, state string) store.ScanOutcome {
	locs, err := w.st.ManifestLocations(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return store.ScanOutcome{Status: store.ScanUnsupported, IndexerState: state, Error: "no repository holds the manifest any more"}
	}
	if err != nil {
		return w.retry(ctx, digest, err)
	}
	loc := locs[0]
	var doc imageManifest
	if err := json.Unmarshal(loc.Content, &doc); err != nil {
		return store.ScanOutcome{Status: store.ScanUnsupported, IndexerState: state, Error: "unreadable manifest: " + err.Error()}
	}
	if !slices.Contains(imageConfigTypes, doc.Config.MediaType) {
		return store.ScanOutcome{Status: store.ScanUnsupported, IndexerState: state,
			Error: fmt.Sprintf("not a container image (config %s)", doc.Config.MediaType)}
	}
	m := report.Manifest{Hash: digest}
	for _, l := range doc.Layers {
		if !isTarLayer(l.MediaType) {
			return store.ScanOutcome{Status: store.ScanUnsupported, IndexerState: state, Error: "layer " + l.Digest + " is not a tar layer (" + l.MediaType + ")"}
		}
		if w.opts.MaxLayerSize > 0 && l.Size > w.opts.MaxLayerSize {
			return store.ScanOutcome{Status: store.ScanUnsupported, IndexerState: state,
				Error: fmt.Sprintf("layer %s is larger (%d bytes) than SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE", l.Digest, l.Size)}
		}
		layer := report.Layer{Hash: l.Digest, MediaType: ociLayerType(l.MediaType)}
		if w.opts.LayerLocation != nil {
			if layer.URI, layer.Headers, err = w.opts.LayerLocation(loc, l.Digest); err != nil {
				return w.retry(ctx, digest, err)
			}
		}
		m.Layers = append(m.Layers, layer)
	}
	ir, err := w.scanner.Index(ctx, m)
	if err != nil {
		return w.retry(ctx, digest, err)
	}
	if !ir.Success && ir.Err != "" {
		return w.retry(ctx, digest, errors.New(ir.Err))
	}
	w.log.Info("indexed manifest", "manifest", digest, "repository", loc.Namespace+"/"+loc.Repository, "packages", len(ir.Packages))
	return store.ScanOutcome{Status: store.ScanScanned, IndexerState: state}
}

// retry schedules another try with backoff, or gives up after MaxAttempts.
func (w *Worker) retry(ctx context.Context, digest string, err error) store.ScanOutcome {
	st, _ := w.st.ScanStatusOf(ctx, digest)
	w.log.Warn("indexing a manifest failed", "manifest", digest, "attempt", st.Attempts, "err", err)
	if st.Attempts >= w.opts.MaxAttempts {
		return store.ScanOutcome{Status: store.ScanFailed, Error: err.Error()}
	}
	backoff := time.Duration(1<<min(st.Attempts, 6)) * w.opts.Interval / 2
	return store.ScanOutcome{Status: store.ScanQueued, Error: err.Error(), RetryAt: time.Now().Add(backoff)}
}

func isTarLayer(mt string) bool {
	return strings.Contains(mt, "image.rootfs.diff.tar") || strings.Contains(mt, "image.layer.v1.tar") ||
		strings.Contains(mt, "image.rootfs.foreign.diff.tar") || strings.Contains(mt, "image.layer.nondistributable.v1.tar")
}

// ociLayerType gives the OCI media type Clair's manifest accepts for a layer.
func ociLayerType(mt string) string {
	switch {
	case strings.HasSuffix(mt, "+zstd") || strings.HasSuffix(mt, ".zstd"):
		return "application/vnd.oci.image.layer.v1.tar+zstd"
	case strings.HasSuffix(mt, "gzip"):
		return "application/vnd.oci.image.layer.v1.tar+gzip"
	}
	return "application/vnd.oci.image.layer.v1.tar"
}

// VulnDBRef names the scanner's current vulnerability data: a hash of its latest update
// operations.
func (w *Worker) VulnDBRef(ctx context.Context) (string, error) {
	ops, err := w.scanner.UpdateOperations(ctx)
	if err != nil {
		return "", fmt.Errorf("ask the scanner for its update operations: %w", err)
	}
	var refs []string
	for updater, list := range ops {
		if len(list) > 0 {
			refs = append(refs, updater+"="+list[0].Ref)
		}
	}
	sort.Strings(refs)
	h := sha256.Sum256([]byte(strings.Join(refs, "\n")))
	return hex.EncodeToString(h[:12]), nil
}

// rematch matches the scanned manifests not yet matched against the current vulnerability
// data, and records their findings and the events of new ones.
func (w *Worker) rematch(ctx context.Context) (matched, events int, err error) {
	ref, err := w.VulnDBRef(ctx)
	if err != nil {
		return 0, 0, err
	}
	after := ""
	for {
		stale, err := w.st.StaleMatches(ctx, ref, after, 100)
		if err != nil {
			return matched, events, err
		}
		for _, st := range stale {
			after = st.ManifestDigest
			vr, err := w.scanner.VulnerabilityReport(ctx, st.ManifestDigest)
			if errors.Is(err, clair.ErrNotFound) { // the scanner lost the index report: index again
				if err := w.st.RequeueScan(ctx, st.ManifestDigest); err != nil {
					return matched, events, err
				}
				continue
			}
			if err != nil {
				return matched, events, fmt.Errorf("vulnerability report of %s: %w", st.ManifestDigest, err)
			}
			keys, found := Findings(vr)
			var fresh []store.Finding
			if st.VulnDBRef != "" { // a first match after indexing raises no events
				known := map[string]bool{}
				for _, k := range st.Findings {
					known[k] = true
				}
				for _, k := range keys {
					if f := found[k]; !known[k] && f.severity >= w.opts.EventSeverity {
						fresh = append(fresh, f.Finding)
					}
				}
			}
			n, err := w.st.RecordFindings(ctx, st.ManifestDigest, ref, keys, fresh)
			if err != nil {
				return matched, events, err
			}
			if n > 0 {
				w.log.Info("vulnerability found", "manifest", st.ManifestDigest, "new", len(fresh), "events", n)
			}
			matched++
			events += n
		}
		if len(stale) < 100 {
			return matched, events, nil
		}
	}
}

type finding struct {
	store.Finding
	severity report.Severity
}

// Findings lists a report's findings as sorted keys ("VULNERABILITY PACKAGE"), with what an
// event says of each.
func Findings(vr *report.VulnerabilityReport) ([]string, map[string]finding) {
	found := map[string]finding{}
	for pkgID, vulnIDs := range vr.PackageVulnerabilities {
		pkg := vr.Packages[pkgID]
		if pkg == nil {
			continue
		}
		for _, id := range vulnIDs {
			v := vr.Vulnerabilities[id]
			if v == nil {
				continue
			}
			key := v.Name + " " + pkg.Name
			if prev, ok := found[key]; ok && prev.severity >= v.NormalizedSeverity {
				continue
			}
			found[key] = finding{Finding: store.Finding{Vulnerability: v.Name, Package: pkg.Name + " " + pkg.Version,
				Severity: v.NormalizedSeverity.String(), FixedIn: v.FixedInVersion, Link: firstLink(v.Links)}, severity: v.NormalizedSeverity}
		}
	}
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, found
}

func firstLink(links string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(links), " ")
	return first
}
