package clair_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/report"
)

func stringsReader(s string) io.Reader {
	if s == "" {
		return nil
	}
	return strings.NewReader(s)
}

func TestRoundTrip(t *testing.T) {
	b := newMemBackend()
	_, c := serve(t, b, clair.HandlerOptions{}, clair.ClientOptions{})
	ctx := t.Context()

	m := manifest("alpine", 3)
	got, err := c.Index(ctx, m)
	if err != nil {
		t.Fatalf("Index: %v", err)
	}
	if !reflect.DeepEqual(b.seen, []report.Manifest{m}) {
		t.Errorf("the backend received %+v, want %+v", b.seen, m)
	}
	if want := b.reports[m.Hash]; !reflect.DeepEqual(got, want) {
		t.Errorf("Index returned\n%s\nwant\n%s", js(got), js(want))
	}

	got, err = c.IndexReport(ctx, m.Hash)
	if err != nil {
		t.Fatalf("IndexReport: %v", err)
	}
	if want := b.reports[m.Hash]; !reflect.DeepEqual(got, want) {
		t.Errorf("IndexReport returned\n%s\nwant\n%s", js(got), js(want))
	}

	vr, err := c.VulnerabilityReport(ctx, m.Hash)
	if err != nil {
		t.Fatalf("VulnerabilityReport: %v", err)
	}
	if want := vulnerabilityReportFor(b.reports[m.Hash]); !reflect.DeepEqual(vr, want) {
		t.Errorf("VulnerabilityReport returned\n%s\nwant\n%s", js(vr), js(want))
	}

	state, err := c.IndexState(ctx)
	if err != nil || state != "state-1" {
		t.Errorf("IndexState = %q, %v; want state-1", state, err)
	}

	other := manifest("debian", 1)
	if _, err := c.Index(ctx, other); err != nil {
		t.Fatal(err)
	}
	deleted, err := c.DeleteManifests(ctx, []string{m.Hash, digest("never indexed")})
	if err != nil || !slices.Equal(deleted, []string{m.Hash}) {
		t.Errorf("DeleteManifests = %q, %v; want [%s]", deleted, err, m.Hash)
	}
	if _, err := c.IndexReport(ctx, m.Hash); !errors.Is(err, clair.ErrNotFound) {
		t.Errorf("IndexReport after delete: %v, want ErrNotFound", err)
	}
	if _, err := c.VulnerabilityReport(ctx, m.Hash); !errors.Is(err, clair.ErrNotFound) {
		t.Errorf("VulnerabilityReport after delete: %v, want ErrNotFound", err)
	}
	if _, err := c.IndexReport(ctx, other.Hash); err != nil {
		t.Errorf("the other manifest went too: %v", err)
	}
	if deleted, err := c.DeleteManifests(ctx, nil); err != nil || len(deleted) != 0 {
		t.Errorf("DeleteManifests(nil) = %q, %v", deleted, err)
	}
}

