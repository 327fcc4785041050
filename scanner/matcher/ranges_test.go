package matcher

import (
	"testing"

	"github.com/wharf-registry/wharf/scanner/vulndb"
)

func eco(events ...vulndb.Event) vulndb.Range {
	return vulndb.Range{Type: vulndb.RangeEcosystem, Events: events}
}

func semver(events ...vulndb.Event) vulndb.Range {
	return vulndb.Range{Type: vulndb.RangeSemver, Events: events}
}

func intro(v string) vulndb.Event { return vulndb.Event{Introduced: v} }
func fixed(v string) vulndb.Event { return vulndb.Event{Fixed: v} }
func last(v string) vulndb.Event  { return vulndb.Event{LastAffected: v} }
func limit(v string) vulndb.Event { return vulndb.Event{Limit: v} }

func TestAffects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ecosystem string
		version   string
		ranges    []vulndb.Range
		versions  []string
		affected  bool
		fixed     string
		err       bool
	}{
		// Debian: epochs, tildes, +debNuM.
		{"debian below fix", "Debian:12", "2.36-9+deb12u4", []vulndb.Range{eco(intro("0"), fixed("2.36-9+deb12u6"))}, nil, true, "2.36-9+deb12u6", false},
		{"debian at fix", "Debian:12", "2.36-9+deb12u6", []vulndb.Range{eco(intro("0"), fixed("2.36-9+deb12u6"))}, nil, false, "", false},
		{"debian above fix", "Debian:12", "2.36-9+deb12u10", []vulndb.Range{eco(intro("0"), fixed("2.36-9+deb12u6"))}, nil, false, "", false},
		{"debian tilde sorts before", "Debian:12", "2.3-1~deb12u1", []vulndb.Range{eco(intro("0"), fixed("2.3-1"))}, nil, true, "2.3-1", false},
		{"debian epoch wins", "Debian:12", "1:2.3-1~deb12u1", []vulndb.Range{eco(intro("0"), fixed("2.4-1"))}, nil, false, "", false},
		{"debian epoch in the fix", "Debian:12", "2.9-1", []vulndb.Range{eco(intro("0"), fixed("1:1.0-1"))}, nil, true, "1:1.0-1", false},
		{"debian introduced later", "Debian:12", "1.0-1", []vulndb.Range{eco(intro("1.2-1"), fixed("1.4-1"))}, nil, false, "", false},
		{"debian inside introduced..fixed", "Debian:12", "1.3-1", []vulndb.Range{eco(intro("1.2-1"), fixed("1.4-1"))}, nil, true, "1.4-1", false},
		{"debian at introduced", "Debian:12", "1.2-1", []vulndb.Range{eco(intro("1.2-1"), fixed("1.4-1"))}, nil, true, "1.4-1", false},
		{"debian unfixed", "Debian:12", "3.0-1", []vulndb.Range{eco(intro("0"))}, nil, true, "", false},
		// Alpine: -rN revisions, suffixes.
		{"alpine older revision", "Alpine:v3.19", "3.1.4-r0", []vulndb.Range{eco(intro("0"), fixed("3.1.4-r1"))}, nil, true, "3.1.4-r1", false},
		{"alpine fixed revision", "Alpine:v3.19", "3.1.4-r1", []vulndb.Range{eco(intro("0"), fixed("3.1.4-r1"))}, nil, false, "", false},
		{"alpine numeric order", "Alpine:v3.19", "3.1.10-r0", []vulndb.Range{eco(intro("0"), fixed("3.1.9-r0"))}, nil, false, "", false},
		{"alpine rc before release", "Alpine:v3.19", "1.2.0_rc1-r0", []vulndb.Range{eco(intro("0"), fixed("1.2.0-r0"))}, nil, true, "1.2.0-r0", false},
		// Go, semver.
		{"go below fix", "Go", "0.3.7", []vulndb.Range{semver(intro("0"), fixed("0.3.8"))}, nil, true, "0.3.8", false},
		{"go at fix", "Go", "0.3.8", []vulndb.Range{semver(intro("0"), fixed("0.3.8"))}, nil, false, "", false},
		{"go pseudo-version", "Go", "0.0.0-20220101000000-abcdef123456", []vulndb.Range{semver(intro("0"), fixed("0.3.8"))}, nil, true, "0.3.8", false},
		{"go two intervals, second", "Go", "1.15.6", []vulndb.Range{semver(intro("0"), fixed("1.14.14"), intro("1.15.0-0"), fixed("1.15.7"))}, nil, true, "1.15.7", false},
		{"go two intervals, first", "Go", "1.14.2", []vulndb.Range{semver(intro("0"), fixed("1.14.14"), intro("1.15.0-0"), fixed("1.15.7"))}, nil, true, "1.14.14", false},
		{"go two intervals, between", "Go", "1.14.15", []vulndb.Range{semver(intro("0"), fixed("1.14.14"), intro("1.15.0-0"), fixed("1.15.7"))}, nil, false, "", false},
		{"events out of order", "Go", "1.15.6", []vulndb.Range{semver(fixed("1.15.7"), intro("1.15.0-0"), fixed("1.14.14"), intro("0"))}, nil, true, "1.15.7", false},
		{"semver range in another ecosystem", "npm", "2.0.0-beta.1", []vulndb.Range{semver(intro("1.0.0"), fixed("2.0.0"))}, nil, true, "2.0.0", false},
		// last_affected and limit.
		{"at last_affected", "PyPI", "3.1.2", []vulndb.Range{eco(intro("0"), last("3.1.2"))}, nil, true, "", false},
		{"above last_affected", "PyPI", "3.1.3", []vulndb.Range{eco(intro("0"), last("3.1.2"))}, nil, false, "", false},
		{"pypi pre-release below last_affected", "PyPI", "3.1.2rc1", []vulndb.Range{eco(intro("3.0"), last("3.1.2"))}, nil, true, "", false},
		{"below limit", "Go", "1.2.0", []vulndb.Range{semver(intro("1.0.0"), limit("1.5.0"))}, nil, true, "", false},
		{"at limit", "Go", "1.5.0", []vulndb.Range{semver(intro("1.0.0"), limit("1.5.0"))}, nil, false, "", false},
		// Versions lists.
		{"listed only", "Debian:12", "2.36-9+deb12u4", nil, []string{"2.36-9", "2.36-9+deb12u4"}, true, "", false},
		{"not listed", "Debian:12", "2.36-9+deb12u5", nil, []string{"2.36-9", "2.36-9+deb12u4"}, false, "", false},
		{"listed and in range: range's fix", "Debian:12", "2.36-9", []vulndb.Range{eco(intro("0"), fixed("2.36-9+deb12u6"))}, []string{"2.36-9"}, true, "2.36-9+deb12u6", false},
		{"listed, range says fixed", "Debian:12", "2.36-9+deb12u7", []vulndb.Range{eco(intro("0"), fixed("2.36-9+deb12u6"))}, []string{"2.36-9+deb12u7"}, true, "", false},
		{"unsupported ecosystem, listed", "Nix", "1.0", []vulndb.Range{eco(intro("0"), fixed("2.0"))}, []string{"1.0"}, true, "", true},
		{"unsupported ecosystem, not listed", "Nix", "1.0", []vulndb.Range{eco(intro("0"), fixed("2.0"))}, nil, false, "", true},
		// Several ranges: the first holding the version gives the fix.
		{"several ranges", "Debian:12", "1.5-1", []vulndb.Range{eco(intro("0"), fixed("1.0-1")), eco(intro("1.4-1"), fixed("1.6-1")), eco(intro("0"), fixed("2.0-1"))}, nil, true, "1.6-1", false},
		{"several ranges, none", "Debian:12", "2.5-1", []vulndb.Range{eco(intro("0"), fixed("1.0-1")), eco(intro("1.4-1"), fixed("1.6-1"))}, nil, false, "", false},
		{"unreadable range skipped", "PyPI", "1.0", []vulndb.Range{eco(intro("0"), fixed("not a version!")), eco(intro("0"), fixed("2.0"))}, nil, true, "2.0", false},
		{"no ranges, no versions", "Debian:12", "1.0-1", nil, nil, false, "", false},
	} {
		affected, fixed, err := Affects(tc.ecosystem, tc.version, tc.ranges, tc.versions)
		if affected != tc.affected || fixed != tc.fixed || (err != nil) != tc.err {
			t.Errorf("%s: Affects(%s, %s) = %v, %q, %v; want %v, %q, error %v", tc.name, tc.ecosystem, tc.version,
				affected, fixed, err, tc.affected, tc.fixed, tc.err)
		}
	}
}
