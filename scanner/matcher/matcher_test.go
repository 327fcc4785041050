package matcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/matcher"
	"github.com/wharf-registry/wharf/scanner/report"
)

// pkg is one installed package of a test index report.
type pkg struct {
	id, name, version   string
	srcName, srcVersion string
	ecosystem           string // "" for none
	dist                string
}

// indexReport builds an index report the way the indexer does: each package in one
// environment whose repositories include its OSV ecosystem.
func indexReport(pkgs ...pkg) *report.IndexReport {
	ir := &report.IndexReport{ManifestHash: "sha256:abc", State: report.StateIndexFinished, Success: true,
		Packages: map[string]*report.Package{}, Distributions: map[string]*report.Distribution{},
		Repositories: map[string]*report.Repository{}, Environments: map[string][]*report.Environment{}}
	for _, p := range pkgs {
		rp := &report.Package{ID: p.id, Name: p.name, Version: p.version, Kind: report.KindBinary}
		if p.srcName != "" {
			rp.Source = &report.Package{Name: p.srcName, Version: p.srcVersion, Kind: report.KindSource}
		}
		ir.Packages[p.id] = rp
		env := &report.Environment{PackageDB: "var/lib/dpkg/status", IntroducedIn: "sha256:layer", DistributionID: p.dist}
		if p.dist != "" && ir.Distributions[p.dist] == nil {
			ir.Distributions[p.dist] = &report.Distribution{ID: p.dist, DID: p.dist, Name: p.dist}
		}
		if p.ecosystem != "" {
			rid := "eco-" + p.ecosystem
			ir.Repositories[rid] = &report.Repository{ID: rid, Name: p.ecosystem, Key: report.EcosystemKey}
			ir.Repositories["other"] = &report.Repository{ID: "other", Name: "main", Key: "apk-repository"}
			env.RepositoryIDs = []string{"other", rid}
		}
		ir.Environments[p.id] = []*report.Environment{env}
	}
	return ir
}

// fakeSource is vulnerability data in memory; it counts lookups.
type fakeSource struct {
	rows    map[[2]string][]store.VulnAffected
	lookups map[[2]string]int
	err     error
}

func (f *fakeSource) AffectedPackages(_ context.Context, ecosystem, name string) ([]store.VulnAffected, error) {
	if f.lookups == nil {
		f.lookups = map[[2]string]int{}
	}
	f.lookups[[2]string{ecosystem, name}]++
	return f.rows[[2]string{ecosystem, name}], f.err
}

func (f *fakeSource) add(source, id, ecosystem, name, ranges string, sev report.Severity, details string, versions ...string) {
	if f.rows == nil {
		f.rows = map[[2]string][]store.VulnAffected{}
	}
	k := [2]string{ecosystem, name}
	f.rows[k] = append(f.rows[k], store.VulnAffected{
		Advisory: store.VulnAdvisory{Source: source, ID: id, Details: details, Links: []string{"https://example.org/" + id},
			Published: time.Date(2024, 4, 17, 0, 0, 0, 0, time.UTC)},
		Package: store.VulnPackage{Ecosystem: ecosystem, Name: name, Severity: strings.ToLower(sev.String()), NormalizedSeverity: sev,
			Ranges: json.RawMessage(ranges), Versions: versions},
	})
}

func fixedAt(v string) string {
	return `[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + v + `"}]}]`
}

const unfixed = `[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]`

// found lists a report's findings as "package: advisory fixed-version updater severity".
func found(vr *report.VulnerabilityReport) []string {
	var out []string
	for pid, ids := range vr.PackageVulnerabilities {
		for _, id := range ids {
			v := vr.Vulnerabilities[id]
			out = append(out, pid+": "+v.Name+" "+v.FixedInVersion+" "+v.Updater+" "+v.NormalizedSeverity.String())
		}
	}
	sort.Strings(out)
	return out
}

