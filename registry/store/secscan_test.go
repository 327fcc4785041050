package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestScanQueue(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		alice := mustRepo(t, s, "alice", "app")
		bob := mustRepo(t, s, "bob", "app")
		putManifest(t, s, store.ManifestPut{RepositoryID: alice.ID, Digest: "sha256:img1"})
		putManifest(t, s, store.ManifestPut{RepositoryID: bob.ID, Digest: "sha256:img1"})
		putManifest(t, s, store.ManifestPut{RepositoryID: bob.ID, Digest: "sha256:img2", MediaType: "application/vnd.docker.distribution.manifest.v2+json"})
		putManifest(t, s, store.ManifestPut{RepositoryID: bob.ID, Digest: "sha256:list", MediaType: "application/vnd.oci.image.index.v1+json", Children: []string{"sha256:img2"}})

		// The namespace whitelist keeps bob's own image out.
		if n, err := s.QueueScans(ctx, []string{"alice"}, 100); err != nil || n != 1 {
			t.Fatalf("QueueScans(alice) = %d, %v; want 1", n, err)
		}
		if n, err := s.QueueScans(ctx, nil, 100); err != nil || n != 1 {
			t.Fatalf("QueueScans(all) = %d, %v; want 1 more (indexes are not queued)", n, err)
		}
		if n, _ := s.QueueScans(ctx, nil, 100); n != 0 {
			t.Fatalf("QueueScans again queued %d", n)
		}

		claimed, err := s.ClaimScans(ctx, "state-1", 0, 10, time.Minute)
		if err != nil || len(claimed) != 2 {
			t.Fatalf("ClaimScans = %v, %v; want both images", claimed, err)
		}
		if again, _ := s.ClaimScans(ctx, "state-1", 0, 10, time.Minute); len(again) != 0 {
			t.Fatalf("claimed twice: %v", again)
		}
		// img2's worker dies: its lease runs out and another claims it.
		if err := s.FinishScan(ctx, "sha256:img1", store.ScanOutcome{Status: store.ScanScanned, IndexerState: "state-1"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		if again, _ := s.ClaimScans(ctx, "state-1", 0, 10, time.Minute); !slices.Equal(again, []string{"sha256:img2"}) {
			t.Fatalf("after the lease ran out, claimed %v; want img2", again)
		}
		retry := clock.Now().Add(time.Hour)
		if err := s.FinishScan(ctx, "sha256:img2", store.ScanOutcome{Status: store.ScanQueued, Error: "layer unreachable", RetryAt: retry}); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.ClaimScans(ctx, "state-1", 0, 10, time.Minute); len(again) != 0 {
			t.Fatalf("claimed %v before its retry time", again)
		}
		st, err := s.ScanStatusOf(ctx, "sha256:img2")
		if err != nil || st.Status != store.ScanQueued || st.Error != "layer unreachable" || st.Attempts != 2 {
			t.Fatalf("status of img2 = %+v, %v", st, err)
		}
		// A new indexer state re-indexes what was scanned; so does age.
		if again, _ := s.ClaimScans(ctx, "state-2", 0, 10, time.Minute); !slices.Equal(again, []string{"sha256:img1"}) {
			t.Fatalf("with a new indexer state, claimed %v; want img1", again)
		}
		if err := s.FinishScan(ctx, "sha256:img1", store.ScanOutcome{Status: store.ScanScanned, IndexerState: "state-2"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		if again, _ := s.ClaimScans(ctx, "state-2", time.Minute, 10, time.Minute); !slices.Equal(again, []string{"sha256:img1"}) {
			t.Fatalf("past the reindex threshold, claimed %v; want img1", again)
		}
		if err := s.FinishScan(ctx, "sha256:img1", store.ScanOutcome{Status: store.ScanScanned, IndexerState: "state-2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ScanStatusOf(ctx, "sha256:never"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status of an unknown manifest: %v", err)
		}
		if err := s.RequeueScan(ctx, "sha256:img1"); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.ScanStatusOf(ctx, "sha256:img1"); st.Status != store.ScanQueued {
			t.Fatalf("after RequeueScan: %+v", st)
		}

		locs, err := s.ManifestLocations(ctx, "sha256:img1")
		if err != nil || len(locs) != 2 || locs[0].Namespace != "alice" || locs[1].Namespace != "bob" || len(locs[0].Content) == 0 {
			t.Fatalf("ManifestLocations = %+v, %v", locs, err)
		}
		if kids, err := s.ChildDigests(ctx, bob.ID, "sha256:list"); err != nil || !slices.Equal(kids, []string{"sha256:img2"}) {
			t.Fatalf("ChildDigests = %v, %v", kids, err)
		}

		// A scan whose manifest is gone is orphaned until forgotten.
		if orphans, err := s.OrphanedScans(ctx, 10); err != nil || len(orphans) != 0 {
			t.Fatalf("OrphanedScans = %v, %v; want none", orphans, err)
		}
		if err := s.RequeueScan(ctx, "sha256:collected"); err != nil {
			t.Fatal(err)
		}
		if orphans, err := s.OrphanedScans(ctx, 10); err != nil || !slices.Equal(orphans, []string{"sha256:collected"}) {
			t.Fatalf("OrphanedScans = %v, %v", orphans, err)
		}
		if err := s.ForgetScans(ctx, []string{"sha256:collected"}); err != nil {
			t.Fatal(err)
		}
		if orphans, _ := s.OrphanedScans(ctx, 10); len(orphans) != 0 {
			t.Fatalf("after ForgetScans: %v", orphans)
		}
	})
}

func TestFindingsAndEvents(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		alice := mustRepo(t, s, "alice", "app")
		bob := mustRepo(t, s, "bob", "app")
		putManifest(t, s, store.ManifestPut{RepositoryID: alice.ID, Digest: "sha256:img"})
		putManifest(t, s, store.ManifestPut{RepositoryID: bob.ID, Digest: "sha256:img"})
		if _, err := s.QueueScans(ctx, nil, 10); err != nil {
			t.Fatal(err)
		}
		s.ClaimScans(ctx, "st", 0, 10, time.Minute)
		if err := s.FinishScan(ctx, "sha256:img", store.ScanOutcome{Status: store.ScanScanned, IndexerState: "st"}); err != nil {
			t.Fatal(err)
		}
		stale, err := s.StaleMatches(ctx, "ref-1", "", 10)
		if err != nil || len(stale) != 1 || stale[0].VulnDBRef != "" {
			t.Fatalf("StaleMatches = %+v, %v", stale, err)
		}
		if n, err := s.RecordFindings(ctx, "sha256:img", "ref-1", []string{"CVE-1 zlib"}, nil); err != nil || n != 0 {
			t.Fatalf("first RecordFindings = %d, %v", n, err)
		}
		if stale, _ := s.StaleMatches(ctx, "ref-1", "", 10); len(stale) != 0 {
			t.Fatalf("still stale after matching: %+v", stale)
		}
		fresh := []store.Finding{{Vulnerability: "CVE-2", Package: "openssl 3.0.1", Severity: "High", FixedIn: "3.0.2", Link: "https://example.com/CVE-2"}}
		n, err := s.RecordFindings(ctx, "sha256:img", "ref-2", []string{"CVE-1 zlib", "CVE-2 openssl"}, fresh)
		if err != nil || n != 2 {
			t.Fatalf("RecordFindings with a new finding = %d, %v; want one event per repository", n, err)
		}
		// Another worker matching against the same data records nothing twice.
		if n, err := s.RecordFindings(ctx, "sha256:img", "ref-2", []string{"CVE-1 zlib", "CVE-2 openssl"}, fresh); err != nil || n != 0 {
			t.Fatalf("RecordFindings again = %d, %v", n, err)
		}
		st, _ := s.ScanStatusOf(ctx, "sha256:img")
		if st.VulnDBRef != "ref-2" || !slices.Equal(st.Findings, []string{"CVE-1 zlib", "CVE-2 openssl"}) {
			t.Fatalf("status = %+v", st)
		}
		events, err := s.SecurityEvents(ctx, 0, 10, true)
		if err != nil || len(events) != 2 {
			t.Fatalf("SecurityEvents = %+v, %v", events, err)
		}
		repos := []string{events[0].Repository, events[1].Repository}
		slices.Sort(repos)
		if !slices.Equal(repos, []string{"alice/app", "bob/app"}) || events[0].Vulnerability != "CVE-2" || events[0].FixedIn != "3.0.2" ||
			events[0].Severity != "High" || events[0].ManifestDigest != "sha256:img" {
			t.Fatalf("events = %+v", events)
		}
		if later, _ := s.SecurityEvents(ctx, events[0].ID, 10, false); len(later) != 1 {
			t.Fatalf("events after the first = %+v", later)
		}
	})
}

