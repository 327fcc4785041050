package clair_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/report"
)

// memBackend is an in-memory clair.Backend: enough of a scanner to test the protocol.
type memBackend struct {
	mu         sync.Mutex
	state      string
	reports    map[string]*report.IndexReport
	ops        map[string][]report.UpdateOperation
	err        error // when set, every method fails with it
	indexCalls int
	block      chan struct{} // when set, Index waits for the request's context to end
	ctxErr     chan error    // Index sends its context's error here after blocking
	seen       []report.Manifest
}

var _ clair.Backend = (*memBackend)(nil)

func newMemBackend() *memBackend {
	return &memBackend{state: "state-1", reports: map[string]*report.IndexReport{}, ops: map[string][]report.UpdateOperation{}}
}

func (b *memBackend) setState(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state = s
}

func (b *memBackend) Index(ctx context.Context, m report.Manifest) (*report.IndexReport, error) {
	if b.block != nil {
		<-ctx.Done()
		b.ctxErr <- ctx.Err()
		return nil, fmt.Errorf("index: %w", ctx.Err())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.indexCalls++
	b.seen = append(b.seen, m)
	if b.err != nil {
		return nil, b.err
	}
	rep := indexReportFor(m)
	b.reports[m.Hash] = rep
	return rep, nil
}

func (b *memBackend) IndexReport(_ context.Context, d string) (*report.IndexReport, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	rep, ok := b.reports[d]
	if !ok {
		return nil, fmt.Errorf("manifest %s: %w", d, clair.ErrNotFound)
	}
	return rep, nil
}

func (b *memBackend) DeleteManifests(_ context.Context, ds []string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	var deleted []string
	for _, d := range ds {
		if _, ok := b.reports[d]; ok {
			delete(b.reports, d)
			deleted = append(deleted, d)
		}
	}
	return deleted, nil
}

func (b *memBackend) IndexState(context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return "", b.err
	}
	return b.state, nil
}

func (b *memBackend) VulnerabilityReport(_ context.Context, d string) (*report.VulnerabilityReport, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	ir, ok := b.reports[d]
	if !ok {
		return nil, fmt.Errorf("manifest %s: %w", d, clair.ErrNotFound)
	}
	return vulnerabilityReportFor(ir), nil
}

func (b *memBackend) UpdateOperations(context.Context) (map[string][]report.UpdateOperation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	return maps.Clone(b.ops), nil
}

// digest returns the sha256 digest of s.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// manifest returns a manifest of n layers named after name.
func manifest(name string, n int) report.Manifest {
	m := report.Manifest{Hash: digest(name)}
	for i := range n {
		h := digest(fmt.Sprintf("%s/layer%d", name, i))
		m.Layers = append(m.Layers, report.Layer{
			Hash:      h,
			URI:       "https://registry.example/v2/library/" + name + "/blobs/" + h + "?X-Signature=a&b=c",
			Headers:   map[string][]string{"Authorization": {"Bearer layer-token"}, "Accept": {"application/gzip"}},
			MediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
		})
	}
	return m
}

// indexReportFor is the report the backend makes of m: one package per layer, every map
// filled, so that a round trip shows any member lost.
func indexReportFor(m report.Manifest) *report.IndexReport {
	rep := &report.IndexReport{
		ManifestHash:  m.Hash,
		State:         report.StateIndexFinished,
		Success:       true,
		Packages:      map[string]*report.Package{},
		Distributions: map[string]*report.Distribution{"1": {ID: "1", DID: "debian", Name: "Debian GNU/Linux", Version: "12 (bookworm)", VersionCodeName: "bookworm", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
		Repositories:  map[string]*report.Repository{"1": {ID: "1", Name: "Debian:12", Key: report.EcosystemKey}},
		Environments:  map[string][]*report.Environment{},
	}
	for i, l := range m.Layers {
		id := fmt.Sprint(i + 10)
		rep.Packages[id] = &report.Package{
			ID: id, Name: fmt.Sprintf("pkg%d", i), Version: "1.0-1", Kind: report.KindBinary, Arch: "amd64",
			Source: &report.Package{ID: id + "s", Name: fmt.Sprintf("src%d", i), Version: "1.0-1", Kind: report.KindSource},
		}
		rep.Environments[id] = []*report.Environment{{PackageDB: "var/lib/dpkg/status", IntroducedIn: l.Hash, DistributionID: "1", RepositoryIDs: []string{"1"}}}
	}
	return rep
}

var issued = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// vulnerabilityReportFor is the report the backend matches from ir: every package affected.
func vulnerabilityReportFor(ir *report.IndexReport) *report.VulnerabilityReport {
	vr := &report.VulnerabilityReport{
		ManifestHash:           ir.ManifestHash,
		Packages:               ir.Packages,
		Distributions:          ir.Distributions,
		Repositories:           ir.Repositories,
		Environments:           ir.Environments,
		Vulnerabilities:        map[string]*report.Vulnerability{},
		PackageVulnerabilities: map[string][]string{},
		Enrichments:            map[string][]json.RawMessage{"message/vnd.clair.map.vulnerability; enricher=clair.cvss": {json.RawMessage(`{"v1":[{"score":7.5}]}`)}},
	}
	for id, p := range ir.Packages {
		vid := "v" + id
		vr.Vulnerabilities[vid] = &report.Vulnerability{
			ID: vid, Updater: "osv", Name: "CVE-2024-" + id, Description: "a flaw in " + p.Name,
			Issued: &issued, Links: "https://osv.dev/CVE-2024-" + id, Severity: "HIGH", NormalizedSeverity: report.High,
			Package: &report.Package{ID: id, Name: p.Name, Version: p.Version}, Repository: &report.Repository{ID: "1", Name: "Debian:12", Key: report.EcosystemKey},
			FixedInVersion: "1.0-2", ArchOp: "equals", Range: &report.Range{Lower: "0", Upper: "1.0-2"},
		}
		vr.PackageVulnerabilities[id] = []string{vid}
	}
	return vr
}

// serve starts the handler over b and returns a client of it.
func serve(t *testing.T, b clair.Backend, hopts clair.HandlerOptions, copts clair.ClientOptions) (*httptest.Server, *clair.Client) {
	t.Helper()
	srv := httptest.NewServer(clair.NewHandler(b, hopts))
	t.Cleanup(srv.Close)
	if copts.HTTPClient == nil {
		copts.HTTPClient = srv.Client()
	}
	c, err := clair.NewClient(srv.URL, copts)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// do sends a raw request to the handler.
func do(t *testing.T, h http.Handler, method, target string, header http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, stringsReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
