package vulndb_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/vulndb"
)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{URI: "sqlite:///" + filepath.Join(t.TempDir(), "wharf.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func count(t *testing.T, st *store.Store) int {
	t.Helper()
	n, err := st.VulnerabilityCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ref(t *testing.T, st *store.Store) string {
	t.Helper()
	r, err := st.VulnDBRef(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := t.TempDir()
	v1 := writeFile(t, filepath.Join(dir, "v1", "debian.zip"), zipBytes(t,
		member{"CVE-1.json", osvRecord("CVE-1", "2024-01-01T00:00:00Z", "glibc", "2.36-9+deb12u1")},
		member{"CVE-2.json", osvRecord("CVE-2", "2024-01-01T00:00:00Z", "glibc", "2.36-9+deb12u2")},
		member{"CVE-3.json", `{"id":"CVE-3","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-01-01T00:00:00Z","affected":[]}`},
		member{"CVE-4.json", `{"id":"CVE-4","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12"}}]}`}))
	var progress bytes.Buffer
	res, err := vulndb.Import(ctx, st, []string{v1}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	fr := res.Files[0]
	if res.Added != 2 || res.Advisories != 2 || res.Affected != 2 || res.Invalid != 1 || fr.Withdrawn != 1 || fr.Documents != 4 ||
		fr.Updater != "osv/debian.zip" || len(fr.Fingerprint) != 64 || fr.Store.Operation.Ref == "" ||
		len(fr.InvalidExamples) != 1 || !strings.HasPrefix(fr.InvalidExamples[0], "CVE-4.json: CVE-4: affected[0]") {
		t.Fatalf("Import(v1) = %+v", res)
	}
	for _, want := range []string{v1 + ": importing (osv)", "4 documents, 2 advisories, 2 affected packages written; 2 added",
		"skipped 1 invalid records: CVE-4.json: CVE-4: affected[0]"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	if s := res.String(); s != "1 files imported: 2 advisories (2 added, 0 updated, 0 unchanged, 0 removed), 2 affected packages written; 1 invalid records skipped" {
		t.Errorf("Result.String() = %q", s)
	}
	rows, err := st.AffectedPackages(ctx, "Debian:12", "glibc")
	if err != nil || len(rows) != 2 {
		t.Fatalf("AffectedPackages = %d, %v", len(rows), err)
	}
	if r := rows[0]; r.Advisory.ID != "CVE-1" || r.Package.Severity != "medium" || r.Package.NormalizedSeverity != report.Medium ||
		r.Advisory.Links[0] != "https://security-tracker.debian.org/tracker/CVE-1" || r.Advisory.Details != "details of CVE-1" {
		t.Errorf("stored CVE-1: %+v", r)
	}
	ranges, err := vulndb.DecodeRanges(rows[0].Package.Ranges)
	if err != nil || len(ranges) != 1 || ranges[0].Events[1].Fixed != "2.36-9+deb12u1" {
		t.Errorf("stored ranges %s: %+v, %v", rows[0].Package.Ranges, ranges, err)
	}

	// Importing the same file again changes nothing and records nothing.
	before := ref(t, st)
	res, err = vulndb.Import(ctx, st, []string{v1}, nil)
	if err != nil || res.Unchanged != 2 || res.Added+res.Updated+res.Removed != 0 || ref(t, st) != before {
		t.Fatalf("second Import(v1) = %+v, %v", res, err)
	}

	// A newer file: CVE-1 updated, CVE-2 withdrawn, CVE-5 new.
	v2 := writeFile(t, filepath.Join(dir, "v2", "debian.zip"), zipBytes(t,
		member{"CVE-1.json", osvRecord("CVE-1", "2024-02-01T00:00:00Z", "glibc", "2.36-9+deb12u3")},
		member{"CVE-2.json", `{"id":"CVE-2","modified":"2024-02-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z"}`},
		member{"CVE-5.json", osvRecord("CVE-5", "2024-02-01T00:00:00Z", "zlib", "1:1.2.13.dfsg-1")}))
	res, err = vulndb.Import(ctx, st, []string{v2}, nil)
	if err != nil || res.Added != 1 || res.Updated != 1 || res.Removed != 1 || ref(t, st) == before {
		t.Fatalf("Import(v2) = %+v, %v", res, err)
	}
	if n := count(t, st); n != 2 {
		t.Fatalf("%d advisories after v2, want 2 (CVE-1, CVE-5)", n)
	}
	ops, err := st.UpdateOperations(ctx)
	if err != nil || len(ops) != 1 || ops[0].Updater != "osv/debian.zip" || ops[0].Fingerprint != res.Files[0].Fingerprint {
		t.Fatalf("UpdateOperations = %+v, %v", ops, err)
	}
}

// TestImportFailures checks that a file that cannot be read whole changes nothing.
func TestImportFailures(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.zip"), zipBytes(t, member{"CVE-1.json", osvRecord("CVE-1", "2024-01-01T00:00:00Z", "glibc", "1")}))
	if _, err := vulndb.Import(ctx, st, []string{good}, nil); err != nil {
		t.Fatal(err)
	}
	before := ref(t, st)
	var many []member
	for i := range 900 {
		id := fmt.Sprintf("CVE-%04d", i)
		many = append(many, member{id + ".json", osvRecord(id, "2024-01-01T00:00:00Z", "glibc", "1")})
	}
	whole := zipBytes(t, append(many, member{"zz/odd.json", `{"name":"not a record"}`})...)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		// 900 good records (written in batches) before the unknown document: all rolled back.
		{"unknown.zip", whole, "unknown.zip:zz/odd.json: neither an OSV record nor an Alpine secdb file"},
		{"truncated.zip", whole[:len(whole)-100], "truncated.zip: zip: not a valid zip file"},
		{"invalid.zip", zipBytes(t, member{"a.json", `{"id":"CVE-9","modified":"never"}`}), "every one of its 1 records is invalid, as a.json: CVE-9: modified"},
	} {
		file := writeFile(t, filepath.Join(dir, tc.name), tc.data)
		res, err := vulndb.Import(ctx, st, []string{good, file}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Import(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
		if len(res.Files) != 1 || res.Files[0].File != good {
			t.Errorf("Import(good, %s) result: %+v; want the good file's", tc.name, res)
		}
		if n := count(t, st); n != 1 || ref(t, st) != before {
			t.Errorf("after Import(%s): %d advisories, ref changed %v", tc.name, n, ref(t, st) != before)
		}
	}
}

func TestImportSecDB(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := t.TempDir()
	community := `{"distroversion":"v3.19","reponame":"community","packages":[{"pkg":{"name":"go","secfixes":{"1.21.5-r0":["CVE-2023-39326"]}}}]}`
	archive := writeFile(t, filepath.Join(dir, "alpine-secdb.zip"), zipBytes(t, member{"3.19/main.json", secdbMain}, member{"3.19/community.json", community}))
	res, err := vulndb.Import(ctx, st, []string{archive}, nil)
	if err != nil || res.Added != 3 || res.Files[0].Updater != "alpine-secdb/alpine-secdb.zip" {
		t.Fatalf("Import(secdb zip) = %+v, %v", res, err)
	}
	rows, err := st.AffectedPackages(ctx, "Alpine:v3.19", "openssl")
	if err != nil || len(rows) != 2 || rows[0].Advisory.Source != "alpine-secdb/v3.19/main" || rows[0].Advisory.ID != "CVE-2023-5363" {
		t.Fatalf("openssl: %+v, %v", rows, err)
	}
	// A newer main.json without CVE-2023-5678: it is gone; community's advisory stays.
	main2 := writeFile(t, filepath.Join(dir, "main.json"), []byte(`{"distroversion":"v3.19","reponame":"main","packages":[
		{"pkg":{"name":"openssl","secfixes":{"3.1.4-r1":["CVE-2023-5363"]}}}]}`))
	res, err = vulndb.Import(ctx, st, []string{main2}, nil)
	if err != nil || res.Removed != 1 || res.Unchanged != 1 {
		t.Fatalf("Import(main.json) = %+v, %v", res, err)
	}
	if n := count(t, st); n != 2 {
		t.Fatalf("%d advisories, want 2", n)
	}
}
