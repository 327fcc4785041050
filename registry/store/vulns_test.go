package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/report"
)

func advisory(id string, modified time.Time, fixed string, pkgs ...string) store.VulnAdvisory {
	a := store.VulnAdvisory{Source: "osv", ID: id, Aliases: []string{"GHSA-" + id}, Summary: "sum " + id, Details: "details of " + id,
		Links: []string{"https://osv.dev/vulnerability/" + id, "https://example.org/" + id}, Published: modified.Add(-time.Hour), Modified: modified}
	for _, p := range pkgs {
		a.Affected = append(a.Affected, store.VulnPackage{Ecosystem: "Debian:12", Name: p, Severity: "low", NormalizedSeverity: report.Low,
			Ranges:   json.RawMessage(`[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]`),
			Versions: []string{"1.0-1", "1.0-2"}})
	}
	return a
}

func importVulns(t *testing.T, s *store.Store, updater, fingerprint string, fn func(w *store.VulnWriter) error) store.VulnImportResult {
	t.Helper()
	res, err := s.ImportVulnerabilities(ctx, updater, fingerprint, fn)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func putAll(advs ...store.VulnAdvisory) func(w *store.VulnWriter) error {
	return func(w *store.VulnWriter) error {
		for _, a := range advs {
			if err := w.Put(a); err != nil {
				return err
			}
		}
		return nil
	}
}

func vulnRef(t *testing.T, s *store.Store) string {
	t.Helper()
	ref, err := s.VulnDBRef(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestVulnImport(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		if ref := vulnRef(t, s); ref != "" {
			t.Fatalf("VulnDBRef before any import = %q", ref)
		}
		day := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		a, b := advisory("CVE-1", day, "1.1-1", "glibc", "zlib"), advisory("CVE-2", day, "2.0-1", "glibc")
		res := importVulns(t, s, "osv/debian.zip", "f1", putAll(a, b))
		if res.Put != 2 || res.Added != 2 || res.Affected != 3 || res.Operation.Ref == "" || res.Operation.Kind != store.VulnKind ||
			res.Operation.Updater != "osv/debian.zip" || res.Operation.Fingerprint != "f1" {
			t.Fatalf("first import = %+v", res)
		}
		if ref := vulnRef(t, s); ref != res.Operation.Ref {
			t.Fatalf("VulnDBRef = %q, want %q", ref, res.Operation.Ref)
		}
		if n, err := s.VulnerabilityCount(ctx); err != nil || n != 2 {
			t.Fatalf("VulnerabilityCount = %d, %v", n, err)
		}
		rows, err := s.AffectedPackages(ctx, "Debian:12", "glibc")
		if err != nil || len(rows) != 2 {
			t.Fatalf("AffectedPackages(glibc) = %d rows, %v", len(rows), err)
		}
		got := rows[0]
		want := a
		want.Affected = nil
		if !reflect.DeepEqual(got.Advisory, want) {
			t.Errorf("advisory as stored:\n got %+v\nwant %+v", got.Advisory, want)
		}
		if !reflect.DeepEqual(got.Package, a.Affected[0]) {
			t.Errorf("package as stored:\n got %+v\nwant %+v", got.Package, a.Affected[0])
		}
		if rows[1].Advisory.ID != "CVE-2" {
			t.Errorf("rows not ordered by advisory: %s, %s", rows[0].Advisory.ID, rows[1].Advisory.ID)
		}
		if rows, _ := s.AffectedPackages(ctx, "Debian:11", "glibc"); len(rows) != 0 {
			t.Errorf("another ecosystem's lookup found %d rows", len(rows))
		}
		brief, err := s.AffectedPackagesBrief(ctx, "Debian:12", []string{"zlib", "glibc", "nothing"})
		if err != nil || len(brief) != 3 || brief[0].Advisory.ID != "CVE-1" || brief[0].Advisory.Source != "osv" ||
			brief[0].Advisory.Details != "" || !reflect.DeepEqual(brief[0].Package, a.Affected[0]) ||
			brief[1].Advisory.ID != "CVE-2" || brief[2].Package.Name != "zlib" {
			t.Fatalf("AffectedPackagesBrief(zlib, glibc) = %+v, %v", brief, err)
		}
		if brief, err := s.AffectedPackagesBrief(ctx, "Debian:12", nil); err != nil || len(brief) != 0 {
			t.Fatalf("AffectedPackagesBrief() = %+v, %v", brief, err)
		}
		full, err := s.Advisory(ctx, "osv", "CVE-1")
		if err != nil || len(full.Affected) != 2 || full.Affected[1].Name != "zlib" {
			t.Fatalf("Advisory(CVE-1) = %+v, %v", full, err)
		}
		if _, err := s.Advisory(ctx, "osv", "CVE-9"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Advisory(CVE-9): %v", err)
		}

		// The same data again: nothing changes and no operation is recorded.
		res = importVulns(t, s, "osv/debian.zip", "f1", putAll(a, b))
		if res.Changed() || res.Unchanged != 2 || res.Affected != 0 || res.Operation.Ref != "" {
			t.Fatalf("repeated import = %+v", res)
		}
		first := vulnRef(t, s)
		// The same advisories in a new file: the operation records the new fingerprint.
		res = importVulns(t, s, "osv/debian.zip", "f2", putAll(a, b))
		if res.Changed() || res.Operation.Ref == "" || vulnRef(t, s) == first {
			t.Fatalf("import of a new file with the same data = %+v", res)
		}

		// A newer record replaces the stored one; an older one does not; a new one is added.
		a2 := advisory("CVE-1", day.Add(time.Hour), "1.2-1", "glibc")
		bOld := advisory("CVE-2", day.Add(-time.Hour), "1.9-1", "glibc")
		c := advisory("CVE-3", day, "3.0-1", "zlib")
		res = importVulns(t, s, "osv/debian.zip", "f3", putAll(a2, bOld, c))
		if res.Added != 1 || res.Updated != 1 || res.Stale != 1 || res.Removed != 0 {
			t.Fatalf("update = %+v", res)
		}
		if rows, _ := s.AffectedPackages(ctx, "Debian:12", "zlib"); len(rows) != 1 || rows[0].Advisory.ID != "CVE-3" {
			t.Fatalf("zlib after CVE-1 dropped it: %+v", rows)
		}
		rows, _ = s.AffectedPackages(ctx, "Debian:12", "glibc")
		if len(rows) != 2 || string(rows[0].Package.Ranges) != string(a2.Affected[0].Ranges) || string(rows[1].Package.Ranges) != string(b.Affected[0].Ranges) {
			t.Fatalf("glibc after the update: %+v", rows)
		}

		// Removing, and pruning what a snapshot no longer holds.
		res = importVulns(t, s, "osv/debian.zip", "f4", func(w *store.VulnWriter) error {
			if err := w.Remove("osv", "CVE-2"); err != nil {
				return err
			}
			return w.Remove("osv", "CVE-404")
		})
		if res.Removed != 1 {
			t.Fatalf("remove = %+v", res)
		}
		snap := func(ids ...string) func(w *store.VulnWriter) error {
			return func(w *store.VulnWriter) error {
				for _, id := range ids {
					x := advisory(id, day, "1-r0", "musl")
					x.Source = "alpine-secdb/v3.19/main"
					if err := w.Put(x); err != nil {
						return err
					}
				}
				return w.Prune("alpine-secdb/v3.19/main")
			}
		}
		if res = importVulns(t, s, "alpine-secdb/secdb.zip", "s1", snap("CVE-1", "CVE-7")); res.Added != 2 {
			t.Fatalf("snapshot = %+v", res)
		}
		if res = importVulns(t, s, "alpine-secdb/secdb.zip", "s2", snap("CVE-7")); res.Removed != 1 || res.Unchanged != 1 {
			t.Fatalf("smaller snapshot = %+v", res)
		}
		if n, _ := s.VulnerabilityCount(ctx); n != 3 { // osv CVE-1, CVE-3; secdb CVE-7
			t.Fatalf("VulnerabilityCount = %d, want 3", n)
		}

		ops, err := s.UpdateOperations(ctx)
		if err != nil || len(ops) != 2 || ops[0].Updater != "alpine-secdb/secdb.zip" || ops[0].Fingerprint != "s2" ||
			ops[1].Updater != "osv/debian.zip" || ops[1].Fingerprint != "f4" {
			t.Fatalf("UpdateOperations = %+v, %v", ops, err)
		}
		if ref := vulnRef(t, s); ref != ops[0].Ref {
			t.Fatalf("VulnDBRef = %q, want the latest %q", ref, ops[0].Ref)
		}
	})
}

func TestVulnImportRollsBack(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		day := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
		importVulns(t, s, "osv/a", "f1", putAll(advisory("CVE-1", day, "1", "p")))
		ref := vulnRef(t, s)
		boom := errors.New("the file is damaged")
		_, err := s.ImportVulnerabilities(ctx, "osv/a", "f2", func(w *store.VulnWriter) error {
			for i := range 1000 { // more than one batch is written before the failure
				if err := w.Put(advisory(fmt.Sprintf("CVE-%d", i+2), day, "1", "p")); err != nil {
					return err
				}
			}
			if err := w.Remove("osv", "CVE-1"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failed import: %v", err)
		}
		if n, _ := s.VulnerabilityCount(ctx); n != 1 {
			t.Fatalf("a failed import left %d advisories, want the 1 from before", n)
		}
		if vulnRef(t, s) != ref {
			t.Fatal("a failed import changed VulnDBRef")
		}
		for _, bad := range []store.VulnAdvisory{{ID: "CVE-1"}, {Source: "osv"},
			{Source: "osv", ID: "CVE-1", Affected: []store.VulnPackage{{Ecosystem: "Go"}}}} {
			if _, err := s.ImportVulnerabilities(ctx, "osv/a", "f3", putAll(bad)); err == nil {
				t.Errorf("Put(%+v) succeeded", bad)
			}
		}
		if _, err := s.ImportVulnerabilities(ctx, "", "f", putAll()); err == nil {
			t.Error("an import without updater name succeeded")
		}
	})
}

// TestVulnImportBatches writes more than a batch, with repeats across the writer's flushes.
func TestVulnImportBatches(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		day := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
		const n = 1500
		res := importVulns(t, s, "osv/big", "f1", func(w *store.VulnWriter) error {
			for i := range n {
				if err := w.Put(advisory(fmt.Sprintf("CVE-%05d", i), day, "1.0-3", "glibc", "zlib", "perl")); err != nil {
					return err
				}
			}
			// Again, after flushes: newer ones replace, older ones are ignored.
			for i := range 100 {
				m := day.Add(time.Hour)
				if i%2 == 1 {
					m = day.Add(-time.Hour)
				}
				if err := w.Put(advisory(fmt.Sprintf("CVE-%05d", i), m, "1.0-4", "glibc")); err != nil {
					return err
				}
			}
			return nil
		})
		if res.Added != n || res.Stale != 50 || res.Affected != 3*n+50 {
			t.Fatalf("import = %+v", res)
		}
		rows, err := s.AffectedPackages(ctx, "Debian:12", "glibc")
		if err != nil || len(rows) != n {
			t.Fatalf("glibc: %d rows, %v", len(rows), err)
		}
		if zl, _ := s.AffectedPackages(ctx, "Debian:12", "zlib"); len(zl) != n-50 {
			t.Fatalf("zlib: %d rows, want %d", len(zl), n-50)
		}
		if !json.Valid(rows[0].Package.Ranges) || string(rows[0].Package.Ranges) == string(rows[1].Package.Ranges) {
			t.Fatalf("CVE-00000 (replaced) and CVE-00001 (kept) share ranges %s", rows[0].Package.Ranges)
		}
	})
}

