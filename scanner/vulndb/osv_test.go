package vulndb

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/scanner/report"
)

// debianRecord is shaped like the records of Debian's OSV data.
const debianRecord = `{
	"schema_version": "1.6.0",
	"id": "CVE-2024-2961",
	"modified": "2025-01-14T12:15:36.976360Z",
	"published": "2024-04-17T18:15:15Z",
	"aliases": ["GHSA-xxxx", "CVE-2024-2961"],
	"related": ["DSA-5673-1"],
	"details": " The iconv() function may overflow.\n",
	"severity": [{"type": "CVSS_V3", "score": "` + v31High + `"}],
	"affected": [
		{
			"package": {"ecosystem": "Debian:11", "name": "glibc", "purl": "pkg:deb/debian/glibc?arch=source"},
			"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31-13+deb11u9"}]}],
			"ecosystem_specific": {"urgency": "not yet assigned"}
		},
		{
			"package": {"ecosystem": "Debian:12", "name": "glibc"},
			"ranges": [
				{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u6"}]},
				{"type": "GIT", "repo": "https://sourceware.org/git/glibc.git", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}
			],
			"versions": ["2.36-9", "2.36-9+deb12u4"],
			"ecosystem_specific": {"urgency": "low"}
		},
		{
			"package": {},
			"ranges": [{"type": "GIT", "repo": "https://sourceware.org/git/glibc.git", "events": [{"introduced": "0"}, {"last_affected": "def456"}]}],
			"versions": ["glibc-2.39"]
		}
	],
	"references": [
		{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/CVE-2024-2961"},
		{"type": "WEB", "url": "https://www.openwall.com/lists/oss-security/2024/04/17/9"},
		{"type": "WEB", "url": "https://www.openwall.com/lists/oss-security/2024/04/17/9"}
	]
}`

func TestParseOSV(t *testing.T) {
	a, err := ParseOSV([]byte(debianRecord))
	if err != nil {
		t.Fatal(err)
	}
	want := Advisory{
		Source:    SourceOSV,
		ID:        "CVE-2024-2961",
		Aliases:   []string{"GHSA-xxxx"},
		Details:   "The iconv() function may overflow.",
		Links:     []string{"https://security-tracker.debian.org/tracker/CVE-2024-2961", "https://www.openwall.com/lists/oss-security/2024/04/17/9"},
		Published: time.Date(2024, 4, 17, 18, 15, 15, 0, time.UTC),
		Modified:  time.Date(2025, 1, 14, 12, 15, 36, 976360000, time.UTC),
		Affected: []Affected{
			{Ecosystem: "Debian:11", Package: "glibc", Severity: v31High, NormalizedSeverity: report.High,
				Ranges: []Range{{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: "2.31-13+deb11u9"}}}}},
			{Ecosystem: "Debian:12", Package: "glibc", Severity: "low", NormalizedSeverity: report.Low,
				Ranges:   []Range{{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: "2.36-9+deb12u6"}}}},
				Versions: []string{"2.36-9", "2.36-9+deb12u4"}},
		},
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("ParseOSV:\n got %+v\nwant %+v", a, want)
	}
}

func TestParseOSVEcosystems(t *testing.T) {
	for _, tc := range []struct {
		record             string
		link, pkg          string
		severity           string
		normalized         report.Severity
		withdrawn, noFixed bool
	}{
		{record: `{"id":"GO-2022-1059","modified":"2024-05-20T16:03:47Z","withdrawn":"2024-06-01T00:00:00Z",
			"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.8"}]}]}]}`,
			link: "https://pkg.go.dev/vuln/GO-2022-1059", pkg: "golang.org/x/text", withdrawn: true},
		{record: `{"id":"GHSA-aaaa-bbbb-cccc","modified":"2024-05-20T16:03:47Z","database_specific":{"severity":"MODERATE"},
			"affected":[{"package":{"ecosystem":"PyPI","name":"Jinja2"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"3.1.2"}]}]}]}`,
			link: "https://osv.dev/vulnerability/GHSA-aaaa-bbbb-cccc", pkg: "jinja2", severity: "MODERATE", normalized: report.Medium},
		{record: `{"id":"CVE-2023-1","modified":"2024-05-20T16:03:47Z","severity":[{"type":"CVSS_V3","score":"` + v31Low + `"}],
			"affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"openssl"},"severity":[{"type":"CVSS_V3","score":"` + v31Critical + `"}],
			"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.4-r1"}]}]},
			{"package":{"ecosystem":"Alpine:v3.18","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]},
			{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`,
			link: "https://security.alpinelinux.org/vuln/CVE-2023-1", pkg: "openssl", severity: v31Critical, normalized: report.Critical},
		{record: `{"id":"DSA-5673-1","modified":"2024-04-23T08:15:29Z","summary":"glibc - security update",
			"affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u6"}]}]}]}`,
			link: "https://security-tracker.debian.org/tracker/DSA-5673-1", pkg: "glibc"},
		{record: `{"id":"UBUNTU-CVE-2024-1","modified":"2024-04-23T08:15:29Z",
			"affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"glibc"},"severity":[{"type":"Ubuntu","score":"medium"}],
			"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.35-0ubuntu3.7"}]}]}]}`,
			link: "https://osv.dev/vulnerability/UBUNTU-CVE-2024-1", pkg: "glibc", severity: "medium", normalized: report.Medium},
	} {
		a, err := ParseOSV([]byte(tc.record))
		if err != nil {
			t.Fatalf("%s: %v", tc.record, err)
		}
		if a.Links[0] != tc.link || a.Affected[0].Package != tc.pkg || a.Affected[0].Severity != tc.severity ||
			a.Affected[0].NormalizedSeverity != tc.normalized || a.Withdrawn.IsZero() == tc.withdrawn {
			t.Errorf("%s: link %s, package %s, severity %q %s, withdrawn %v", a.ID, a.Links[0], a.Affected[0].Package,
				a.Affected[0].Severity, a.Affected[0].NormalizedSeverity, a.Withdrawn)
		}
	}
}

