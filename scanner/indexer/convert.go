package indexer

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/purl"

	"github.com/wharf-registry/wharf/scanner/report"
)

func newReport(manifestDigest string) *report.IndexReport {
	return &report.IndexReport{
		ManifestHash:  manifestDigest,
		State:         report.StateIndexFinished,
		Success:       true,
		Packages:      map[string]*report.Package{},
		Distributions: map[string]*report.Distribution{},
		Repositories:  map[string]*report.Repository{},
		Environments:  map[string][]*report.Environment{},
	}
}

// entry is one package found at one place, before IDs are given.
type entry struct {
	pkg       report.Package // without ID
	ecosystem string
	os        bool // an OS package: its environment names the distribution
	db        string
	layer     string
}

func (e *entry) key() []string {
	k := []string{e.ecosystem, e.pkg.Name, e.pkg.Version, e.pkg.Kind, e.pkg.Arch, e.pkg.Module}
	if s := e.pkg.Source; s != nil {
		k = append(k, s.Name, s.Version)
	}
	return k
}

// buildReport turns scalibr's packages into an index report. IDs are given in a sorted
// order, so that the same inventory always makes the same document.
func buildReport(manifestDigest string, layers []Layer, osRelease map[string]string, pkgs []*extractor.Package) *report.IndexReport {
	r := newReport(manifestDigest)
	var entries []*entry
	for _, p := range pkgs {
		if e := convert(p, layers); e != nil {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b *entry) int {
		if c := slices.Compare(a.key(), b.key()); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.db, b.db), cmp.Compare(a.layer, b.layer))
	})

	distID := ""
	if osRelease["ID"] != "" && slices.ContainsFunc(entries, func(e *entry) bool { return e.os }) {
		distID = "1"
		r.Distributions[distID] = &report.Distribution{
			ID:              distID,
			DID:             osRelease["ID"],
			Name:            osRelease["NAME"],
			Version:         osRelease["VERSION"],
			VersionCodeName: osRelease["VERSION_CODENAME"],
			VersionID:       osRelease["VERSION_ID"],
			CPE:             osRelease["CPE_NAME"],
			PrettyName:      osRelease["PRETTY_NAME"],
		}
	}

	var ecosystems []string
	for _, e := range entries {
		if e.ecosystem != "" {
			ecosystems = append(ecosystems, e.ecosystem)
		}
	}
	slices.Sort(ecosystems)
	ecosystems = slices.Compact(ecosystems)
	repoIDs := map[string]string{}
	for i, eco := range ecosystems {
		id := strconv.Itoa(i + 1)
		repoIDs[eco] = id
		r.Repositories[id] = &report.Repository{ID: id, Name: eco, Key: report.EcosystemKey}
	}

	var prev *entry
	id := ""
	for _, e := range entries {
		if prev == nil || slices.Compare(prev.key(), e.key()) != 0 {
			id = strconv.Itoa(len(r.Packages) + 1)
			pkg := e.pkg
			pkg.ID = id
			r.Packages[id] = &pkg
		} else if prev.db == e.db && prev.layer == e.layer {
			continue // the same package found twice at the same place
		}
		prev = e
		env := &report.Environment{PackageDB: e.db, IntroducedIn: e.layer}
		if e.os {
			env.DistributionID = distID
		}
		if e.ecosystem != "" {
			env.RepositoryIDs = []string{repoIDs[e.ecosystem]}
		}
		r.Environments[id] = append(r.Environments[id], env)
	}
	return r
}

