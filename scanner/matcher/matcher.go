// Package matcher turns an index report into a vulnerability report: it looks each
// package up in the vulnerability data by its OSV ecosystem and name, and keeps the
// advisories whose versions or ranges hold the installed version.
package matcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/vulndb"
)

// Source is the vulnerability data: each advisory's entry for a package of an ecosystem.
type Source interface {
	AffectedPackages(ctx context.Context, ecosystem, name string) ([]store.VulnAffected, error)
}

// BriefSource is a Source that can give the entries of many packages at once, with only
// their advisories' source and id, and fetch the advisories of the few entries that match:
// fewer questions, much less to read. Match uses it when the Source has it (the store does).
type BriefSource interface {
	Source
	AffectedPackagesBrief(ctx context.Context, ecosystem string, names []string) ([]store.VulnAffected, error)
	VulnAdvisories(ctx context.Context, keys []store.VulnAdvisoryKey) (map[store.VulnAdvisoryKey]store.VulnAdvisory, error)
}

var _ BriefSource = (*store.Store)(nil)

// Match returns the vulnerability report of an index report. A package is looked up in the
// ecosystem its environment names (see report.EcosystemKey) by the name its ecosystem's
// advisories use: Debian's source package (name and version) when the package names one,
// Alpine's origin (with the package's version), else the package itself; Go versions are
// compared without a leading "v". An advisory named the same by two sources (Alpine's
// secdb and OSV) is reported once per package: the one with a fixed version, else with
// more detail. Vulnerabilities have ids derived from what they hold, so the same data
// gives the same report.
func Match(ctx context.Context, src Source, idx *report.IndexReport) (*report.VulnerabilityReport, error) {
	if idx == nil {
		return nil, fmt.Errorf("match: no index report")
	}
	vr := &report.VulnerabilityReport{
		ManifestHash:           idx.ManifestHash,
		Packages:               copyMap(idx.Packages),
		Distributions:          copyMap(idx.Distributions),
		Repositories:           copyMap(idx.Repositories),
		Environments:           copyMap(idx.Environments),
		Vulnerabilities:        map[string]*report.Vulnerability{},
		PackageVulnerabilities: map[string][]string{},
	}
	m := &match{ctx: ctx, src: src, idx: idx, vs: newVersions(), lookups: map[lookupKey]*looked{}, evals: map[evalKey][]hit{}}
	m.brief, _ = src.(BriefSource)
	ids := make([]string, 0, len(idx.Packages))
	for id := range idx.Packages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if err := m.prefetch(ids); err != nil {
		return nil, err
	}
	// Which entries hold each package's version.
	found := make(map[string][]candidate, len(ids))
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cands, err := m.candidates(id, idx.Packages[id])
		if err != nil {
			return nil, err
		}
		if len(cands) > 0 {
			found[id] = cands
		}
	}
	if err := m.texts(found); err != nil {
		return nil, err
	}
	// One vulnerability per advisory name and package.
	for _, id := range ids {
		best := map[string]candidate{}
		for _, c := range found[id] {
			if prev, ok := best[c.row.Advisory.ID]; !ok || better(m.vs, c, prev) {
				best[c.row.Advisory.ID] = c
			}
		}
		if len(best) == 0 {
			continue
		}
		vids := make([]string, 0, len(best))
		for _, c := range best {
			v := c.vulnerability()
			if _, ok := vr.Vulnerabilities[v.ID]; !ok {
				vr.Vulnerabilities[v.ID] = v
			}
			vids = append(vids, v.ID)
		}
		sort.Strings(vids)
		vr.PackageVulnerabilities[id] = vids
	}
	return vr, nil
}

type lookupKey struct{ ecosystem, name string }

// match is the state of one Match: lookups and parsed versions are shared by the packages.
type match struct {
	ctx     context.Context
	src     Source
	brief   BriefSource // nil: src gives whole advisories
	idx     *report.IndexReport
	vs      *versions
	lookups map[lookupKey]*looked
	evals   map[evalKey][]hit
}

// candidate is an entry that holds a package's version, before deduplication.
type candidate struct {
	row   *store.VulnAffected
	fixed string
	eco   string
	repo  *report.Repository
	dist  *report.Distribution
	kind  string
}

// lookupsOf lists how a package is looked up, in each of its environments.
func (m *match) lookupsOf(id string, p *report.Package) []lookup {
	if p == nil {
		return nil
	}
	var out []lookup
	for _, env := range m.idx.Environments[id] {
		repo := ecosystemRepo(m.idx.Repositories, env)
		if repo == nil || repo.Name == "" {
			continue
		}
		name, version, kind := lookupName(repo.Name, p)
		if name == "" || version == "" {
			continue
		}
		out = append(out, lookup{env: env, repo: repo, name: name, version: version, kind: kind})
	}
	return out
}

