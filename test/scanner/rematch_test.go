package scanner_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/secscan"
	"github.com/wharf-registry/wharf/registry/store"
)

// secdbWithout copies an Alpine secdb archive leaving out the packages named in drop from
// every release's files: "older" data, which newer data then completes.
func secdbWithout(t testing.TB, file string, drop ...string) string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(t.TempDir(), "alpine-secdb-older.zip")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, m := range zr.File {
		rc, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(m.Name) == ".json" {
			var db map[string]any
			if err := json.Unmarshal(body, &db); err != nil {
				t.Fatal(err)
			}
			kept := []any{}
			pkgs, _ := db["packages"].([]any)
			for _, p := range pkgs {
				name, _ := p.(map[string]any)["pkg"].(map[string]any)["name"].(string)
				if !contains(drop, name) {
					kept = append(kept, p)
				}
			}
			db["packages"] = kept
			if body, err = json.Marshal(db); err != nil {
				t.Fatal(err)
			}
		}
		w, err := zw.Create(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRematch imports older data, scans, then imports newer data into the running registry's
// store: the stored index report is matched again (not indexed again) and each new finding at
// or above SECURITY_SCANNER_NOTIFY_MIN_SEVERITY raises a "vulnerability found" event for the
// repositories holding the image.
func TestRematch(t *testing.T) {
	img, installed := alpineImage(t)
	origins, _ := apkOrigins(installed)
	full := vulndb(t, "alpine-secdb.zip")
	older := secdbWithout(t, full, "openssl", "curl")
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: scanningConfig + "SECURITY_SCANNER_NOTIFY_MIN_SEVERITY: Unknown\n"})
	importData(t, w, older)
	p := newPusher(t, w)
	digest := p.push(img, "admin/alpine", "3.19")
	p.push(img, "admin/alpine-copy", "3.19") // the same manifest in a second repository
	before := security(t, w, "admin/alpine", digest, nil)
	has := func(sec *secscan.Security, pkg string) bool {
		for _, f := range sec.Data.Layer.Features {
			if f.Name == pkg && len(f.Vulnerabilities) > 0 {
				return true
			}
		}
		return false
	}
	if has(before, "libcrypto3") || has(before, "libcurl") {
		t.Fatal("openssl or curl findings with data that leaves them out")
	}
	if !has(before, "busybox") {
		t.Fatal("no busybox findings with the older data")
	}

	st, err := store.Open(context.Background(), store.Options{DataDir: w.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	report0, err := st.IndexReport(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the first match (against the older data) to be recorded.
	var status0 store.ScanStatus
	for deadline := time.Now().Add(2 * time.Minute); status0.VulnDBRef == ""; time.Sleep(100 * time.Millisecond) {
		if status0, err = st.ScanStatusOf(context.Background(), digest); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no first match within 2 minutes\n%s", w.Logs())
		}
	}
	if events, _ := st.SecurityEvents(context.Background(), 0, 1000, false); len(events) != 0 {
		t.Fatalf("%d events after the first scan; a first match raises none", len(events))
	}

	importData(t, w, full)
	// The worker notices the new data at its next pass and matches the stored report again;
	// the findings and their events are written in one transaction.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st1, err := st.ScanStatusOf(context.Background(), digest)
		if err != nil {
			t.Fatal(err)
		}
		if st1.VulnDBRef != status0.VulnDBRef {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manifest was not matched against the new data within 2 minutes\n%s", w.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	after := security(t, w, "admin/alpine", digest, nil)
	if !has(after, "libcrypto3") {
		t.Error("no openssl findings after importing the newer data")
	}
	want := expectSecDB(t, full, "v3.19", origins)
	wantNew := map[string]bool{}
	for f := range want {
		if f.Package == "openssl" || f.Package == "curl" {
			wantNew[f.ID] = true
		}
	}
	if !has(after, "libcurl") {
		t.Error("no curl findings after importing the newer data")
	}
	events, err := st.SecurityEvents(context.Background(), 0, 10000, true)
	if err != nil {
		t.Fatal(err)
	}
	perRepo := map[string]map[string]bool{}
	for _, e := range events {
		if e.ManifestDigest != digest {
			t.Errorf("event for %s, want %s", e.ManifestDigest, digest)
		}
		if perRepo[e.Repository] == nil {
			perRepo[e.Repository] = map[string]bool{}
		}
		perRepo[e.Repository][e.Vulnerability] = true
	}
	for _, repo := range []string{"admin/alpine", "admin/alpine-copy"} {
		for id := range wantNew {
			if !perRepo[repo][id] {
				t.Errorf("%s: no event for %s", repo, id)
			}
		}
		for id := range perRepo[repo] {
			if !wantNew[id] {
				t.Errorf("%s: event for %s, which the older data already had or which does not apply", repo, id)
			}
		}
	}
	report1, err := st.IndexReport(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	status1, err := st.ScanStatusOf(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if !report1.CreatedAt.Equal(report0.CreatedAt) || !status1.IndexedAt.Equal(status0.IndexedAt) {
		t.Errorf("the manifest was indexed again (report %s → %s, indexed %s → %s); new data must only re-match",
			report0.CreatedAt, report1.CreatedAt, status0.IndexedAt, status1.IndexedAt)
	}
	if status1.VulnDBRef == status0.VulnDBRef {
		t.Error("the findings were not matched against the new data")
	}
}
