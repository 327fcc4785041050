package vulndb

import (
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/wharf-registry/wharf/scanner/report"
)

// SeverityInput is what a record says about how severe it is, for one affected package.
type SeverityInput struct {
	// Rating is the distribution's own rating: Debian's urgency, Ubuntu's priority.
	Rating string
	// Vectors are CVSS vectors by OSV severity type ("CVSS_V3": "CVSS:3.1/AV:N/...").
	Vectors map[string]string
	// Word is a database's severity word (GitHub's "CRITICAL", "HIGH", "MODERATE", "LOW").
	Word string
}

// NormalizeSeverity returns the vendor's severity string and its level. The distribution's
// rating wins when it is assigned (Debian: unimportant, low, medium, high; "not yet
// assigned" and "end-of-life" are not ratings); else the CVSS base score (v3, else v4, else
// v2: Critical from 9.0, High from 7.0, Medium from 4.0, Low above 0, Negligible at 0); else
// the database's word; else Unknown, with the unassigned rating as the vendor string.
func NormalizeSeverity(in SeverityInput) (string, report.Severity) {
	if lvl, ok := ratingLevel(in.Rating); ok {
		return in.Rating, lvl
	}
	for _, typ := range []string{"CVSS_V3", "CVSS_V4", "CVSS_V2"} {
		if v := in.Vectors[typ]; v != "" {
			if score, ok := CVSSScore(v); ok {
				return v, scoreLevel(score)
			}
		}
	}
	if lvl, ok := wordLevel(in.Word); ok {
		return in.Word, lvl
	}
	return in.Rating, report.Unknown
}

// ratingLevel reads a distribution's rating (Debian's urgency; Ubuntu's priorities are the
// same words and "negligible", "critical").
func ratingLevel(r string) (report.Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(strings.TrimRight(r, "*"))) {
	case "unimportant", "negligible":
		return report.Negligible, true
	case "low":
		return report.Low, true
	case "medium":
		return report.Medium, true
	case "high":
		return report.High, true
	case "critical":
		return report.Critical, true
	}
	return report.Unknown, false
}

func wordLevel(w string) (report.Severity, bool) {
	switch strings.ToUpper(strings.TrimSpace(w)) {
	case "CRITICAL":
		return report.Critical, true
	case "HIGH", "IMPORTANT":
		return report.High, true
	case "MODERATE", "MEDIUM":
		return report.Medium, true
	case "LOW":
		return report.Low, true
	case "NEGLIGIBLE", "NONE":
		return report.Negligible, true
	}
	return report.Unknown, false
}

func scoreLevel(score float64) report.Severity {
	switch {
	case score >= 9.0:
		return report.Critical
	case score >= 7.0:
		return report.High
	case score >= 4.0:
		return report.Medium
	case score > 0:
		return report.Low
	}
	return report.Negligible
}

// CVSSScore returns the base score of a CVSS v2, v3.0, v3.1 or v4.0 vector; false when the
// vector is not valid.
func CVSSScore(vector string) (float64, bool) {
	vector = strings.TrimSpace(vector)
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		if c, err := gocvss31.ParseVector(vector); err == nil {
			return c.BaseScore(), true
		}
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		if c, err := gocvss30.ParseVector(vector); err == nil {
			return c.BaseScore(), true
		}
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		if c, err := gocvss40.ParseVector(vector); err == nil {
			return c.Score(), true
		}
	default:
		v2 := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(vector, "CVSS:2.0/"), "("), ")")
		if c, err := gocvss20.ParseVector(v2); err == nil {
			return c.BaseScore(), true
		}
	}
	return 0, false
}