func TestRoundTripSHA512AndEmptyManifest(t *testing.T) {
	b := newMemBackend()
	_, c := serve(t, b, clair.HandlerOptions{}, clair.ClientOptions{})
	m := report.Manifest{Hash: "sha512:" + strings.Repeat("ab", 64)}
	got, err := c.Index(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if got.ManifestHash != m.Hash || !got.Success {
		t.Errorf("got %s", js(got))
	}
	vr, err := c.VulnerabilityReport(t.Context(), m.Hash)
	if err != nil {
		t.Fatal(err)
	}
	// The document requires these members; an empty report still has them.
	if vr.Packages == nil || vr.Vulnerabilities == nil || vr.PackageVulnerabilities == nil || vr.Environments == nil || vr.Distributions == nil {
		t.Errorf("required members missing: %s", js(vr))
	}
}

func TestUpdateOperations(t *testing.T) {
	b := newMemBackend()
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	op := func(ref, updater string, d int, kind string) report.UpdateOperation {
		return report.UpdateOperation{Ref: ref, Updater: updater, Fingerprint: "fp-" + ref, Date: day(d), Kind: kind}
	}
	b.ops = map[string][]report.UpdateOperation{
		"osv/Debian":  {op("d3", "osv/Debian", 3, "vulnerability"), op("d1", "osv/Debian", 1, "vulnerability")},
		"osv/Alpine":  {op("a5", "osv/Alpine", 5, "vulnerability"), op("a2", "osv/Alpine", 2, "")},
		"clair.cvss":  {op("e9", "clair.cvss", 9, "enrichment")},
		"osv/Nothing": {},
	}
	srv, c := serve(t, b, clair.HandlerOptions{}, clair.ClientOptions{})

	wantAll := map[string][]report.UpdateOperation{"osv/Debian": b.ops["osv/Debian"], "osv/Alpine": b.ops["osv/Alpine"]}
	got, err := c.UpdateOperations(t.Context())
	if err != nil || !reflect.DeepEqual(got, wantAll) {
		t.Errorf("UpdateOperations = %s, %v; want %s", js(got), err, js(wantAll))
	}
	wantLatest := map[string][]report.UpdateOperation{"osv/Debian": b.ops["osv/Debian"][:1], "osv/Alpine": b.ops["osv/Alpine"][:1]}
	got, err = c.LatestUpdateOperations(t.Context())
	if err != nil || !reflect.DeepEqual(got, wantLatest) {
		t.Errorf("LatestUpdateOperations = %s, %v; want %s", js(got), err, js(wantLatest))
	}

	h := srv.Config.Handler
	tests := []struct {
		name       string
		query      string
		header     http.Header
		wantStatus int
		wantEtag   string
		want       map[string][]report.UpdateOperation
	}{
		{"all", "", nil, 200, `"a5"`, wantAll},
		{"latest", "?latest=true", nil, 200, `"a5"`, wantLatest},
		{"latest=1", "?latest=1", nil, 200, `"a5"`, wantLatest},
		{"latest=false", "?latest=false", nil, 200, `"a5"`, wantAll},
		{"kind vulnerability", "?kind=vulnerability", nil, 200, `"a5"`, wantAll},
		{"enrichment", "?kind=enrichment", nil, 200, `"e9"`, map[string][]report.UpdateOperation{"clair.cvss": b.ops["clair.cvss"]}},
		{"not modified", "", http.Header{"If-None-Match": {`"a5"`}}, 304, `"a5"`, nil},
		{"not modified, latest", "?latest=true", http.Header{"If-None-Match": {`"zz", "a5"`}}, 304, `"a5"`, nil},
		{"modified", "", http.Header{"If-None-Match": {`"d3"`}}, 200, `"a5"`, wantAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, "/matcher/api/v1/internal/update_operation"+tt.query, tt.header, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if etag := rec.Header().Get("Etag"); etag != tt.wantEtag {
				t.Errorf("Etag %s, want %s", etag, tt.wantEtag)
			}
			if tt.wantStatus == 304 {
				if rec.Body.Len() != 0 {
					t.Errorf("304 with a body: %s", rec.Body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/vnd.clair.update_operations.v1+json" {
				t.Errorf("Content-Type %s", ct)
			}
			var got map[string][]report.UpdateOperation
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s (%v), want %s", rec.Body, err, js(tt.want))
			}
		})
	}

	// No operations at all: an empty object and no Etag.
	b.ops = nil
	rec := do(t, h, http.MethodGet, "/matcher/api/v1/internal/update_operation", nil, "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "{}" || rec.Header().Get("Etag") != "" {
		t.Errorf("no operations: %d %q Etag %q", rec.Code, rec.Body, rec.Header().Get("Etag"))
	}
}

func TestIndexHeaders(t *testing.T) {
	b := newMemBackend()
	h := clair.NewHandler(b, clair.HandlerOptions{})
	m := manifest("busybox", 1)
	body := js(m)

	rec := do(t, h, http.MethodPost, "/indexer/api/v1/index_report", http.Header{"Content-Type": {"application/vnd.clair.manifest.v1+json"}}, body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	wantHeaders := map[string]string{
		"Content-Type": "application/vnd.clair.index_report.v1+json",
		"Location":     "/indexer/api/v1/index_report/" + m.Hash,
		"Etag":         `"state-1"`, // Quay reads the indexer state from it
	}
	for k, v := range wantHeaders {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	links := rec.Header().Values("Link")
	wantLinks := []string{
		`</indexer/api/v1/index_report/` + m.Hash + `>; rel="https://projectquay.io/clair/v1/index_report"`,
		`</matcher/api/v1/vulnerability_report/` + m.Hash + `>; rel="https://projectquay.io/clair/v1/vulnerability_report"`,
	}
	if !slices.Equal(links, wantLinks) {
		t.Errorf("Link: %q, want %q", links, wantLinks)
	}

	// application/json, without or with parameters, is read as well; so is a body without
	// a Content-Type (Clair reads any).
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", ""} {
		var hdr http.Header
		if ct != "" {
			hdr = http.Header{"Content-Type": {ct}}
		}
		if rec := do(t, h, http.MethodPost, "/indexer/api/v1/index_report", hdr, body); rec.Code != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	b := newMemBackend()
	mux := http.NewServeMux()
	mux.Handle("/clair/", http.StripPrefix("/clair", clair.NewHandler(b, clair.HandlerOptions{})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := clair.NewClient(srv.URL+"/clair/", clair.ClientOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	m := manifest("prefixed", 1)
	if _, err := c.Index(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VulnerabilityReport(t.Context(), m.Hash); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Post(srv.URL+"/clair/indexer/api/v1/index_report", "application/json", strings.NewReader(js(m)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/clair/indexer/api/v1/index_report/"+m.Hash {
		t.Errorf("Location %q names a path the client cannot ask for", loc)
	}
	if l := resp.Header.Values("Link"); len(l) != 2 || !strings.HasPrefix(l[1], "</clair/matcher/api/v1/vulnerability_report/") {
		t.Errorf("Link %q", l)
	}
}

func TestIndexIfChanged(t *testing.T) {
	b := newMemBackend()
	_, c := serve(t, b, clair.HandlerOptions{}, clair.ClientOptions{})
	m := manifest("nginx", 2)

	rep, state, err := c.IndexIfChanged(t.Context(), m, "")
	if err != nil || rep == nil || state != "state-1" {
		t.Fatalf("IndexIfChanged(no state) = %v, %q, %v", rep, state, err)
	}
	rep, state, err = c.IndexIfChanged(t.Context(), m, "state-1")
	if !errors.Is(err, clair.ErrStateUnchanged) || rep != nil || state != "state-1" {
		t.Errorf("IndexIfChanged(current state) = %v, %q, %v; want ErrStateUnchanged", rep, state, err)
	}
	var se *clair.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("error %v is not a 412 StatusError", err)
	}
	if b.indexCalls != 1 {
		t.Errorf("the backend indexed %d times; the 412 should have spared it", b.indexCalls)
	}
	b.setState("state-2")
	rep, state, err = c.IndexIfChanged(t.Context(), m, "state-1")
	if err != nil || rep == nil || state != "state-2" {
		t.Errorf("IndexIfChanged(old state) = %v, %q, %v", rep, state, err)
	}
}

func TestIndexState(t *testing.T) {
	b := newMemBackend()
	h := clair.NewHandler(b, clair.HandlerOptions{})
	tests := []struct {
		name        string
		state       string
		ifNoneMatch string
		wantStatus  int
		wantEtag    string
	}{
		{"no condition", "state-1", "", 200, `"state-1"`},
		{"match", "state-1", `"state-1"`, 304, `"state-1"`},
		{"weak match", "state-1", `W/"state-1"`, 304, `"state-1"`},
		{"match in a list", "state-1", `"state-0", "state-1"`, 304, `"state-1"`},
		{"star", "state-1", `*`, 304, `"state-1"`},
		{"no match", "state-1", `"state-0"`, 200, `"state-1"`},
		{"unquoted is no entity tag", "state-1", `state-1`, 200, `"state-1"`},
		{"state changed", "state-2", `"state-1"`, 200, `"state-2"`},
		{"odd state", `a "b"%`, "", 200, `"a%20%22b%22%25"`},
		{"odd state match", `a "b"%`, `"a%20%22b%22%25"`, 304, `"a%20%22b%22%25"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.setState(tt.state)
			var hdr http.Header
			if tt.ifNoneMatch != "" {
				hdr = http.Header{"If-None-Match": {tt.ifNoneMatch}}
			}
			rec := do(t, h, http.MethodGet, "/indexer/api/v1/index_state", hdr, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if etag := rec.Header().Get("Etag"); etag != tt.wantEtag {
				t.Errorf("Etag %s, want %s", etag, tt.wantEtag)
			}
			if tt.wantStatus == 304 {
				if rec.Body.Len() != 0 {
					t.Errorf("304 with a body: %q", rec.Body)
				}
				return
			}
			var st report.IndexState
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.State != tt.state {
				t.Errorf("body %q (%v), want state %q", rec.Body, err, tt.state)
			}
		})
	}
}

func TestNegotiation(t *testing.T) {
	h := clair.NewHandler(newMemBackend(), clair.HandlerOptions{})
	const vnd = "application/vnd.clair.index_state.v1+json"
	tests := []struct {
		accept     string
		wantStatus int
		wantType   string
	}{
		{"", 200, vnd},
		{"*/*", 200, vnd},
		{"application/*", 200, vnd},
		{vnd, 200, vnd},
		{"application/json", 200, "application/json"},
		{"application/json, " + vnd, 200, "application/json"},
		{vnd + ";q=0.2, application/json;q=0.9", 200, "application/json"},
		{"text/html, application/json;q=0.1", 200, "application/json"},
		{"text/html", 415, "application/vnd.clair.error.v1+json"},
		{"application/json;q=0", 415, "application/vnd.clair.error.v1+json"}, // refused: the error in its own type
		{"text/html, application/json", 200, "application/json"},
		{";;;, ===", 200, vnd}, // unreadable: ignored
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			var hdr http.Header
			if tt.accept != "" {
				hdr = http.Header{"Accept": {tt.accept}}
			}
			rec := do(t, h, http.MethodGet, "/indexer/api/v1/index_state", hdr, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
		})
	}
}

// TestErrors checks the failures, with raw requests: status, content type and error document.
func TestErrors(t *testing.T) {
	b := newMemBackend()
	m := manifest("known", 1)
	b.reports[m.Hash] = indexReportFor(m)
	h := clair.NewHandler(b, clair.HandlerOptions{MaxRequestBytes: 4096})
	failing := newMemBackend()
	failing.err = errors.New("database on fire")
	invalid := newMemBackend()
	invalid.err = fmt.Errorf("layer 0 is not a tar archive: %w", clair.ErrInvalid)
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	const errType = "application/vnd.clair.error.v1+json"
	unknown := digest("unknown")
	bad := manifest("bad", 2)
	bad.Layers[1].Hash = "sha256:short"
	noURI := manifest("nouri", 1)
	noURI.Layers[0].URI = ""

	tests := []struct {
		name       string
		h          http.Handler
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
		wantType   string
		wantInMsg  string
	}{
		{"index report not found", h, "GET", "/indexer/api/v1/index_report/" + unknown, nil, "", 404, "not-found", errType, unknown},
		{"vulnerability report not found", h, "GET", "/matcher/api/v1/vulnerability_report/" + unknown, nil, "", 404, "not-found", errType, unknown},
		{"error as application/json", h, "GET", "/indexer/api/v1/index_report/" + unknown, http.Header{"Accept": {"application/json"}}, "", 404, "not-found", "application/json", ""},
		{"bad digest", h, "GET", "/indexer/api/v1/index_report/sha256:xyz", nil, "", 400, "bad-request", errType, "sha256:xyz"},
		{"upper-case digest", h, "GET", "/indexer/api/v1/index_report/sha256:" + strings.Repeat("AB", 32), nil, "", 400, "bad-request", errType, ""},
		{"unknown algorithm", h, "GET", "/matcher/api/v1/vulnerability_report/md5:" + strings.Repeat("a", 32), nil, "", 400, "bad-request", errType, ""},
		{"short sha512", h, "GET", "/matcher/api/v1/vulnerability_report/sha512:" + strings.Repeat("a", 64), nil, "", 400, "bad-request", errType, ""},
		{"delete bad digest", h, "DELETE", "/indexer/api/v1/index_report/latest", nil, "", 400, "bad-request", errType, ""},
		{"index: wrong content type", h, "POST", "/indexer/api/v1/index_report", http.Header{"Content-Type": {"text/plain"}}, js(m), 415, "unsupported-media-type", errType, "text/plain"},
		{"index: form content type", h, "POST", "/indexer/api/v1/index_report", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, js(m), 415, "unsupported-media-type", errType, ""},
		{"index: unanswerable Accept", h, "POST", "/indexer/api/v1/index_report", http.Header{"Content-Type": {"application/json"}, "Accept": {"text/html"}}, js(m), 415, "unsupported-media-type", errType, "text/html"},
		{"index: not JSON", h, "POST", "/indexer/api/v1/index_report", jsonCT, "hash=sha256:abc", 400, "bad-request", errType, "not a manifest"},
		{"index: empty body", h, "POST", "/indexer/api/v1/index_report", jsonCT, "", 400, "bad-request", errType, "empty"},
		{"index: wrong JSON type", h, "POST", "/indexer/api/v1/index_report", jsonCT, `["sha256:abc"]`, 400, "bad-request", errType, ""},
		{"index: two documents", h, "POST", "/indexer/api/v1/index_report", jsonCT, js(m) + js(m), 400, "bad-request", errType, "more than one"},
		{"index: no hash", h, "POST", "/indexer/api/v1/index_report", jsonCT, `{"layers":[]}`, 400, "bad-request", errType, "no hash"},
		{"index: null", h, "POST", "/indexer/api/v1/index_report", jsonCT, `null`, 400, "bad-request", errType, "no hash"},
		{"index: bad hash", h, "POST", "/indexer/api/v1/index_report", jsonCT, `{"hash":"sha256:1234"}`, 400, "bad-request", errType, "sha256:1234"},
		{"index: bad layer hash", h, "POST", "/indexer/api/v1/index_report", jsonCT, js(bad), 400, "bad-request", errType, "layer 1"},
		{"index: layer without uri", h, "POST", "/indexer/api/v1/index_report", jsonCT, js(noURI), 400, "bad-request", errType, "no uri"},
		{"index: too large", h, "POST", "/indexer/api/v1/index_report", jsonCT, `{"hash":"` + strings.Repeat("a", 5000) + `"}`, 413, "too-large", errType, "4096"},
		{"bulk delete: not an array", h, "DELETE", "/indexer/api/v1/index_report", jsonCT, `{"a":1}`, 400, "bad-request", errType, ""},
		{"bulk delete: bad digest", h, "DELETE", "/indexer/api/v1/index_report", jsonCT, `["` + unknown + `","nope"]`, 400, "bad-request", errType, "element 1"},
		{"bulk delete: wrong content type", h, "DELETE", "/indexer/api/v1/index_report", http.Header{"Content-Type": {"text/csv"}}, `[]`, 415, "unsupported-media-type", errType, ""},
		{"method not allowed", h, "PUT", "/indexer/api/v1/index_report", nil, "", 405, "method-not-allowed", errType, "PUT"},
		{"method not allowed on a report", h, "POST", "/indexer/api/v1/index_report/" + m.Hash, nil, "", 405, "method-not-allowed", errType, ""},
		{"method not allowed on the state", h, "DELETE", "/indexer/api/v1/index_state", nil, "", 405, "method-not-allowed", errType, ""},
		{"unknown path", h, "GET", "/nope", nil, "", 404, "not-found", errType, "/nope"},
		{"notifier is not served", h, "GET", "/notifier/api/v1/notification/abc", nil, "", 404, "not-found", errType, ""},
		{"no digest", h, "GET", "/indexer/api/v1/index_report/", nil, "", 404, "not-found", errType, ""},
		{"unknown kind", h, "GET", "/matcher/api/v1/internal/update_operation?kind=weather", nil, "", 400, "bad-request", errType, "weather"},
		{"latest not a boolean", h, "GET", "/matcher/api/v1/internal/update_operation?latest=maybe", nil, "", 400, "bad-request", errType, "maybe"},
		{"backend failure: index", clair.NewHandler(failing, clair.HandlerOptions{}), "POST", "/indexer/api/v1/index_report", jsonCT, js(m), 500, "internal-error", errType, "database on fire"},
		{"backend failure: report", clair.NewHandler(failing, clair.HandlerOptions{}), "GET", "/indexer/api/v1/index_report/" + m.Hash, nil, "", 500, "internal-error", errType, "database on fire"},
		{"backend failure: state", clair.NewHandler(failing, clair.HandlerOptions{}), "GET", "/indexer/api/v1/index_state", nil, "", 500, "internal-error", errType, "database on fire"},
		{"backend failure: operations", clair.NewHandler(failing, clair.HandlerOptions{}), "GET", "/matcher/api/v1/internal/update_operation", nil, "", 500, "internal-error", errType, ""},
		{"backend: invalid", clair.NewHandler(invalid, clair.HandlerOptions{}), "GET", "/matcher/api/v1/vulnerability_report/" + m.Hash, nil, "", 400, "bad-request", errType, "not a tar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, tt.h, tt.method, tt.path, tt.header, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if rec.Header().Get("Location") != "" || rec.Header().Get("Link") != "" {
				t.Error("an error names a report")
			}
			var e report.Error
			dec := json.NewDecoder(rec.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("not an error document: %v", err)
			}
			if e.Code != tt.wantCode || e.Message == "" || !strings.Contains(e.Message, tt.wantInMsg) {
				t.Errorf("error %+v, want code %q and a message with %q", e, tt.wantCode, tt.wantInMsg)
			}
			if tt.wantStatus == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestDelete(t *testing.T) {
	b := newMemBackend()
	srv, c := serve(t, b, clair.HandlerOptions{}, clair.ClientOptions{})
	h := srv.Config.Handler
	m := manifest("todelete", 1)
	if _, err := c.Index(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{204, 204} { // deleting twice is no error: the document has no 404 here
		rec := do(t, h, "DELETE", "/indexer/api/v1/index_report/"+m.Hash, nil, "")
		if rec.Code != want || rec.Body.Len() != 0 {
			t.Errorf("delete #%d: %d %q", i+1, rec.Code, rec.Body)
		}
	}
	if _, err := c.IndexReport(t.Context(), m.Hash); !errors.Is(err, clair.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	// A bulk delete of nothing known answers an empty array, not null.
	rec := do(t, h, "DELETE", "/indexer/api/v1/index_report", http.Header{"Content-Type": {"application/vnd.clair.bulk_delete.v1+json"}}, `["`+m.Hash+`"]`)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" || rec.Header().Get("Content-Type") != "application/vnd.clair.bulk_delete.v1+json" {
		t.Errorf("bulk delete: %d %s %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func TestVulnerabilityReportStatus(t *testing.T) {
	b := newMemBackend()
	m := manifest("vr", 1)
	b.reports[m.Hash] = indexReportFor(m)
	h := clair.NewHandler(b, clair.HandlerOptions{})
	rec := do(t, h, "GET", "/matcher/api/v1/vulnerability_report/"+m.Hash, nil, "")
	if rec.Code != http.StatusCreated { // as the document has it
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/vnd.clair.vulnerability_report.v1+json" {
		t.Errorf("Content-Type %q", ct)
	}
	// HEAD: the same headers, no body.
	rec = do(t, h, "HEAD", "/matcher/api/v1/vulnerability_report/"+m.Hash, nil, "")
	if rec.Code != http.StatusCreated || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

// TestClientAgainstOtherServers checks how the client reads answers Wharf's handler does
// not give but a real Clair or a proxy may.
func TestClientAgainstOtherServers(t *testing.T) {
	m := manifest("x", 1)
	vr := vulnerabilityReportFor(indexReportFor(m))
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    func(c *clair.Client) error
		check   func(t *testing.T, err error)
	}{
		{
			name: "Clair answers the vulnerability report with 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.clair.index_report.v1+json") // as Clair does
				_ = json.NewEncoder(w).Encode(vr)
			},
			call: func(c *clair.Client) error {
				got, err := c.VulnerabilityReport(context.Background(), m.Hash)
				if err == nil && !reflect.DeepEqual(got, vr) {
					return errors.New("report changed on the way")
				}
				return err
			},
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Error(err)
				}
			},
		},
		{
			name: "matcher not initialized: 202",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
			},
			call: func(c *clair.Client) error { _, err := c.VulnerabilityReport(context.Background(), m.Hash); return err },
			check: func(t *testing.T, err error) {
				var se *clair.StatusError
				if !errors.As(err, &se) || se.StatusCode != 202 {
					t.Errorf("%v, want a 202 StatusError", err)
				}
			},
		},
		{
			name: "proxy error page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, "<html>\n<body>502 Bad Gateway</body>\n</html>")
			},
			call: func(c *clair.Client) error { _, err := c.IndexState(context.Background()); return err },
			check: func(t *testing.T, err error) {
				var se *clair.StatusError
				if !errors.As(err, &se) || se.StatusCode != 502 || !strings.Contains(se.Message, "502 Bad Gateway") || se.Code != "" {
					t.Errorf("%#v", err)
				}
				if !strings.Contains(err.Error(), "/indexer/api/v1/index_state answered 502") {
					t.Errorf("message %q", err)
				}
			},
		},
		{
			name: "Clair's error document",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"code":"bad-request","message":"bogus manifest"}`)
			},
			call: func(c *clair.Client) error { _, err := c.Index(context.Background(), m); return err },
			check: func(t *testing.T, err error) {
				var se *clair.StatusError
				if !errors.Is(err, clair.ErrInvalid) || !errors.As(err, &se) || se.Code != "bad-request" || se.Message != "bogus manifest" {
					t.Errorf("%#v", err)
				}
			},
		},
		{
			name: "not JSON on success",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "<html>hello</html>")
			},
			call: func(c *clair.Client) error { _, err := c.IndexReport(context.Background(), m.Hash); return err },
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
					t.Errorf("%v", err)
				}
			},
		},
		{
			name: "no state",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{}`)
			},
			call: func(c *clair.Client) error { _, err := c.IndexState(context.Background()); return err },
			check: func(t *testing.T, err error) {
				if err == nil {
					t.Error("an empty state was taken")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c, err := clair.NewClient(srv.URL, clair.ClientOptions{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, tt.call(c))
		})
	}
}

func TestClientRefusesBadDigests(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c, err := clair.NewClient(srv.URL, clair.ClientOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, d := range []string{"", "../../index_state", "sha256:abc", "sha256:" + strings.Repeat("a", 64) + "/x"} {
		if _, err := c.IndexReport(ctx, d); !errors.Is(err, clair.ErrInvalid) {
			t.Errorf("IndexReport(%q): %v", d, err)
		}
		if _, err := c.VulnerabilityReport(ctx, d); !errors.Is(err, clair.ErrInvalid) {
			t.Errorf("VulnerabilityReport(%q): %v", d, err)
		}
		if _, err := c.DeleteManifests(ctx, []string{digest("ok"), d}); !errors.Is(err, clair.ErrInvalid) {
			t.Errorf("DeleteManifests(%q): %v", d, err)
		}
		if _, err := c.Index(ctx, report.Manifest{Hash: d}); !errors.Is(err, clair.ErrInvalid) {
			t.Errorf("Index(%q): %v", d, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"http://clair:8080", true},
		{"https://clair.example/", true},
		{"https://proxy.example/clair/", true},
		{"", false},
		{"clair:8080", false},
		{"ftp://clair", false},
		{"http://", false},
		{"http://clair?x=1", false},
		{"http://clair/#top", false},
		{"http://[::1", false},
	}
	for _, tt := range tests {
		_, err := clair.NewClient(tt.endpoint, clair.ClientOptions{})
		if (err == nil) != tt.ok {
			t.Errorf("NewClient(%q) = %v, want ok=%v", tt.endpoint, err, tt.ok)
		}
	}
}

func TestCancellation(t *testing.T) {
	b := newMemBackend()
	b.block = make(chan struct{})
	b.ctxErr = make(chan error, 1)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, c := serve(t, b, clair.HandlerOptions{Log: log}, clair.ClientOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Index(ctx, manifest("slow", 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Index: %v, want a deadline error", err)
	}
	select {
	case err := <-b.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the backend's context ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's context was not cancelled when the client went away")
	}
}

func TestLogging(t *testing.T) {
	b := newMemBackend()
	b.err = errors.New("database on fire")
	var logs syncWriter
	var buf bytes.Buffer
	logs.w = &buf
	h := clair.NewHandler(b, clair.HandlerOptions{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := do(t, h, "GET", "/indexer/api/v1/index_state", http.Header{"X-Request-Id": {"req-42"}}, "")
	if rec.Code != 500 || rec.Header().Get("X-Request-Id") != "req-42" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "database on fire", "request_id=req-42", "status=500", "/indexer/api/v1/index_state"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	// Client mistakes are below the default level.
	logs.Reset()
	do(t, h, "GET", "/indexer/api/v1/index_report/bad", nil, "")
	if logs.String() != "" {
		t.Errorf("a 400 logged at Info or above: %s", logs.String())
	}
	// Without a logger, nothing breaks.
	if rec := do(t, clair.NewHandler(b, clair.HandlerOptions{}), "GET", "/indexer/api/v1/index_state", nil, ""); rec.Code != 500 {
		t.Errorf("%d", rec.Code)
	}
}

// syncWriter is a bytes.Buffer safe for the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (s *syncWriter) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Reset()
}

// js returns v as JSON, for messages and bodies.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