// convert maps one scalibr package to an entry, or nil for one without name or version.
func convert(p *extractor.Package, layers []Layer) *entry {
	if p.Name == "" || p.Version == "" {
		return nil
	}
	e := &entry{
		pkg:       report.Package{Name: p.Name, Version: p.Version, Kind: report.KindBinary},
		ecosystem: p.Ecosystem().String(),
	}
	if len(p.Locations) > 0 {
		e.db = strings.TrimPrefix(p.Locations[0], "/")
	}
	switch {
	case p.LayerMetadata != nil && p.LayerMetadata.Index >= 0 && p.LayerMetadata.Index < len(layers):
		e.layer = layers[p.LayerMetadata.Index].Digest
	case len(layers) > 0:
		e.layer = layers[len(layers)-1].Digest
	}

	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		e.os = true
		e.pkg.Arch = m.Architecture
		// "Source: name (version)" names the source's version when it differs from the binary's.
		src := &report.Package{Kind: report.KindSource, Name: m.SourceName, Version: m.SourceVersion}
		if src.Name == "" {
			src.Name = p.Name
		}
		if src.Version == "" {
			src.Version = p.Version
		}
		e.pkg.Source = src
	case *apkmeta.Metadata:
		e.os = true
		e.pkg.Arch = m.Architecture
		src := &report.Package{Kind: report.KindSource, Name: m.OriginName, Version: p.Version}
		if src.Name == "" {
			src.Name = p.Name
		}
		e.pkg.Source = src
	case *rpmmeta.Metadata:
		e.os = true
		e.pkg.Arch = m.Architecture
		epoch := ""
		if m.Epoch > 0 {
			epoch = strconv.Itoa(m.Epoch) + ":"
		}
		e.pkg.Version = epoch + p.Version
		if name, version, ok := parseSourceRPM(m.SourceRPM); ok {
			e.pkg.Source = &report.Package{Kind: report.KindSource, Name: name, Version: epoch + version}
		}
		if e.ecosystem == "" || e.ecosystem == "Rocky Linux" {
			e.ecosystem = rpmEcosystem(m)
		}
	}

	if p.PURLType == purl.TypeGolang && p.Name == "go" {
		// The Go toolchain that built a binary: OSV's Go data calls it stdlib, with semver versions.
		e.pkg.Name = "stdlib"
		e.pkg.Version = goSemver(p.Version)
	} else if p.PURLType == purl.TypeGolang {
		e.pkg.Version = strings.TrimPrefix(p.Version, "v")
	}
	return e
}

// parseSourceRPM splits a source RPM's file name, "openssl-3.0.7-27.el9.src.rpm", into the
// source package's name and version-release.
func parseSourceRPM(s string) (name, version string, ok bool) {
	s, found := strings.CutSuffix(s, ".src.rpm")
	if !found {
		if s, found = strings.CutSuffix(s, ".nosrc.rpm"); !found {
			return "", "", false
		}
	}
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", "", false
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", "", false
	}
	return s[:ver], s[ver+1:], true
}

// rpmEcosystem names the OSV ecosystems of RPM distributions scalibr leaves out or gives
// without their release: "AlmaLinux:9", "Rocky Linux:9".
func rpmEcosystem(m *rpmmeta.Metadata) string {
	major, _, _ := strings.Cut(m.OSVersionID, ".")
	switch m.OSID {
	case "almalinux":
		return suffixed("AlmaLinux", major)
	case "rocky":
		return suffixed("Rocky Linux", major)
	}
	return ""
}

func suffixed(eco, release string) string {
	if release == "" {
		return eco
	}
	return eco + ":" + release
}

var goVersionRE = regexp.MustCompile(`^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$`)

// goSemver turns a Go toolchain version ("1.22.1", "1.21", "1.22rc1") into the semver that
// OSV's Go data uses for stdlib ("1.22.1", "1.21.0", "1.22.0-rc.1"); others are returned
// without a "go" prefix.
func goSemver(v string) string {
	m := goVersionRE.FindStringSubmatch(v)
	if m == nil {
		return strings.TrimPrefix(v, "go")
	}
	patch := m[3]
	if patch == "" {
		patch = "0"
	}
	s := m[1] + "." + m[2] + "." + patch
	if m[4] != "" {
		s += "-" + m[4] + "." + m[5]
	}
	return s
}