// lookup is how a package is looked up in one of its environments.
type lookup struct {
	env                 *report.Environment
	repo                *report.Repository
	name, version, kind string
}

// prefetch asks a BriefSource for the entries of every package, one question per ecosystem.
func (m *match) prefetch(ids []string) error {
	if m.brief == nil {
		return nil
	}
	names := map[string]map[string]bool{}
	for _, id := range ids {
		for _, l := range m.lookupsOf(id, m.idx.Packages[id]) {
			if names[l.repo.Name] == nil {
				names[l.repo.Name] = map[string]bool{}
			}
			names[l.repo.Name][l.name] = true
		}
	}
	ecos := make([]string, 0, len(names))
	for eco := range names {
		ecos = append(ecos, eco)
	}
	sort.Strings(ecos)
	for _, eco := range ecos {
		list := make([]string, 0, len(names[eco]))
		for n := range names[eco] {
			list = append(list, n)
		}
		sort.Strings(list)
		rows, err := m.brief.AffectedPackagesBrief(m.ctx, eco, list)
		if err != nil {
			return fmt.Errorf("match %s packages: %w", eco, err)
		}
		byName := map[string][]store.VulnAffected{}
		for _, r := range rows {
			byName[r.Package.Name] = append(byName[r.Package.Name], r)
		}
		for _, n := range list {
			if err := m.remember(eco, n, byName[n]); err != nil {
				return err
			}
		}
	}
	return nil
}

// remember keeps a package's entries with their ranges read.
func (m *match) remember(eco, name string, rows []store.VulnAffected) error {
	l := &looked{rows: rows, ranges: make([][]vulndb.Range, len(rows))}
	for i := range rows {
		var err error
		if l.ranges[i], err = vulndb.DecodeRanges(rows[i].Package.Ranges); err != nil {
			return fmt.Errorf("match %s %s: advisory %s of %s: %w", eco, name, rows[i].Advisory.ID, rows[i].Advisory.Source, err)
		}
	}
	m.lookups[lookupKey{eco, name}] = l
	return nil
}

// candidates returns the entries holding a package's version, in each of its environments.
func (m *match) candidates(id string, p *report.Package) ([]candidate, error) {
	var out []candidate
	for _, l := range m.lookupsOf(id, p) {
		hits, err := m.evaluate(l.repo.Name, l.name, l.version)
		if err != nil {
			return nil, err
		}
		var dist *report.Distribution
		if l.env.DistributionID != "" {
			dist = m.idx.Distributions[l.env.DistributionID]
		}
		for _, h := range hits {
			out = append(out, candidate{row: h.row, fixed: h.fixed, eco: l.repo.Name, repo: l.repo, dist: dist, kind: l.kind})
		}
	}
	return out, nil
}

