package matcher_test

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/osv-scalibr/semantic"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/matcher"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/vulndb"
)

// dataFile returns the path of a file of the shared vulnerability data (WHARF_VULNDB_DIR,
// else ../shared/vulndb beside the repository).
func dataFile(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("WHARF_VULNDB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "vulndb")
	}
	p, _ := filepath.Abs(filepath.Join(dir, name))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("vulnerability data %s: %v (set WHARF_VULNDB_DIR to the folder holding it)", name, err)
	}
	return p
}

// subset writes a zip of some members of a data archive, as they are.
func subset(t testing.TB, archive, out string, members ...string) string {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	want := map[string]bool{}
	for _, m := range members {
		want[m] = true
	}
	for _, zf := range zr.File {
		if want[zf.Name] {
			if err := zw.Copy(zf); err != nil {
				t.Fatal(err)
			}
			delete(want, zf.Name)
		}
	}
	if len(want) > 0 {
		t.Fatalf("%s lacks %v", archive, want)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{URI: "sqlite:///" + filepath.Join(t.TempDir(), "wharf.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// vulnsOf lists a package's findings as "ADVISORY fixed=VERSION updater=SOURCE".
func vulnsOf(vr *report.VulnerabilityReport, pkgID string) map[string]string {
	out := map[string]string{}
	for _, id := range vr.PackageVulnerabilities[pkgID] {
		v := vr.Vulnerabilities[id]
		out[v.Name] = "fixed=" + v.FixedInVersion + " updater=" + v.Updater
	}
	return out
}

// TestMatchData imports real records (subsets of the shared data: a few OSV records, Alpine
// 3.19's secdb) and matches a hand-built image with Debian, Alpine and Go packages.
func TestMatchData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files := []string{
		subset(t, dataFile(t, "debian-osv.zip"), filepath.Join(dir, "debian-osv.zip"),
			"CVE/2024/CVE-2024-2961.json", "DSA/2024/DSA-5673-1.json", "CVE/2023/CVE-2023-4911.json"),
		subset(t, dataFile(t, "alpine-osv.zip"), filepath.Join(dir, "alpine-osv.zip"),
			"2023/CVE-2023-5678.json", "2023/CVE-2023-5363.json", "2024/CVE-2024-2511.json", "2023/CVE-2023-42363.json"),
		subset(t, dataFile(t, "alpine-secdb.zip"), filepath.Join(dir, "alpine-secdb.zip"), "3.19/main.json", "3.19/community.json"),
		subset(t, dataFile(t, "go-osv.zip"), filepath.Join(dir, "go-osv.zip"), "data/osv/GO-2022-1059.json", "data/osv/GO-2021-0113.json"),
	}
	st := openStore(t)
	start := time.Now()
	res, err := vulndb.Import(ctx, st, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import: %s in %s", res, time.Since(start))
	if res.Invalid != 0 {
		t.Errorf("%d invalid records", res.Invalid)
	}

	ir := indexReport(
		pkg{id: "libc6", name: "libc6", version: "2.36-9+deb12u4", srcName: "glibc", srcVersion: "2.36-9+deb12u4", ecosystem: "Debian:12", dist: "debian"},
		pkg{id: "libc6-fixed", name: "libc6", version: "2.36-9+deb12u6", srcName: "glibc", srcVersion: "2.36-9+deb12u6", ecosystem: "Debian:12", dist: "debian"},
		pkg{id: "libcrypto3", name: "libcrypto3", version: "3.1.4-r0", srcName: "openssl", ecosystem: "Alpine:v3.19", dist: "alpine"},
		pkg{id: "busybox", name: "busybox-binsh", version: "1.36.1-r15", srcName: "busybox", ecosystem: "Alpine:v3.19", dist: "alpine"},
		pkg{id: "x/text-old", name: "golang.org/x/text", version: "v0.3.6", ecosystem: "Go"},
		pkg{id: "x/text", name: "golang.org/x/text", version: "v0.3.7", ecosystem: "Go"},
		pkg{id: "x/text-fixed", name: "golang.org/x/text", version: "0.3.8", ecosystem: "Go"},
	)
	start = time.Now()
	vr, err := matcher.Match(ctx, st, ir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("matched in %s", time.Since(start))
	sameWithoutBrief(t, st, ir, vr)

	for _, tc := range []struct {
		pkg     string
		present map[string]string
		absent  []string
	}{
		{"libc6", map[string]string{
			"CVE-2024-2961": "fixed=2.36-9+deb12u6 updater=osv",
			"DSA-5673-1":    "fixed=2.36-9+deb12u6 updater=osv",
		}, []string{"CVE-2023-4911"}}, // Looney Tunables: fixed in 2.36-9+deb12u3
		{"libc6-fixed", nil, []string{"CVE-2024-2961", "DSA-5673-1", "CVE-2023-4911"}},
		{"libcrypto3", map[string]string{
			"CVE-2023-5678": "fixed=3.1.4-r1 updater=osv", // secdb and OSV agree; OSV has more to say
			"CVE-2024-2511": "fixed=3.1.4-r6 updater=osv",
			"CVE-2023-6129": "fixed=3.1.4-r3 updater=alpine-secdb/v3.19/main", // secdb only
		}, []string{"CVE-2023-5363"}}, // fixed in 3.1.4-r0
		{"busybox", map[string]string{"CVE-2023-42363": "fixed=1.36.1-r17 updater=osv"}, nil},
		{"x/text-old", map[string]string{"GO-2022-1059": "fixed=0.3.8 updater=osv", "GO-2021-0113": "fixed=0.3.7 updater=osv"}, nil},
		{"x/text", map[string]string{"GO-2022-1059": "fixed=0.3.8 updater=osv"}, []string{"GO-2021-0113"}},
		{"x/text-fixed", nil, []string{"GO-2022-1059", "GO-2021-0113"}},
	} {
		got := vulnsOf(vr, tc.pkg)
		for id, want := range tc.present {
			if got[id] != want {
				t.Errorf("%s: %s = %q, want %q", tc.pkg, id, got[id], want)
			}
		}
		for _, id := range tc.absent {
			if _, ok := got[id]; ok {
				t.Errorf("%s: %s reported (%s)", tc.pkg, id, got[id])
			}
		}
	}
	for _, id := range vr.PackageVulnerabilities["libc6"] {
		if v := vr.Vulnerabilities[id]; v.Name == "CVE-2024-2961" &&
			(!strings.HasPrefix(v.Links, "https://security-tracker.debian.org/tracker/CVE-2024-2961 ") || v.Distribution == nil ||
				v.Distribution.ID != "debian" || v.Issued == nil || !strings.Contains(v.Description, "iconv()")) {
			t.Errorf("CVE-2024-2961: %+v", v)
		}
	}
}

// fullSource hides the store's BriefSource methods: Match reads whole advisories.
type fullSource struct{ st *store.Store }

func (f fullSource) AffectedPackages(ctx context.Context, ecosystem, name string) ([]store.VulnAffected, error) {
	return f.st.AffectedPackages(ctx, ecosystem, name)
}

// sameWithoutBrief checks that matching with whole advisories gives the same report.
func sameWithoutBrief(t *testing.T, st *store.Store, ir *report.IndexReport, want *report.VulnerabilityReport) {
	t.Helper()
	got, err := matcher.Match(context.Background(), fullSource{st}, ir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Match with whole advisories differs from Match with brief entries")
	}
}

// debianImage is the index report of a Debian 12 system: testdata/debian12.txt, a dpkg
// status's packages with their source packages.
func debianImage(t testing.TB) *report.IndexReport {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "debian12.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkgs []pkg
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 4 {
			t.Fatalf("testdata/debian12.txt: %q", sc.Text())
		}
		pkgs = append(pkgs, pkg{id: fmt.Sprint(len(pkgs) + 1), name: fields[0], version: fields[1], srcName: fields[2], srcVersion: fields[3],
			ecosystem: "Debian:12", dist: "debian-12"})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return indexReport(pkgs...)
}

var (
	debianOnce  sync.Once
	debianStore *store.Store
	debianDir   string
	debianErr   error
)

// debianData imports the whole debian-osv.zip once per test binary into a SQLite store.
func debianData(t testing.TB) *store.Store {
	t.Helper()
	file := dataFile(t, "debian-osv.zip")
	debianOnce.Do(func() {
		if debianDir, debianErr = os.MkdirTemp("", "matcher-debian-"); debianErr != nil {
			return
		}
		debianStore, debianErr = store.Open(context.Background(), store.Options{URI: "sqlite:///" + filepath.Join(debianDir, "wharf.db")})
		if debianErr != nil {
			return
		}
		start := time.Now()
		var res vulndb.Result
		res, debianErr = vulndb.Import(context.Background(), debianStore, []string{file}, nil)
		t.Logf("imported debian-osv.zip into SQLite in %s: %s", time.Since(start).Round(time.Millisecond), res)
	})
	if debianErr != nil {
		t.Fatal(debianErr)
	}
	return debianStore
}

func TestMain(m *testing.M) {
	code := m.Run()
	if debianStore != nil {
		debianStore.Close()
	}
	if debianDir != "" {
		os.RemoveAll(debianDir)
	}
	os.Exit(code)
}

// TestMatchDebianImage matches a whole Debian 12 system against all of Debian's data, and
// checks every finding against the record it came from.
func TestMatchDebianImage(t *testing.T) {
	if testing.Short() {
		t.Skip("imports all of debian-osv.zip")
	}
	st := debianData(t)
	ir := debianImage(t)
	start := time.Now()
	vr, err := matcher.Match(context.Background(), st, ir)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	sources := map[string]bool{}
	for _, p := range ir.Packages {
		sources[p.Source.Name] = true
	}
	n := 0
	for pid, ids := range vr.PackageVulnerabilities {
		p := ir.Packages[pid]
		if !sort.StringsAreSorted(ids) {
			t.Errorf("%s: ids not sorted", p.Name)
		}
		for _, id := range ids {
			n++
			v := vr.Vulnerabilities[id]
			if v.Package.Name != p.Source.Name || v.Repository.Name != "Debian:12" {
				t.Errorf("%s %s: %s names package %s in %s", p.Name, p.Version, v.Name, v.Package.Name, v.Repository.Name)
			}
			if v.FixedInVersion != "" {
				if c, err := semantic.MustParse(p.Source.Version, "Debian:12").CompareStr(v.FixedInVersion); err != nil || c >= 0 {
					t.Errorf("%s %s: %s fixed in %s, not above the installed version", p.Source.Name, p.Source.Version, v.Name, v.FixedInVersion)
				}
			}
		}
	}
	t.Logf("%d packages of %d source packages: %d findings, %d distinct vulnerabilities, matched in %s",
		len(ir.Packages), len(sources), n, len(vr.Vulnerabilities), elapsed)
	sameWithoutBrief(t, st, ir, vr)
	if n == 0 {
		t.Fatal("no findings in a Debian 12 system")
	}
}

func BenchmarkMatchDebian(b *testing.B) {
	st := debianData(b)
	ir := debianImage(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := matcher.Match(ctx, st, ir); err != nil {
			b.Fatal(err)
		}
	}
}
