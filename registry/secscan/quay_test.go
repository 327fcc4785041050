package secscan_test

import (
	"slices"
	"testing"

	"github.com/wharf-registry/wharf/registry/secscan"
	"github.com/wharf-registry/wharf/scanner/report"
)

// vulnReport is a small Debian report: libc6 (from glibc) with two vulnerabilities, zlib1g
// with none.
func vulnReport() *report.VulnerabilityReport {
	glibc := &report.Package{ID: "1", Name: "glibc", Version: "2.36-9+deb12u4", Kind: report.KindSource}
	return &report.VulnerabilityReport{
		ManifestHash: "sha256:m",
		Packages: map[string]*report.Package{
			"1": {ID: "1", Name: "libc6", Version: "2.36-9+deb12u4", Kind: report.KindBinary, Source: glibc},
			"2": {ID: "2", Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Kind: report.KindBinary},
		},
		Distributions: map[string]*report.Distribution{"d": {ID: "d", DID: "debian", Name: "Debian GNU/Linux", VersionID: "12"}},
		Environments: map[string][]*report.Environment{
			"1": {{PackageDB: "var/lib/dpkg/status", IntroducedIn: "sha256:layer1", DistributionID: "d"}},
			"2": {{PackageDB: "var/lib/dpkg/status", IntroducedIn: "sha256:layer2", DistributionID: "d"}},
		},
		Vulnerabilities: map[string]*report.Vulnerability{
			"v1": {ID: "v1", Updater: "osv", Name: "CVE-2024-2961", NormalizedSeverity: report.High, Severity: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
				FixedInVersion: "2.36-9+deb12u6", Links: "https://security-tracker.debian.org/tracker/CVE-2024-2961 https://example.com", Package: glibc},
			"v2": {ID: "v2", Updater: "osv", Name: "DSA-5673-1", NormalizedSeverity: report.Medium, FixedInVersion: "2.36-9+deb12u6", Package: glibc},
		},
		PackageVulnerabilities: map[string][]string{"1": {"v1", "v2"}},
	}
}

func TestLayer(t *testing.T) {
	for _, tc := range []struct {
		name            string
		vulnerabilities bool
		wantVulns       int
	}{
		{"with vulnerabilities", true, 2},
		{"features only", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := secscan.Layer("sha256:m", vulnReport(), tc.vulnerabilities)
			if l.Name != "sha256:m" || l.IndexedByVersion != 4 || len(l.Features) != 2 {
				t.Fatalf("layer = %+v", l)
			}
			libc := l.Features[0]
			if libc.Name != "libc6" || libc.AddedBy != "sha256:layer1" || libc.NamespaceName != "debian:12" ||
				!slices.Equal(libc.CVEIds, []string{"CVE-2024-2961"}) || len(libc.Vulnerabilities) != tc.wantVulns {
				t.Fatalf("libc6 feature = %+v", libc)
			}
			if tc.vulnerabilities {
				v := libc.Vulnerabilities[0]
				if v.Name != "CVE-2024-2961" || v.Severity != "High" || v.FixedBy != "2.36-9+deb12u6" ||
					v.Link != "https://security-tracker.debian.org/tracker/CVE-2024-2961" || v.Metadata.DistroVersion != "12" ||
					v.Metadata.NVD.CVSSv3.Vectors == "" || v.Metadata.UpdatedBy != "osv" {
					t.Fatalf("vulnerability = %+v", v)
				}
			}
			if zlib := l.Features[1]; zlib.Name != "zlib1g" || zlib.AddedBy != "sha256:layer2" || len(zlib.Vulnerabilities) != 0 {
				t.Fatalf("zlib1g feature = %+v", zlib)
			}
		})
	}
}

func TestFindings(t *testing.T) {
	keys, found := secscan.Findings(vulnReport())
	if !slices.Equal(keys, []string{"CVE-2024-2961 libc6", "DSA-5673-1 libc6"}) {
		t.Fatalf("keys = %v", keys)
	}
	if f := found["CVE-2024-2961 libc6"]; f.Severity != "High" || f.FixedIn != "2.36-9+deb12u6" || f.Package != "libc6 2.36-9+deb12u4" {
		t.Fatalf("finding = %+v", f)
	}
}
