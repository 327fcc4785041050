// Package vulndb reads vulnerability data files, OSV records (one .json, a directory of
// them, or a zip such as OSV's all.zip) and Alpine secdb files (a .json or a zip of them),
// into one normalised model, and imports them into the metadata store, one transaction per
// file.
//
// Advisories are unique by source and id: OSV records have the source "osv" (an advisory id
// names one record across OSV's databases); an Alpine secdb file, a complete list of one
// release's repository, has the source "alpine-secdb/RELEASE/REPO" (for example
// "alpine-secdb/v3.19/main"), so that importing it replaces exactly that list.
package vulndb

import (
	"strings"
	"time"

	"github.com/wharf-registry/wharf/scanner/report"
)

// Sources of advisories.
const (
	SourceOSV   = "osv"
	SourceSecDB = "alpine-secdb"
)

// Advisory is one vulnerability record: what one source says about one vulnerability.
type Advisory struct {
	Source    string
	ID        string // CVE-2024-2961, DSA-5673-1, GO-2022-1059
	Aliases   []string
	Summary   string
	Details   string
	Links     []string // the advisory's own page first, then its references
	Published time.Time
	Modified  time.Time
	Withdrawn time.Time // non-zero: the record was withdrawn and is to be removed
	Affected  []Affected
}

// Affected is one package an advisory affects, in one ecosystem.
type Affected struct {
	Ecosystem string // "Debian:12", "Alpine:v3.19", "Go", "PyPI"
	Package   string // as NormalizeName gives it
	Ranges    []Range
	Versions  []string // affected versions named one by one
	// Severity is the vendor's rating as the record has it (Debian's urgency "low", a CVSS
	// vector); NormalizedSeverity is its level (see NormalizeSeverity).
	Severity           string
	NormalizedSeverity report.Severity
}

// Range types (OSV's GIT ranges are not kept: images hold versions, not commits).
const (
	RangeEcosystem = "ECOSYSTEM"
	RangeSemver    = "SEMVER"
)

// Range is an OSV range of affected versions: events in the order of versions, each one
// version that starts (introduced) or ends (fixed, last_affected) an affected interval, or
// bounds the range (limit). Introduced "0" is the beginning of time.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one event of a Range: exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// NormalizeName returns the name a package is stored and looked up by in an ecosystem:
// PyPI's names are compared as PEP 503 normalises them (lower case, runs of "-", "_" and "."
// as one "-"); others as they are.
func NormalizeName(ecosystem, name string) string {
	if eco, _, _ := strings.Cut(ecosystem, ":"); eco != "PyPI" {
		return name
	}
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// AdvisoryLink is the page of an advisory for users of an ecosystem: Debian's security
// tracker, Alpine's security tracker for CVEs, pkg.go.dev for the Go database's GO- ids,
// else osv.dev.
func AdvisoryLink(ecosystem, id string) string {
	eco, _, _ := strings.Cut(ecosystem, ":")
	switch {
	case eco == "Debian":
		return "https://security-tracker.debian.org/tracker/" + id
	case eco == "Alpine" && strings.HasPrefix(id, "CVE-"):
		return "https://security.alpinelinux.org/vuln/" + id
	case eco == "Go" && strings.HasPrefix(id, "GO-"):
		return "https://pkg.go.dev/vuln/" + id
	}
	return "https://osv.dev/vulnerability/" + id
}
