package configtool

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/wharf-registry/wharf/schema"
)

// Status words of a report as a whole, in Summary and in JSON.
const (
	ReportValid       = "valid"
	ReportInvalid     = "invalid"
	ReportUnreachable = "unreachable"
)

// State is "valid", "invalid" or "unreachable", as ExitCode tells them apart.
func (r *Report) State() string {
	switch r.ExitCode() {
	case ExitInvalid:
		return ReportInvalid
	case ExitUnreachable:
		return ReportUnreachable
	}
	return ReportValid
}

// Summary is the report in one line: "valid: ...", "invalid: N problems" or "unreachable: N
// checks failed".
func (r *Report) Summary() string {
	count := func(s Status) int {
		n := 0
		for _, c := range r.Checks {
			if c.Status == s {
				n++
			}
		}
		return n
	}
	switch r.State() {
	case ReportInvalid:
		return fmt.Sprintf("%s: %s", ReportInvalid, plural(len(r.Problems), "problem", "problems"))
	case ReportUnreachable:
		return fmt.Sprintf("%s: %s failed", ReportUnreachable, plural(count(StatusFailed), "check", "checks"))
	}
	if len(r.Checks) == 0 {
		return ReportValid + ": no reachability checks ran"
	}
	return fmt.Sprintf("%s: %s passed, %d skipped", ReportValid, plural(count(StatusOK), "check", "checks"), count(StatusSkipped))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ProblemLine formats a problem as FILE:LINE: PATH: MESSAGE. Problems about the files beside
// config.yaml (ssl.cert, ssl.key, extra_ca_certs/NAME) name that file instead.
func ProblemLine(p schema.Problem) string {
	if isSideFile(p.Path) {
		return p.Path + ": " + p.Message
	}
	where := ConfigFile
	if p.Line > 0 {
		where = fmt.Sprintf("%s:%d", ConfigFile, p.Line)
	}
	if p.Path == "" {
		return where + ": " + p.Message
	}
	return where + ": " + p.Path + ": " + p.Message
}

// lineOrder sorts problems by line, those without one (other files) last.
func lineOrder(p schema.Problem) int {
	if p.Line > 0 {
		return p.Line
	}
	return math.MaxInt
}

func isSideFile(path string) bool {
	return path == CertFile || path == KeyFile || strings.HasPrefix(path, ExtraCADir+"/")
}

// CheckLine formats a check as "ok|FAILED|skipped GROUP CHECK: MESSAGE".
func CheckLine(c Result) string {
	word := map[Status]string{StatusOK: "ok", StatusFailed: "FAILED", StatusSkipped: "skipped"}[c.Status]
	if word == "" {
		word = string(c.Status)
	}
	return fmt.Sprintf("%-7s %s %s: %s", word, c.Group, c.Check, c.Message)
}

// WriteText writes the report for people: what was validated, then each field group's
// problems and checks, then the summary line.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	where := ConfigFile
	if r.Dir != "" {
		where += " in " + r.Dir
	}
	fmt.Fprintf(&b, "Validated %s\n", where)
	groups := append([]string{""}, Groups...)
	for _, c := range r.Checks { // groups a check may name beyond Groups
		if groupIndex(c.Group) == len(Groups) && !contains(groups, c.Group) {
			groups = append(groups, c.Group)
		}
	}
	for _, g := range groups {
		problems := r.ProblemsIn(g)
		sort.SliceStable(problems, func(i, j int) bool { return lineOrder(problems[i]) < lineOrder(problems[j]) })
		var results []Result
		for _, c := range r.Checks {
			if c.Group == g {
				results = append(results, c)
			}
		}
		var warnings []schema.Problem
		for _, w := range r.Warnings {
			if GroupOf(w.Path) == g {
				warnings = append(warnings, w)
			}
		}
		if len(problems) == 0 && len(results) == 0 && len(warnings) == 0 {
			continue
		}
		name := g
		if name == "" {
			name = "document"
		}
		fmt.Fprintf(&b, "\n%s\n", name)
		for _, p := range problems {
			fmt.Fprintf(&b, "  %s\n", ProblemLine(p))
		}
		for _, w := range warnings {
			fmt.Fprintf(&b, "  warning: %s\n", ProblemLine(w))
		}
		for _, c := range results {
			fmt.Fprintf(&b, "  %s\n", CheckLine(c))
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonReport is the report as `--json` prints it: the report, its state and exit code.
type jsonReport struct {
	*Report
	State    string `json:"state"`
	ExitCode int    `json:"exit_code"`
}

// WriteJSON writes the report as one JSON object: dir, problems, checks, state (valid,
// invalid or unreachable) and exit_code.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{Report: r, State: r.State(), ExitCode: r.ExitCode()})
}
