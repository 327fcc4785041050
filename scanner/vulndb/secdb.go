package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// secDB is an Alpine secdb file (https://secdb.alpinelinux.org/): the fixes of one
// repository of one release.
type secDB struct {
	DistroVersion string `json:"distroversion"`
	RepoName      string `json:"reponame"`
	Packages      []struct {
		Pkg struct {
			Name     string              `json:"name"`
			SecFixes map[string][]string `json:"secfixes"`
		} `json:"pkg"`
	} `json:"packages"`
}

// SecDB is the content of one Alpine secdb file, as advisories.
type SecDB struct {
	// Source is "alpine-secdb/RELEASE/REPO": the file holds all of that source's advisories.
	Source     string
	Ecosystem  string // "Alpine:v3.19"
	Advisories []Advisory
}

// ParseSecDB reads an Alpine secdb file: each vulnerability id fixed in a package version
// becomes an advisory affecting the package (the aport, which binary packages name as their
// origin) up to that version. A fixed version "0" means the package was never affected and
// is skipped. An id listed under several fixed versions of a package gets one range per
// fixed version, in version order, so that the fixed version reported for an installed
// version is the lowest above it.
func ParseSecDB(data []byte) (SecDB, error) {
	var db secDB
	if err := json.Unmarshal(data, &db); err != nil {
		return SecDB{}, fmt.Errorf("not an Alpine secdb file: %w", err)
	}
	if db.DistroVersion == "" || db.Packages == nil {
		return SecDB{}, errors.New("not an Alpine secdb file: no distroversion or packages")
	}
	release := strings.TrimSpace(db.DistroVersion)
	if strings.ContainsAny(release, " /:\t\r\n") {
		return SecDB{}, fmt.Errorf("secdb distroversion %q is not a release name", db.DistroVersion)
	}
	repo := strings.TrimSpace(db.RepoName)
	if repo == "" || strings.ContainsAny(repo, " /:\t\r\n") {
		return SecDB{}, fmt.Errorf("secdb reponame %q is not a repository name", db.RepoName)
	}
	out := SecDB{Source: SourceSecDB + "/" + release + "/" + repo, Ecosystem: "Alpine:" + release}
	type key struct{ id, pkg string }
	fixed := map[key][]string{} // the fixed versions of each id in each package
	aliases := map[string][]string{}
	for i, p := range db.Packages {
		name := strings.TrimSpace(p.Pkg.Name)
		if name == "" {
			return SecDB{}, fmt.Errorf("secdb %s packages[%d]: no name", out.Source, i)
		}
		for version, ids := range p.Pkg.SecFixes {
			version = strings.TrimSpace(version)
			if version == "" {
				return SecDB{}, fmt.Errorf("secdb %s package %s: an empty fixed version", out.Source, name)
			}
			if version == "0" {
				continue // never affected
			}
			for _, entry := range ids {
				// "CVE-2021-27219 GHSL-2021-045": the id, then other names of it.
				fields := strings.Fields(entry)
				if len(fields) == 0 {
					continue
				}
				k := key{fields[0], name}
				if !contains(fixed[k], version) {
					fixed[k] = append(fixed[k], version)
				}
				for _, al := range fields[1:] {
					if !contains(aliases[k.id], al) && al != k.id {
						aliases[k.id] = append(aliases[k.id], al)
					}
				}
			}
		}
	}
	byID := map[string]*Advisory{}
	for k, versions := range fixed {
		a := byID[k.id]
		if a == nil {
			a = &Advisory{Source: out.Source, ID: k.id, Aliases: aliases[k.id], Links: []string{AdvisoryLink(out.Ecosystem, k.id)}}
			byID[k.id] = a
		}
		sort.Slice(versions, func(i, j int) bool { return alpineLess(versions[i], versions[j]) })
		af := Affected{Ecosystem: out.Ecosystem, Package: k.pkg}
		for _, v := range versions {
			af.Ranges = append(af.Ranges, Range{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: v}}})
		}
		a.Affected = append(a.Affected, af)
	}
	for _, a := range byID {
		sort.Slice(a.Affected, func(i, j int) bool { return a.Affected[i].Package < a.Affected[j].Package })
		sort.Strings(a.Aliases)
		out.Advisories = append(out.Advisories, *a)
	}
	sort.Slice(out.Advisories, func(i, j int) bool { return out.Advisories[i].ID < out.Advisories[j].ID })
	return out, nil
}

// alpineLess orders Alpine versions; versions it cannot read order as strings.
func alpineLess(a, b string) bool {
	va, err := semantic.ParseAlpineVersion(a)
	if err == nil {
		if c, err := va.CompareStr(b); err == nil {
			return c < 0
		}
	}
	return a < b
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