func TestIndexReports(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		if _, err := s.IndexReport(ctx, "sha256:a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("IndexReport of nothing: %v", err)
		}
		for _, d := range []string{"sha256:a", "sha256:b", "sha256:c"} {
			if err := s.PutIndexReport(ctx, d, "s1", []byte(`{"manifest_hash":"`+d+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutIndexReport(ctx, "sha256:a", "s2", []byte(`{"manifest_hash":"sha256:a","state":"IndexFinished"}`)); err != nil {
			t.Fatal(err)
		}
		r, err := s.IndexReport(ctx, "sha256:a")
		if err != nil || r.IndexerState != "s2" || string(r.Report) != `{"manifest_hash":"sha256:a","state":"IndexFinished"}` {
			t.Fatalf("IndexReport = %+v, %v", r, err)
		}
		if page, _ := s.IndexReportDigests(ctx, "sha256:a", 10); !slices.Equal(page, []string{"sha256:b", "sha256:c"}) {
			t.Fatalf("IndexReportDigests = %v", page)
		}
		deleted, err := s.DeleteIndexReports(ctx, []string{"sha256:b", "sha256:zzz"})
		if err != nil || !slices.Equal(deleted, []string{"sha256:b"}) {
			t.Fatalf("DeleteIndexReports = %v, %v", deleted, err)
		}
	})
}
