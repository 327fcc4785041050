package vulndb

import (
	"math"
	"testing"

	"github.com/wharf-registry/wharf/scanner/report"
)

const (
	v31Critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"                    // 9.8
	v31High     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"                    // 7.5
	v31Medium   = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"                    // 6.1
	v31Low      = "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"                    // 1.8
	v31None     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"                    // 0.0
	v30High     = "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"                    // 7.5
	v2High      = "AV:N/AC:L/Au:N/C:P/I:P/A:P"                                      // 7.5
	v40Critical = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" // 9.3
)

func TestCVSSScore(t *testing.T) {
	for _, tc := range []struct {
		vector string
		score  float64
		ok     bool
	}{
		{v31Critical, 9.8, true},
		{v31High, 7.5, true},
		{v31Medium, 6.1, true},
		{v31Low, 1.8, true},
		{v31None, 0, true},
		{v30High, 7.5, true},
		{v2High, 7.5, true},
		{"(" + v2High + ")", 7.5, true},
		{v40Critical, 9.3, true},
		{"CVSS:3.1/AV:N", 0, false},
		{"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 0, false},
		{"high", 0, false},
		{"", 0, false},
	} {
		score, ok := CVSSScore(tc.vector)
		if ok != tc.ok || math.Abs(score-tc.score) > 0.01 {
			t.Errorf("CVSSScore(%q) = %v, %v; want %v, %v", tc.vector, score, ok, tc.score, tc.ok)
		}
	}
}

func TestNormalizeSeverity(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     SeverityInput
		vendor string
		level  report.Severity
	}{
		{"debian unimportant", SeverityInput{Rating: "unimportant", Vectors: map[string]string{"CVSS_V3": v31Critical}}, "unimportant", report.Negligible},
		{"debian low over cvss", SeverityInput{Rating: "low", Vectors: map[string]string{"CVSS_V3": v31Critical}}, "low", report.Low},
		{"debian medium", SeverityInput{Rating: "medium"}, "medium", report.Medium},
		{"debian high", SeverityInput{Rating: "high"}, "high", report.High},
		{"debian rating with a star", SeverityInput{Rating: "low*"}, "low*", report.Low},
		{"ubuntu critical", SeverityInput{Rating: "critical"}, "critical", report.Critical},
		{"not yet assigned: cvss", SeverityInput{Rating: "not yet assigned", Vectors: map[string]string{"CVSS_V3": v31Critical}}, v31Critical, report.Critical},
		{"end-of-life: cvss", SeverityInput{Rating: "end-of-life", Vectors: map[string]string{"CVSS_V3": v31Medium}}, v31Medium, report.Medium},
		{"not yet assigned, nothing else", SeverityInput{Rating: "not yet assigned"}, "not yet assigned", report.Unknown},
		{"cvss 3.1 high", SeverityInput{Vectors: map[string]string{"CVSS_V3": v31High}}, v31High, report.High},
		{"cvss 3.1 low", SeverityInput{Vectors: map[string]string{"CVSS_V3": v31Low}}, v31Low, report.Low},
		{"cvss zero", SeverityInput{Vectors: map[string]string{"CVSS_V3": v31None}}, v31None, report.Negligible},
		{"cvss 3.0", SeverityInput{Vectors: map[string]string{"CVSS_V3": v30High}}, v30High, report.High},
		{"cvss 2", SeverityInput{Vectors: map[string]string{"CVSS_V2": v2High}}, v2High, report.High},
		{"cvss 4", SeverityInput{Vectors: map[string]string{"CVSS_V4": v40Critical}}, v40Critical, report.Critical},
		{"v3 before v4 and v2", SeverityInput{Vectors: map[string]string{"CVSS_V4": v40Critical, "CVSS_V3": v31Low, "CVSS_V2": v2High}}, v31Low, report.Low},
		{"bad v3, good v2", SeverityInput{Vectors: map[string]string{"CVSS_V3": "CVSS:3.1/junk", "CVSS_V2": v2High}}, v2High, report.High},
		{"bad vector, word", SeverityInput{Vectors: map[string]string{"CVSS_V3": "junk"}, Word: "MODERATE"}, "MODERATE", report.Medium},
		{"ghsa critical", SeverityInput{Word: "CRITICAL"}, "CRITICAL", report.Critical},
		{"ghsa high", SeverityInput{Word: "HIGH"}, "HIGH", report.High},
		{"ghsa low", SeverityInput{Word: "low"}, "low", report.Low},
		{"unknown word", SeverityInput{Word: "spicy"}, "", report.Unknown},
		{"nothing", SeverityInput{}, "", report.Unknown},
	} {
		vendor, level := NormalizeSeverity(tc.in)
		if vendor != tc.vendor || level != tc.level {
			t.Errorf("%s: NormalizeSeverity = %q, %s; want %q, %s", tc.name, vendor, level, tc.vendor, tc.level)
		}
	}
}
