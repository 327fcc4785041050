package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// osvRecord is the part of an OSV record (https://ossf.github.io/osv-schema/) the scanner
// reads.
type osvRecord struct {
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Published        string          `json:"published"`
	Withdrawn        string          `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	References       []osvReference  `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Severity          []osvSeverity   `json:"severity"`
	Ranges            []osvRange      `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced   *string `json:"introduced"`
	Fixed        *string `json:"fixed"`
	LastAffected *string `json:"last_affected"`
	Limit        *string `json:"limit"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// InvalidError is a record that is OSV (or secdb) but breaks the format's rules: the import
// skips it and reports it.
type InvalidError struct {
	Name string // the record's id, or where it was read
	Err  error
}

func (e *InvalidError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// ParseOSV reads one OSV record. A document that is not an OSV record is an error; an OSV
// record that breaks the schema's rules is an *InvalidError.
func ParseOSV(data []byte) (Advisory, error) {
	var rec osvRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return Advisory{}, decodeError(data, err)
	}
	if !rec.looksOSV() {
		return Advisory{}, errors.New("not an OSV record: no id, modified or affected")
	}
	return rec.advisory()
}

// decodeError tells a JSON object with a string id and a modified time, an OSV record with
// a field of the wrong type (an *InvalidError), from anything else, which is not OSV.
func decodeError(data []byte, err error) error {
	var probe struct {
		ID       string `json:"id"`
		Modified string `json:"modified"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.ID != "" && probe.Modified != "" {
		return &InvalidError{Name: probe.ID, Err: err}
	}
	return fmt.Errorf("not an OSV record: %w", err)
}

// looksOSV reports whether a decoded document has any of the fields every OSV record has.
func (rec *osvRecord) looksOSV() bool {
	return rec.ID != "" || rec.Modified != "" || rec.Affected != nil
}

// advisory converts and checks a decoded record.
func (rec *osvRecord) advisory() (Advisory, error) {
	name := rec.ID
	if name == "" {
		name = "(no id)"
	}
	invalid := func(format string, args ...any) (Advisory, error) {
		return Advisory{}, &InvalidError{Name: name, Err: fmt.Errorf(format, args...)}
	}
	if rec.ID == "" {
		return invalid("no id")
	}
	if strings.ContainsAny(rec.ID, " \t\r\n/") || len(rec.ID) > 200 {
		return invalid("id %q is not an OSV id", rec.ID)
	}
	a := Advisory{Source: SourceOSV, ID: rec.ID, Summary: strings.TrimSpace(rec.Summary), Details: strings.TrimSpace(rec.Details)}
	var err error
	if rec.Modified == "" {
		return invalid("no modified time")
	}
	if a.Modified, err = parseTime(rec.Modified); err != nil {
		return invalid("modified: %v", err)
	}
	if rec.Published != "" {
		if a.Published, err = parseTime(rec.Published); err != nil {
			return invalid("published: %v", err)
		}
	}
	if rec.Withdrawn != "" {
		if a.Withdrawn, err = parseTime(rec.Withdrawn); err != nil {
			return invalid("withdrawn: %v", err)
		}
	}
	for _, al := range rec.Aliases {
		if al = strings.TrimSpace(al); al == "" || al == a.ID {
			continue
		}
		if strings.ContainsAny(al, " \t\r\n") {
			return invalid("alias %q is not an id", al)
		}
		a.Aliases = append(a.Aliases, al)
	}
	vectors := map[string]string{}
	for _, s := range rec.Severity {
		vectors[s.Type] = s.Score
	}
	word := severityWord(rec.DatabaseSpecific)
	for i, af := range rec.Affected {
		eco, pkg := strings.TrimSpace(af.Package.Ecosystem), strings.TrimSpace(af.Package.Name)
		if eco == "" && pkg == "" {
			continue // a GIT-only entry: no package to match
		}
		if eco == "" || pkg == "" {
			return invalid("affected[%d]: a package needs both an ecosystem and a name", i)
		}
		out := Affected{Ecosystem: eco, Package: NormalizeName(eco, pkg)}
		for j, r := range af.Ranges {
			rg, keep, err := convertRange(r)
			if err != nil {
				return invalid("affected[%d] (%s %s) ranges[%d]: %v", i, eco, pkg, j, err)
			}
			if keep {
				out.Ranges = append(out.Ranges, rg)
			}
		}
		for _, v := range af.Versions {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if strings.ContainsAny(v, " \t\r\n") {
				return invalid("affected[%d] (%s %s): version %q has white space", i, eco, pkg, v)
			}
			out.Versions = append(out.Versions, v)
		}
		if len(out.Ranges) == 0 && len(out.Versions) == 0 {
			continue // only GIT ranges: nothing to compare installed versions with
		}
		in := SeverityInput{Vectors: vectors, Word: word, Rating: urgency(af.EcosystemSpecific)}
		if len(af.Severity) > 0 {
			in.Vectors = map[string]string{}
			for _, s := range af.Severity {
				if s.Type == "Ubuntu" {
					in.Rating = s.Score
					continue
				}
				in.Vectors[s.Type] = s.Score
			}
			for t, v := range vectors {
				if _, ok := in.Vectors[t]; !ok {
					in.Vectors[t] = v
				}
			}
		}
		if w := severityWord(af.DatabaseSpecific); w != "" {
			in.Word = w
		}
		out.Severity, out.NormalizedSeverity = NormalizeSeverity(in)
		a.Affected = append(a.Affected, out)
	}
	a.Links = osvLinks(rec, a.Affected)
	return a, nil
}

// convertRange checks an OSV range; GIT ranges are checked and dropped (keep false).
func convertRange(r osvRange) (Range, bool, error) {
	switch r.Type {
	case RangeEcosystem, RangeSemver, "GIT":
	case "":
		return Range{}, false, errors.New("no type")
	default:
		return Range{}, false, fmt.Errorf("unknown type %q", r.Type)
	}
	if len(r.Events) == 0 {
		return Range{}, false, errors.New("no events")
	}
	out := Range{Type: r.Type, Events: make([]Event, 0, len(r.Events))}
	introduced := false
	for k, ev := range r.Events {
		var e Event
		set := 0
		for _, f := range []struct {
			key string
			v   *string
			dst *string
		}{{"introduced", ev.Introduced, &e.Introduced}, {"fixed", ev.Fixed, &e.Fixed},
			{"last_affected", ev.LastAffected, &e.LastAffected}, {"limit", ev.Limit, &e.Limit}} {
			if f.v == nil {
				continue
			}
			set++
			if *f.dst = strings.TrimSpace(*f.v); *f.dst == "" {
				return Range{}, false, fmt.Errorf("events[%d]: empty %s", k, f.key)
			}
		}
		if set != 1 {
			return Range{}, false, fmt.Errorf("events[%d] has %d of introduced, fixed, last_affected and limit, want one", k, set)
		}
		introduced = introduced || e.Introduced != ""
		out.Events = append(out.Events, e)
	}
	if !introduced {
		return Range{}, false, errors.New("no introduced event")
	}
	return out, r.Type != "GIT", nil
}

// urgency reads Debian's ecosystem_specific.urgency.
func urgency(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var es struct {
		Urgency json.RawMessage `json:"urgency"`
	}
	if json.Unmarshal(raw, &es) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(es.Urgency, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// severityWord reads database_specific.severity when it is a string (GitHub's words).
func severityWord(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var ds struct {
		Severity json.RawMessage `json:"severity"`
	}
	if json.Unmarshal(raw, &ds) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(ds.Severity, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// osvLinks is the advisory's page (for the ecosystem its id or its packages name) then its
// references' URLs, without repeats.
func osvLinks(rec *osvRecord, affected []Affected) []string {
	seen := map[string]bool{}
	var links []string
	add := func(u string) {
		if u = strings.TrimSpace(u); u != "" && !strings.ContainsAny(u, " \t\r\n") && !seen[u] {
			seen[u] = true
			links = append(links, u)
		}
	}
	add(AdvisoryLink(homeEcosystem(rec.ID, affected), rec.ID))
	for _, r := range rec.References {
		add(r.URL)
	}
	return links
}

// homeEcosystem guesses the ecosystem whose database an advisory comes from: by its id's
// prefix, else the ecosystem most of its packages are in.
func homeEcosystem(id string, affected []Affected) string {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "DSA", "DLA", "DTSA", "DEBIAN":
		return "Debian"
	case "GO":
		return "Go"
	case "ALPINE":
		return "Alpine"
	}
	count := map[string]int{}
	best := ""
	for _, af := range affected {
		eco, _, _ := strings.Cut(af.Ecosystem, ":")
		count[eco]++
		if count[eco] > count[best] || (count[eco] == count[best] && eco < best) {
			best = eco
		}
	}
	return best
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}
