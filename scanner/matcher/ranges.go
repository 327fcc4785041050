package matcher

import (
	"errors"
	"fmt"
	"sort"

	"github.com/google/osv-scalibr/semantic"

	"github.com/wharf-registry/wharf/scanner/vulndb"
)

// versions parses and caches versions, by the ecosystem (or SEMVER) they are read in.
type versions struct {
	cache map[versionKey]parsed
}

type versionKey struct{ scheme, version string }

type parsed struct {
	v   semantic.Version
	err error
}

func newVersions() *versions { return &versions{cache: map[versionKey]parsed{}} }

// parse reads a version in a scheme: an OSV ecosystem ("Debian:12") or "SEMVER".
func (vs *versions) parse(scheme, version string) (semantic.Version, error) {
	k := versionKey{scheme, version}
	if p, ok := vs.cache[k]; ok {
		return p.v, p.err
	}
	var p parsed
	if scheme == vulndb.RangeSemver {
		p.v = semantic.ParseSemverVersion(version)
	} else {
		p.v, p.err = semantic.Parse(version, scheme)
	}
	vs.cache[k] = p
	return p.v, p.err
}

// compare orders two versions of an ecosystem.
func (vs *versions) compare(ecosystem, a, b string) (int, error) {
	va, err := vs.parse(ecosystem, a)
	if err != nil {
		return 0, err
	}
	vb, err := vs.parse(ecosystem, b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb)
}

// schemeOf is how a range's versions are read: SEMVER ranges as semantic versions,
// ECOSYSTEM ranges by the ecosystem's rules.
func schemeOf(r vulndb.Range, ecosystem string) string {
	if r.Type == vulndb.RangeSemver {
		return vulndb.RangeSemver
	}
	return ecosystem
}

// Affects reports whether version is affected by an advisory's entry for a package of an
// ecosystem: it is one of the listed versions, or inside one of the ranges (OSV's rules:
// events in version order, introduced "0" being the beginning). fixed is the fixed event
// ending the range that holds version, "" when there is none (unfixed, or ended by
// last_affected). Ranges whose versions cannot be read in the ecosystem are skipped; the
// first such problem comes back as err, with the answer of the other ranges.
func Affects(ecosystem, version string, ranges []vulndb.Range, listed []string) (affected bool, fixed string, err error) {
	return newVersions().affects(ecosystem, version, ranges, listed)
}

func (vs *versions) affects(ecosystem, version string, ranges []vulndb.Range, listed []string) (bool, string, error) {
	inList := false
	for _, l := range listed {
		if l == version {
			inList = true
			break
		}
	}
	var firstErr error
	for _, r := range ranges {
		in, fixed, err := vs.inRange(schemeOf(r, ecosystem), version, r)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in {
			return true, fixed, nil
		}
	}
	return inList, "", firstErr
}

// event is a range event with its version read.
type event struct {
	vulndb.Event
	v    semantic.Version // nil for introduced "0"
	text string
}

// inRange evaluates one range.
func (vs *versions) inRange(scheme, version string, r vulndb.Range) (bool, string, error) {
	if r.Type != vulndb.RangeEcosystem && r.Type != vulndb.RangeSemver {
		return false, "", fmt.Errorf("range type %q cannot be evaluated", r.Type)
	}
	installed, err := vs.parse(scheme, version)
	if err != nil {
		return false, "", fmt.Errorf("version %q: %w", version, err)
	}
	events := make([]event, 0, len(r.Events))
	for _, e := range r.Events {
		ev := event{Event: e}
		switch {
		case e.Introduced != "":
			ev.text = e.Introduced
		case e.Fixed != "":
			ev.text = e.Fixed
		case e.LastAffected != "":
			ev.text = e.LastAffected
		case e.Limit != "":
			ev.text = e.Limit
		default:
			return false, "", errors.New("an empty event")
		}
		if e.Introduced != "0" {
			if ev.v, err = vs.parse(scheme, ev.text); err != nil {
				return false, "", fmt.Errorf("event version %q: %w", ev.text, err)
			}
		}
		events = append(events, ev)
	}
	var cmpErr error
	compare := func(a, b semantic.Version) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		case b == nil:
			return 1
		}
		c, err := a.Compare(b)
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		return c
	}
	sort.SliceStable(events, func(i, j int) bool { return compare(events[i].v, events[j].v) < 0 })
	affected, last := false, -1
	for i, ev := range events {
		c := compare(installed, ev.v) // installed vs the event
		switch {
		case ev.Limit != "":
			if c >= 0 {
				return false, "", cmpErr
			}
		case ev.Introduced != "":
			if c >= 0 {
				affected, last = true, i
			}
		case ev.Fixed != "":
			if c >= 0 {
				affected, last = false, i
			}
		case ev.LastAffected != "":
			if c > 0 {
				affected, last = false, i
			}
		}
	}
	if cmpErr != nil {
		return false, "", cmpErr
	}
	if !affected {
		return false, "", nil
	}
	for _, ev := range events[last+1:] {
		switch {
		case ev.Fixed != "":
			return true, ev.Fixed, nil
		case ev.LastAffected != "":
			return true, "", nil
		}
	}
	return true, "", nil
}
