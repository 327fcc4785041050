package ui

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
)

// severities are Quay's severity levels, worst first.
var severities = []string{"Critical", "High", "Medium", "Low", "Negligible", "Unknown"}

// securityJSON is the API's manifest security document (Quay's shape).
type securityJSON struct {
	Status string `json:"status"`
	Data   *struct {
		Layer struct {
			Features []struct {
				Name            string `json:"Name"`
				Version         string `json:"Version"`
				NamespaceName   string `json:"NamespaceName"`
				AddedBy         string `json:"AddedBy"`
				Vulnerabilities []struct {
					Name        string `json:"Name"`
					Severity    string `json:"Severity"`
					FixedBy     string `json:"FixedBy"`
					Link        string `json:"Link"`
					Description string `json:"Description"`
				} `json:"Vulnerabilities"`
			} `json:"Features"`
		} `json:"Layer"`
	} `json:"data"`
}

// Finding is one vulnerability of one package.
type Finding struct {
	ID, Severity, Package, Version, FixedBy, Link, Description, Layer, Namespace string
}

// SeverityGroup is the findings of one severity.
type SeverityGroup struct {
	Severity string
	Findings []Finding
}

// SeverityCount is how many findings have a severity.
type SeverityCount struct {
	Severity string
	Count    int
}

type securityData struct {
	Repo     *repoInfo
	Digest   string
	Status   string
	Off      bool
	Packages int
	Total    int
	Fixable  int
	Counts   []SeverityCount
	Groups   []SeverityGroup
	// Filter state and links.
	FixableOnly bool
	Severity    string
	AllURL      string
	FixableURL  string
	SevURLs     map[string]string
}

// repoSecurityPage shows a manifest's vulnerability report grouped by severity.
func (u *UI) repoSecurityPage(q *request, repo *repoInfo, digest string) error {
	d := securityData{Repo: repo, Digest: digest}
	var doc securityJSON
	err := q.get(repo.API()+"/manifest/"+digest+"/security", url.Values{"vulnerabilities": {"true"}}, &doc)
	var e *api.Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusNotFound && !u.opts.Security:
		d.Off = true
	case errors.As(err, &e) && e.Status == http.StatusNotFound:
		return notFound("Manifest " + shortDigest(digest))
	case err != nil:
		return err
	default:
		d.Status = doc.Status
	}
	in := q.r.URL.Query()
	d.FixableOnly, d.Severity = in.Get("fixable") == "1", in.Get("severity")
	all := summarize(doc)
	d.Packages, d.Total, d.Fixable = all.packages, len(all.findings), all.fixable
	d.Counts = countSeverities(all.findings)
	d.Groups = groupFindings(filterFindings(all.findings, d.FixableOnly, d.Severity))
	base := repo.URL() + "/manifest/" + digest
	link := func(fixable bool, sev string) string {
		v := url.Values{}
		if fixable {
			v.Set("fixable", "1")
		}
		if sev != "" {
			v.Set("severity", sev)
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	d.AllURL, d.FixableURL = link(false, d.Severity), link(true, d.Severity)
	d.SevURLs = map[string]string{"": link(d.FixableOnly, "")}
	for _, s := range severities {
		d.SevURLs[s] = link(d.FixableOnly, s)
	}
	repo.Tab = "tags"
	return q.render(http.StatusOK, "repo_security", "Security of "+repo.Full+"@"+shortDigest(digest), "repositories", d)
}

type summary struct {
	findings []Finding
	packages int
	fixable  int
}

// summarize lists every finding of a report, each package's vulnerabilities once.
func summarize(doc securityJSON) summary {
	var s summary
	if doc.Data == nil {
		return s
	}
	for _, f := range doc.Data.Layer.Features {
		s.packages++
		for _, v := range f.Vulnerabilities {
			link := v.Link
			if i := strings.IndexAny(link, " \t\n"); i >= 0 {
				link = link[:i]
			}
			if !strings.HasPrefix(link, "https://") && !strings.HasPrefix(link, "http://") {
				link = ""
			}
			sev := v.Severity
			if !knownSeverity(sev) {
				sev = "Unknown"
			}
			s.findings = append(s.findings, Finding{ID: v.Name, Severity: sev, Package: f.Name, Version: f.Version, FixedBy: v.FixedBy,
				Link: link, Description: v.Description, Layer: f.AddedBy, Namespace: f.NamespaceName})
			if v.FixedBy != "" {
				s.fixable++
			}
		}
	}
	return s
}

func knownSeverity(s string) bool {
	for _, k := range severities {
		if k == s {
			return true
		}
	}
	return false
}

// countSeverities counts findings per severity, worst first, every level listed.
func countSeverities(fs []Finding) []SeverityCount {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	out := make([]SeverityCount, 0, len(severities))
	for _, s := range severities {
		out = append(out, SeverityCount{Severity: s, Count: n[s]})
	}
	return out
}

// filterFindings keeps the fixable findings (when fixable) of one severity (when sev).
func filterFindings(fs []Finding, fixable bool, sev string) []Finding {
	var out []Finding
	for _, f := range fs {
		if (fixable && f.FixedBy == "") || (sev != "" && f.Severity != sev) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// groupFindings groups findings by severity, worst first; in a group, by id then package.
func groupFindings(fs []Finding) []SeverityGroup {
	by := map[string][]Finding{}
	for _, f := range fs {
		by[f.Severity] = append(by[f.Severity], f)
	}
	var out []SeverityGroup
	for _, s := range severities {
		g := by[s]
		if len(g) == 0 {
			continue
		}
		sort.Slice(g, func(i, j int) bool {
			if g[i].ID != g[j].ID {
				return g[i].ID > g[j].ID
			}
			return g[i].Package < g[j].Package
		})
		out = append(out, SeverityGroup{Severity: s, Findings: g})
	}
	return out
}
