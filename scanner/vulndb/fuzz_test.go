package vulndb

import (
	"errors"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	debianRecord,
	`{"id":"GO-2021-0068","modified":"2024-05-20T16:03:47Z","affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.14.14"},{"introduced":"1.15.0-0"},{"fixed":"1.15.7"}]}]}]}`,
	`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"A_b"},"versions":["1.0"],"database_specific":{"severity":"HIGH"}}]}`,
	`{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":"openssl","secfixes":{"3.1.4-r1":["CVE-2023-5363 X-1"],"0":["CVE-2"]}}}]}`,
	`{"id":"CVE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go"}}]}`,
	`{}`, `[]`, `null`, `{"id":`,
}

// checkAdvisory fails on an advisory that breaks the model's promises.
func checkAdvisory(t *testing.T, a Advisory) {
	t.Helper()
	if a.ID == "" || a.Source == "" {
		t.Fatalf("advisory without id or source: %+v", a)
	}
	for _, l := range [][]string{a.Aliases, a.Links} {
		for _, item := range l {
			if item == "" || strings.ContainsAny(item, " \t\r\n") {
				t.Fatalf("%s: list item %q", a.ID, item)
			}
		}
	}
	for _, af := range a.Affected {
		for _, v := range af.Versions {
			if v == "" || strings.ContainsAny(v, "\r\n") {
				t.Fatalf("%s: version %q", a.ID, v)
			}
		}
		if af.Ecosystem == "" || af.Package == "" || len(af.Ranges)+len(af.Versions) == 0 {
			t.Fatalf("%s: affected entry without ecosystem, package or versions: %+v", a.ID, af)
		}
		for _, r := range af.Ranges {
			if r.Type != RangeEcosystem && r.Type != RangeSemver {
				t.Fatalf("%s: range of type %q kept", a.ID, r.Type)
			}
			intro := false
			for _, e := range r.Events {
				n := 0
				for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
					if v != "" {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%s: event %+v", a.ID, e)
				}
				intro = intro || e.Introduced != ""
			}
			if !intro {
				t.Fatalf("%s: range without introduced: %+v", a.ID, r)
			}
		}
	}
}

func FuzzParseOSV(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseOSV(data)
		if err != nil {
			var invalid *InvalidError
			if errors.As(err, &invalid) && invalid.Name == "" {
				t.Fatalf("InvalidError without a name: %v", err)
			}
			return
		}
		checkAdvisory(t, a)
	})
}

func FuzzParseSecDB(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := ParseSecDB(data)
		if err != nil {
			return
		}
		for _, a := range db.Advisories {
			if a.Source != db.Source {
				t.Fatalf("advisory %s of source %s in %s", a.ID, a.Source, db.Source)
			}
			checkAdvisory(t, a)
		}
	})
}

func FuzzParseDocument(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDocument(data)
		if err != nil {
			return
		}
		if d.Format != FormatOSV && d.Format != FormatSecDB {
			t.Fatalf("format %q", d.Format)
		}
		if d.Invalid != nil && len(d.Advisories) > 0 {
			t.Fatalf("an invalid document with advisories")
		}
		for _, a := range d.Advisories {
			checkAdvisory(t, a)
		}
	})
}