func TestVulnAdvisories(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		day := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
		var advs []store.VulnAdvisory
		var keys []store.VulnAdvisoryKey
		for i := range 40 {
			a := advisory(fmt.Sprintf("CVE-%d", i), day, "1", "p")
			if i%2 == 1 {
				a.Source = "alpine-secdb/v3.19/main"
			}
			advs = append(advs, a)
			keys = append(keys, store.VulnAdvisoryKey{Source: a.Source, ID: a.ID})
		}
		importVulns(t, s, "osv/x", "f", putAll(advs...))
		keys = append(keys, store.VulnAdvisoryKey{Source: "osv", ID: "CVE-1"}, store.VulnAdvisoryKey{Source: "osv", ID: "CVE-404"})
		for _, n := range []int{0, 1, 9, len(keys)} {
			got, err := s.VulnAdvisories(ctx, keys[:n])
			if err != nil {
				t.Fatal(err)
			}
			if want := min(n, 40); len(got) != want {
				t.Fatalf("VulnAdvisories(%d keys) = %d advisories, want %d", n, len(got), want)
			}
			for _, k := range keys[:min(n, 40)] {
				a := got[k]
				w := advs[0]
				for _, x := range advs {
					if x.Source == k.Source && x.ID == k.ID {
						w = x
					}
				}
				w.Affected = nil
				if !reflect.DeepEqual(a, w) {
					t.Fatalf("VulnAdvisories: %+v\nwant %+v", a, w)
				}
			}
		}
	})
}