func TestParseOSVInvalid(t *testing.T) {
	for _, tc := range []struct{ record, problem string }{
		{`{"modified":"2024-01-01T00:00:00Z","affected":[]}`, "no id"},
		{`{"id":"CVE-1","affected":[]}`, "no modified"},
		{`{"id":"CVE-1","modified":"yesterday"}`, "modified"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","published":"2024"}`, "published"},
		{`{"id":"CVE 1","modified":"2024-01-01T00:00:00Z"}`, "not an OSV id"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","aliases":"CVE-2"}`, "cannot unmarshal"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go"}}]}`, "ecosystem and a name"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2\nCVE-3"]}`, "is not an id"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"versions":["1.0\n2.0"]}]}`, "white space"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SOMETIMES","events":[{"introduced":"0"}]}]}]}`, "unknown type"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"events":[{"introduced":"0"}]}]}]}`, "no type"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[]}]}]}`, "no events"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]}]}`, "no introduced"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}`, "want one"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"patched":"1.0.0"}]}]}]}`, "want one"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":" "}]}]}]}`, "empty introduced"},
		{`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":0}]}]}]}`, "cannot unmarshal"},
	} {
		_, err := ParseOSV([]byte(tc.record))
		var invalid *InvalidError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), tc.problem) {
			t.Errorf("ParseOSV(%s) = %v; want an *InvalidError about %q", tc.record, err, tc.problem)
		}
	}
}

func TestParseOSVNotOSV(t *testing.T) {
	for _, doc := range []string{``, `null`, `[]`, `[{"id":"CVE-1"}]`, `{"name":"x"}`, `{"id":`, `not json`, `{"id": 5, "modified": "x"}`} {
		_, err := ParseOSV([]byte(doc))
		var invalid *InvalidError
		if err == nil || errors.As(err, &invalid) {
			t.Errorf("ParseOSV(%q) = %v; want an error that it is not OSV", doc, err)
		}
	}
}

func TestParseSecDB(t *testing.T) {
	db, err := ParseSecDB([]byte(`{
		"distroversion": "v3.19", "reponame": "main", "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
		"packages": [
			{"pkg": {"name": "openssl", "secfixes": {
				"3.1.4-r1": ["CVE-2023-5363", "CVE-2023-5678 OPENSSL-2023-1"],
				"3.1.10-r0": ["CVE-2023-5678"],
				"0": ["CVE-2022-0001"]}}},
			{"pkg": {"name": "libressl", "secfixes": {"3.8.2-r0": ["CVE-2023-5678"]}}},
			{"pkg": {"name": "zlib", "secfixes": {}}},
			{"pkg": {"name": "musl", "secfixes": {"1.2.4-r0": null}}}
		]}`))
	if err != nil {
		t.Fatal(err)
	}
	if db.Source != "alpine-secdb/v3.19/main" || db.Ecosystem != "Alpine:v3.19" {
		t.Fatalf("source %q, ecosystem %q", db.Source, db.Ecosystem)
	}
	fixed := func(vs ...string) []Range {
		var rs []Range
		for _, v := range vs {
			rs = append(rs, Range{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: v}}})
		}
		return rs
	}
	want := []Advisory{
		{Source: db.Source, ID: "CVE-2023-5363", Links: []string{"https://security.alpinelinux.org/vuln/CVE-2023-5363"},
			Affected: []Affected{{Ecosystem: "Alpine:v3.19", Package: "openssl", Ranges: fixed("3.1.4-r1")}}},
		{Source: db.Source, ID: "CVE-2023-5678", Aliases: []string{"OPENSSL-2023-1"}, Links: []string{"https://security.alpinelinux.org/vuln/CVE-2023-5678"},
			Affected: []Affected{
				{Ecosystem: "Alpine:v3.19", Package: "libressl", Ranges: fixed("3.8.2-r0")},
				// Two fixes of one id: in version order (3.1.4 before 3.1.10).
				{Ecosystem: "Alpine:v3.19", Package: "openssl", Ranges: fixed("3.1.4-r1", "3.1.10-r0")},
			}},
	}
	if !reflect.DeepEqual(db.Advisories, want) {
		t.Fatalf("ParseSecDB:\n got %+v\nwant %+v", db.Advisories, want)
	}
	for _, doc := range []string{`{}`, `{"distroversion":"v3.19","reponame":"main"}`, `{"distroversion":"v3.19","packages":[]}`,
		`{"distroversion":"v3/19","reponame":"main","packages":[]}`, `{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":""}}]}`,
		`{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":"x","secfixes":{"":["CVE-1"]}}}]}`,
		`{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":"x","secfixes":{"1-r0":"CVE-1"}}}]}`, `[]`} {
		if _, err := ParseSecDB([]byte(doc)); err == nil {
			t.Errorf("ParseSecDB(%s) succeeded", doc)
		}
	}
}

