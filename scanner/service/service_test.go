package service_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/service"
	"github.com/wharf-registry/wharf/scanner/vulndb"
)

// alpineLayer is a gzip layer with an Alpine 3.19 apk database holding OpenSSL 3.1.4-r1,
// which Alpine's secdb says later releases fixed.
func alpineLayer(t *testing.T) ([]byte, string) {
	t.Helper()
	files := map[string]string{
		"etc/os-release": "ID=alpine\nVERSION_ID=3.19.0\nNAME=\"Alpine Linux\"\n",
		"lib/apk/db/installed": "P:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n\n" +
			"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n",
	}
	var raw bytes.Buffer
	gz := gzip.NewWriter(&raw)
	tw := tar.NewWriter(gz)
	for _, dir := range []string{"etc/", "lib/", "lib/apk/", "lib/apk/db/"} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755})
	}
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))})
		io.WriteString(tw, body)
	}
	tw.Close()
	gz.Close()
	sum := sha256.Sum256(raw.Bytes())
	return raw.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

// newService is the scanner over a fresh SQLite store holding Alpine's secdb, fetching
// layers over HTTP as `wharf scanner serve` does.
func newService(t *testing.T) *service.Service {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data := filepath.Join("..", "..", "..", "shared", "vulndb", "alpine-secdb.zip")
	if dir := os.Getenv("WHARF_VULNDB_DIR"); dir != "" {
		data = filepath.Join(dir, "alpine-secdb.zip")
	}
	if _, err := vulndb.Import(context.Background(), st, []string{data}, io.Discard); err != nil {
		t.Fatal(err)
	}
	ix := indexer.New(indexer.Options{TempDir: t.TempDir()})
	return service.New(st, ix, func(_ context.Context, m report.Manifest) ([]indexer.Layer, error) {
		return indexer.HTTPLayers(http.DefaultClient, m), nil
	}, nil)
}

// backends are the implementations of clair.Backend the registry may talk to: the scanner
// in-process, and the scanner behind Clair's HTTP API through the client.
func backends(t *testing.T) map[string]clair.Backend {
	svc := newService(t)
	psk := []byte("service test key")
	srv := httptest.NewServer(clair.NewHandler(newService(t), clair.HandlerOptions{PSK: psk}))
	t.Cleanup(srv.Close)
	client, err := clair.NewClient(srv.URL, clair.ClientOptions{PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]clair.Backend{"in-process": svc, "clair-api": client}
}

// TestBackends runs one suite against every Backend.
func TestBackends(t *testing.T) {
	layer, digest := alpineLayer(t)
	var fetches int
	blobs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer layer-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		fetches++
		w.Write(layer)
	}))
	defer blobs.Close()
	manifest := report.Manifest{Hash: "sha256:" + strings.Repeat("ab", 32), Layers: []report.Layer{{
		Hash: digest, URI: blobs.URL + "/v2/ns/repo/blobs/" + digest,
		Headers: map[string][]string{"Authorization": {"Bearer layer-token"}}, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}}}
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fetches = 0
			state, err := b.IndexState(ctx)
			if err != nil || state == "" {
				t.Fatalf("IndexState = %q, %v", state, err)
			}
			if _, err := b.VulnerabilityReport(ctx, manifest.Hash); !errors.Is(err, clair.ErrNotFound) {
				t.Fatalf("report before indexing: %v, want ErrNotFound", err)
			}
			ir, err := b.Index(ctx, manifest)
			if err != nil {
				t.Fatal(err)
			}
			if !ir.Success || ir.ManifestHash != manifest.Hash || len(ir.Packages) != 2 {
				t.Fatalf("index report: success %v, manifest %s, %d packages", ir.Success, ir.ManifestHash, len(ir.Packages))
			}
			for id := range ir.Packages {
				if envs := ir.Environments[id]; len(envs) == 0 || envs[0].IntroducedIn != digest || ir.Ecosystem(envs[0]) != "Alpine:v3.19" {
					t.Errorf("package %s: environments %+v", ir.Packages[id].Name, envs)
				}
			}
			// Indexing again with the same indexer returns the stored report: no fetch.
			if _, err := b.Index(ctx, manifest); err != nil || fetches != 1 {
				t.Fatalf("second Index: %v, %d fetches; want the stored report", err, fetches)
			}
			stored, err := b.IndexReport(ctx, manifest.Hash)
			if err != nil || len(stored.Packages) != 2 {
				t.Fatalf("IndexReport = %+v, %v", stored, err)
			}
			vr, err := b.VulnerabilityReport(ctx, manifest.Hash)
			if err != nil {
				t.Fatal(err)
			}
			fixed := 0
			for pkgID, ids := range vr.PackageVulnerabilities {
				for _, id := range ids {
					v := vr.Vulnerabilities[id]
					if vr.Packages[pkgID].Name != "libcrypto3" {
						t.Errorf("vulnerability %s for %s; only OpenSSL is affected", v.Name, vr.Packages[pkgID].Name)
					}
					if v.FixedInVersion != "" && v.NormalizedSeverity >= report.Unknown {
						fixed++
					}
				}
			}
			if fixed == 0 {
				t.Error("no fixed vulnerability of OpenSSL 3.1.4-r1")
			}
			ops, err := b.UpdateOperations(ctx)
			if err != nil || len(ops) == 0 {
				t.Fatalf("UpdateOperations = %v, %v", ops, err)
			}
			deleted, err := b.DeleteManifests(ctx, []string{manifest.Hash})
			if err != nil || len(deleted) != 1 {
				t.Fatalf("DeleteManifests = %v, %v", deleted, err)
			}
			if _, err := b.IndexReport(ctx, manifest.Hash); !errors.Is(err, clair.ErrNotFound) {
				t.Fatalf("after delete: %v, want ErrNotFound", err)
			}
		})
	}
}