func TestMatch(t *testing.T) {
	src := &fakeSource{}
	src.add("osv", "CVE-2024-2961", "Debian:12", "glibc", fixedAt("2.36-9+deb12u6"), report.High, "iconv overflow")
	src.add("osv", "DSA-5673-1", "Debian:12", "glibc", "[]", report.Unknown, "", "2.36-9+deb12u4")
	src.add("osv", "CVE-2000-1", "Debian:12", "glibc", fixedAt("2.30-1"), report.Low, "old")
	src.add("osv", "CVE-2024-9", "Debian:11", "glibc", unfixed, report.Low, "another release")
	// One CVE from secdb and from OSV: the one with a fix wins, then the one with more detail.
	src.add("alpine-secdb/v3.19/main", "CVE-2023-5678", "Alpine:v3.19", "openssl", fixedAt("3.1.4-r1"), report.Unknown, "")
	src.add("osv", "CVE-2023-5678", "Alpine:v3.19", "openssl", fixedAt("3.1.4-r1"), report.Medium, "DH checks are slow")
	src.add("alpine-secdb/v3.19/main", "CVE-2024-1", "Alpine:v3.19", "openssl", fixedAt("3.1.4-r6"), report.Unknown, "")
	src.add("osv", "CVE-2024-1", "Alpine:v3.19", "openssl", unfixed, report.High, "long description")
	src.add("osv", "GO-2022-1059", "Go", "golang.org/x/text", `[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.8"}]}]`, report.Unknown, "DoS")
	src.add("osv", "GHSA-1", "PyPI", "jinja2", `[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.3"}]}]`, report.Medium, "XSS")

	ir := indexReport(
		pkg{id: "1", name: "libc6", version: "2.36-9+deb12u4", srcName: "glibc", srcVersion: "2.36-9+deb12u4", ecosystem: "Debian:12", dist: "debian-12"},
		pkg{id: "2", name: "libc-bin", version: "2.36-9+deb12u4", srcName: "glibc", srcVersion: "2.36-9+deb12u4", ecosystem: "Debian:12", dist: "debian-12"},
		pkg{id: "3", name: "libcrypto3", version: "3.1.4-r0", srcName: "openssl", ecosystem: "Alpine:v3.19", dist: "alpine-3.19"},
		pkg{id: "4", name: "golang.org/x/text", version: "v0.3.7", ecosystem: "Go"},
		pkg{id: "5", name: "Jinja2", version: "3.1.2", ecosystem: "PyPI"},
		pkg{id: "6", name: "zlib1g", version: "1:1.2.13.dfsg-1", srcName: "zlib", srcVersion: "1:1.2.13.dfsg-1", ecosystem: "Debian:12"},
		pkg{id: "7", name: "mystery", version: "1.0"}, // no ecosystem: not looked up
	)
	vr, err := matcher.Match(context.Background(), src, ir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1: CVE-2024-2961 2.36-9+deb12u6 osv High",
		"1: DSA-5673-1  osv Unknown",
		"2: CVE-2024-2961 2.36-9+deb12u6 osv High",
		"2: DSA-5673-1  osv Unknown",
		"3: CVE-2023-5678 3.1.4-r1 osv Medium",
		"3: CVE-2024-1 3.1.4-r6 alpine-secdb/v3.19/main Unknown",
		"4: GO-2022-1059 0.3.8 osv Unknown",
		"5: GHSA-1 3.1.3 osv Medium",
	}
	if got := found(vr); !reflect.DeepEqual(got, want) {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The binary packages of glibc share the vulnerabilities and one lookup.
	if !reflect.DeepEqual(vr.PackageVulnerabilities["1"], vr.PackageVulnerabilities["2"]) {
		t.Errorf("libc6 and libc-bin: %v, %v", vr.PackageVulnerabilities["1"], vr.PackageVulnerabilities["2"])
	}
	if n := src.lookups[[2]string{"Debian:12", "glibc"}]; n != 1 {
		t.Errorf("glibc looked up %d times", n)
	}
	if len(src.lookups) != 5 || src.lookups[[2]string{"PyPI", "jinja2"}] != 1 || src.lookups[[2]string{"Debian:12", "zlib"}] != 1 {
		t.Errorf("lookups: %v", src.lookups)
	}
	for pid, ids := range vr.PackageVulnerabilities {
		if !sort.StringsAreSorted(ids) {
			t.Errorf("package %s: ids not sorted: %v", pid, ids)
		}
	}
	var cve *report.Vulnerability
	for _, id := range vr.PackageVulnerabilities["1"] {
		if v := vr.Vulnerabilities[id]; v.Name == "CVE-2024-2961" {
			cve = v
		}
	}
	if cve == nil || cve.Description != "iconv overflow" || cve.Severity != "high" ||
		cve.Links != "https://security-tracker.debian.org/tracker/CVE-2024-2961 https://example.org/CVE-2024-2961" ||
		cve.Package == nil || cve.Package.Name != "glibc" || cve.Package.Kind != report.KindSource ||
		cve.Distribution != ir.Distributions["debian-12"] || cve.Repository == nil || cve.Repository.Name != "Debian:12" ||
		cve.Issued == nil || !cve.Issued.Equal(time.Date(2024, 4, 17, 0, 0, 0, 0, time.UTC)) || len(cve.ID) != 24 {
		t.Errorf("CVE-2024-2961: %+v", cve)
	}
	for _, id := range vr.PackageVulnerabilities["4"] {
		if v := vr.Vulnerabilities[id]; v.Links != "https://pkg.go.dev/vuln/GO-2022-1059 https://example.org/GO-2022-1059" {
			t.Errorf("GO-2022-1059 links: %s", v.Links)
		}
	}
	if len(vr.Packages) != 7 || vr.Packages["1"] != ir.Packages["1"] || len(vr.Environments) != 7 || len(vr.Distributions) != 2 ||
		vr.ManifestHash != ir.ManifestHash || len(vr.Repositories) != len(ir.Repositories) {
		t.Errorf("report copies: %d packages, %d environments, %d distributions", len(vr.Packages), len(vr.Environments), len(vr.Distributions))
	}

	// The same data gives the same report.
	again, err := matcher.Match(context.Background(), src, ir)
	if err != nil || !reflect.DeepEqual(again, vr) {
		t.Fatal("a second Match differs")
	}
	// The fixed package: no CVE-2024-2961, no DSA (not listed).
	ir.Packages["1"].Source.Version = "2.36-9+deb12u6"
	vr, err = matcher.Match(context.Background(), src, ir)
	if err != nil || len(vr.PackageVulnerabilities["1"]) != 0 || len(vr.PackageVulnerabilities["2"]) != 2 {
		t.Fatalf("after the fix: %v, %v", found(vr), err)
	}
}

func TestMatchErrors(t *testing.T) {
	ir := indexReport(pkg{id: "1", name: "libc6", version: "2.36-9", srcName: "glibc", srcVersion: "2.36-9", ecosystem: "Debian:12"})
	src := &fakeSource{err: errors.New("database is down")}
	if _, err := matcher.Match(context.Background(), src, ir); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("Match with a failing source: %v", err)
	}
	src = &fakeSource{}
	src.add("osv", "CVE-1", "Debian:12", "glibc", `{not json`, report.Low, "")
	if _, err := matcher.Match(context.Background(), src, ir); err == nil || !strings.Contains(err.Error(), "CVE-1") {
		t.Fatalf("Match with bad ranges: %v", err)
	}
	if _, err := matcher.Match(context.Background(), src, nil); err == nil {
		t.Fatal("Match(nil) succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := matcher.Match(ctx, &fakeSource{}, ir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Match with a cancelled context: %v", err)
	}
	vr, err := matcher.Match(context.Background(), &fakeSource{}, &report.IndexReport{ManifestHash: "sha256:empty"})
	if err != nil || vr.Vulnerabilities == nil || vr.PackageVulnerabilities == nil || len(vr.Vulnerabilities) != 0 {
		t.Fatalf("Match of an empty report = %+v, %v", vr, err)
	}
}