func TestParseDocument(t *testing.T) {
	secdb := `{"distroversion":"v3.20","reponame":"community","packages":[{"pkg":{"name":"go","secfixes":{"1.22.5-r0":["CVE-2024-24791"]}}}]}`
	for _, tc := range []struct {
		name, doc string
		format    Format
		source    string
		complete  bool
		invalid   bool
		err       string
	}{
		{name: "osv", doc: debianRecord, format: FormatOSV, source: SourceOSV},
		{name: "osv with spaces around", doc: "\n  " + debianRecord + "\n", format: FormatOSV, source: SourceOSV},
		{name: "secdb", doc: secdb, format: FormatSecDB, source: "alpine-secdb/v3.20/community", complete: true},
		{name: "invalid osv", doc: `{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go"}}]}`, format: FormatOSV, invalid: true},
		{name: "osv with a wrong type", doc: `{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","summary":7}`, format: FormatOSV, invalid: true},
		{name: "broken secdb", doc: `{"distroversion":"v3.20","packages":[]}`, err: "reponame"},
		{name: "empty object", doc: `{}`, err: "none of their fields"},
		{name: "other json", doc: `{"name":"x","version":"1"}`, err: "none of their fields"},
		{name: "array", doc: `[{"id":"CVE-1"}]`, err: "not a JSON object"},
		{name: "text", doc: `hello`, err: "not a JSON object"},
		{name: "empty", doc: ``, err: "not a JSON object"},
		{name: "truncated", doc: debianRecord[:200], err: "neither an OSV record nor an Alpine secdb file"},
	} {
		d, err := ParseDocument([]byte(tc.doc))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: ParseDocument = %+v, %v; want an error about %q", tc.name, d, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d.Format != tc.format || d.Source != tc.source || d.Complete != tc.complete || (d.Invalid != nil) != tc.invalid ||
			(len(d.Advisories) == 0) != tc.invalid {
			t.Errorf("%s: ParseDocument = format %q source %q complete %v invalid %v, %d advisories", tc.name, d.Format, d.Source,
				d.Complete, d.Invalid, len(d.Advisories))
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ eco, name, want string }{
		{"PyPI", "Jinja2", "jinja2"},
		{"PyPI", "zope.interface", "zope-interface"},
		{"PyPI", "Foo__Bar-.baz", "foo-bar-baz"},
		{"Debian:12", "Glibc", "Glibc"},
		{"Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"},
	} {
		if got := NormalizeName(tc.eco, tc.name); got != tc.want {
			t.Errorf("NormalizeName(%s, %s) = %s, want %s", tc.eco, tc.name, got, tc.want)
		}
	}
}

func TestAdvisoryLink(t *testing.T) {
	for _, tc := range []struct{ eco, id, want string }{
		{"Debian:12", "CVE-2024-2961", "https://security-tracker.debian.org/tracker/CVE-2024-2961"},
		{"Debian", "DSA-5673-1", "https://security-tracker.debian.org/tracker/DSA-5673-1"},
		{"Alpine:v3.19", "CVE-2024-1", "https://security.alpinelinux.org/vuln/CVE-2024-1"},
		{"Alpine:v3.19", "GHSA-x", "https://osv.dev/vulnerability/GHSA-x"},
		{"Go", "GO-2022-1059", "https://pkg.go.dev/vuln/GO-2022-1059"},
		{"Go", "GHSA-x", "https://osv.dev/vulnerability/GHSA-x"},
		{"npm", "GHSA-x", "https://osv.dev/vulnerability/GHSA-x"},
	} {
		if got := AdvisoryLink(tc.eco, tc.id); got != tc.want {
			t.Errorf("AdvisoryLink(%s, %s) = %s, want %s", tc.eco, tc.id, got, tc.want)
		}
	}
}
