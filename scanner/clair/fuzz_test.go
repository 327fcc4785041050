package clair_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/report"
)

// FuzzManifestBody feeds arbitrary bodies to POST index_report: the handler answers 201 with
// the manifest's report or a 4xx with an error document, and never panics.
func FuzzManifestBody(f *testing.F) {
	f.Add(js(manifest("seed", 2)))
	f.Add(js(report.Manifest{Hash: "sha512:" + strings.Repeat("0", 128)}))
	f.Add(`{"hash":"sha256:` + strings.Repeat("a", 64) + `","layers":[{"hash":"sha256:` + strings.Repeat("b", 64) + `","uri":"x","headers":{"A":["b"]}}]}`)
	f.Add(``)
	f.Add(`null`)
	f.Add(`[]`)
	f.Add(`{"hash":1}`)
	f.Add(`{"hash":"sha256:` + strings.Repeat("a", 64) + `","layers":[null]}`)
	f.Add(`{"hash":"sha256:` + strings.Repeat("a", 64) + `"} trailing`)
	f.Add("{\"hash\":\"sha256:\xff\"}")
	f.Add(`{"layers":[{"headers":{"":[""]}}]}`)
	f.Add(strings.Repeat("[", 10000))
	f.Fuzz(func(t *testing.T, body string) {
		h := clair.NewHandler(newMemBackend(), clair.HandlerOptions{MaxRequestBytes: 64 << 10})
		rec := do(t, h, http.MethodPost, "/indexer/api/v1/index_report", http.Header{"Content-Type": {"application/json"}}, body)
		switch {
		case rec.Code == http.StatusCreated:
			var m report.Manifest
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("201 for a body that is not a manifest: %v", err)
			}
			var rep report.IndexReport
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rep.ManifestHash != m.Hash {
				t.Fatalf("201 with %q (%v), want the report of %s", rec.Body, err, m.Hash)
			}
			if rec.Header().Get("Location") != "/indexer/api/v1/index_report/"+m.Hash {
				t.Fatalf("Location %q", rec.Header().Get("Location"))
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e report.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%d with %q (%v): not an error document", rec.Code, rec.Body, err)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