// texts fills in the advisories of the entries found, when the source left them out. An
// advisory gone since (a concurrent import) keeps only its source and id; the next match,
// which the import's update operation calls for, has it.
func (m *match) texts(found map[string][]candidate) error {
	if m.brief == nil {
		return nil
	}
	rows := map[store.VulnAdvisoryKey][]*store.VulnAffected{}
	for _, cands := range found {
		for _, c := range cands {
			k := store.VulnAdvisoryKey{Source: c.row.Advisory.Source, ID: c.row.Advisory.ID}
			rows[k] = append(rows[k], c.row)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	keys := make([]store.VulnAdvisoryKey, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Source < keys[j].Source || keys[i].Source == keys[j].Source && keys[i].ID < keys[j].ID
	})
	advs, err := m.brief.VulnAdvisories(m.ctx, keys)
	if err != nil {
		return fmt.Errorf("match: %w", err)
	}
	for k, list := range rows {
		a, ok := advs[k]
		if !ok {
			continue
		}
		for _, row := range list {
			row.Advisory = a
		}
	}
	return nil
}

// hit is an advisory's entry that holds a version.
type hit struct {
	row   *store.VulnAffected
	fixed string
}

type evalKey struct{ ecosystem, name, version string }

// evaluate returns the entries of a package's advisories that hold the version: asked of
// the source once per ecosystem and name, evaluated once per version (the binary packages
// of one source package share both).
func (m *match) evaluate(eco, name, version string) ([]hit, error) {
	ek := evalKey{eco, name, version}
	if hits, ok := m.evals[ek]; ok {
		return hits, nil
	}
	k := lookupKey{eco, name}
	if _, ok := m.lookups[k]; !ok {
		rows, err := m.src.AffectedPackages(m.ctx, eco, name)
		if err != nil {
			return nil, fmt.Errorf("match %s %s: %w", eco, name, err)
		}
		if err := m.remember(eco, name, rows); err != nil {
			return nil, err
		}
	}
	l := m.lookups[k]
	var hits []hit
	for i := range l.rows {
		// A range that cannot be read in the ecosystem is skipped: the others answer.
		affected, fixed, _ := m.vs.affects(eco, version, l.ranges[i], l.rows[i].Package.Versions)
		if affected {
			hits = append(hits, hit{row: &l.rows[i], fixed: fixed})
		}
	}
	m.evals[ek] = hits
	return hits, nil
}

// looked is what the source has of one package.
type looked struct {
	rows   []store.VulnAffected
	ranges [][]vulndb.Range
}

// lookupName is the name and version a package is known by in its ecosystem's advisories,
// and whether that is the package itself (BINARY) or its source (SOURCE).
func lookupName(eco string, p *report.Package) (name, version, kind string) {
	family, _, _ := strings.Cut(eco, ":")
	name, version, kind = p.Name, p.Version, report.KindBinary
	if p.Kind == report.KindSource {
		kind = report.KindSource
	}
	hasSource := p.Source != nil && p.Source.Name != ""
	switch family {
	case "Debian", "Ubuntu":
		if hasSource {
			name, kind = p.Source.Name, report.KindSource
			if p.Source.Version != "" {
				version = p.Source.Version
			}
		}
	case "Alpine", "Wolfi", "Chainguard", "MinimOS", "Alpaquita":
		if hasSource {
			name, kind = p.Source.Name, report.KindSource
		}
	case "Go":
		version = strings.TrimPrefix(version, "v")
	}
	return vulndb.NormalizeName(eco, name), version, kind
}

// ecosystemRepo is the repository naming an environment's OSV ecosystem.
func ecosystemRepo(repos map[string]*report.Repository, env *report.Environment) *report.Repository {
	if env == nil {
		return nil
	}
	for _, id := range env.RepositoryIDs {
		if r := repos[id]; r != nil && r.Key == report.EcosystemKey {
			return r
		}
	}
	return nil
}

// better orders two sources' findings of one advisory for one package: a known fix, a
// known severity, a longer description, more links, the lower fixed version; then the
// source's name, so the choice does not depend on order.
func better(vs *versions, a, b candidate) bool {
	if (a.fixed != "") != (b.fixed != "") {
		return a.fixed != ""
	}
	as, bs := a.row.Package.NormalizedSeverity, b.row.Package.NormalizedSeverity
	if (as != report.Unknown) != (bs != report.Unknown) {
		return as != report.Unknown
	}
	if la, lb := len(description(a.row)), len(description(b.row)); la != lb {
		return la > lb
	}
	if la, lb := len(a.row.Advisory.Links), len(b.row.Advisory.Links); la != lb {
		return la > lb
	}
	if a.fixed != b.fixed {
		if c, err := vs.compare(a.eco, a.fixed, b.fixed); err == nil && c != 0 {
			return c < 0
		}
	}
	if a.row.Advisory.Source != b.row.Advisory.Source {
		return a.row.Advisory.Source < b.row.Advisory.Source
	}
	return a.fixed < b.fixed
}

func description(row *store.VulnAffected) string {
	if row.Advisory.Details != "" {
		return row.Advisory.Details
	}
	return row.Advisory.Summary
}

// vulnerability is a candidate as the report shows it.
func (c candidate) vulnerability() *report.Vulnerability {
	a, p := &c.row.Advisory, &c.row.Package
	links := []string{vulndb.AdvisoryLink(c.eco, a.ID)}
	for _, l := range a.Links {
		if l != links[0] {
			links = append(links, l)
		}
	}
	v := &report.Vulnerability{
		Updater:            a.Source,
		Name:               a.ID,
		Description:        description(c.row),
		Links:              strings.Join(links, " "),
		Severity:           p.Severity,
		NormalizedSeverity: p.NormalizedSeverity,
		Package:            &report.Package{Name: p.Name, Kind: c.kind},
		Distribution:       c.dist,
		Repository:         c.repo,
		FixedInVersion:     c.fixed,
	}
	if !a.Published.IsZero() {
		t := a.Published
		v.Issued = &t
	}
	distID := ""
	if c.dist != nil {
		distID = c.dist.ID
	}
	h := sha256.New()
	for _, s := range []string{a.Source, a.ID, p.Ecosystem, p.Name, c.kind, c.fixed, distID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	v.ID = hex.EncodeToString(h.Sum(nil)[:12])
	return v
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
