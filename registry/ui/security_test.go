package ui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const reportJSON = `{"status":"scanned","data":{"Layer":{"Features":[
 {"Name":"openssl","Version":"3.1.4-r0","AddedBy":"sha256:aaaaaaaaaaaaaaaa","Vulnerabilities":[
   {"Name":"CVE-2024-0727","Severity":"Medium","FixedBy":"3.1.4-r5","Link":"https://security.alpinelinux.org/vuln/CVE-2024-0727 https://example.test/x"},
   {"Name":"CVE-2023-6129","Severity":"High","FixedBy":"","Link":"javascript:alert(1)"}]},
 {"Name":"zlib","Version":"1.3-r2","AddedBy":"sha256:bbbbbbbbbbbbbbbb","Vulnerabilities":[
   {"Name":"CVE-2023-1","Severity":"Weird","FixedBy":"1.3.1-r0"}]},
 {"Name":"musl","Version":"1.2.4-r2","AddedBy":"sha256:aaaaaaaaaaaaaaaa"}]}}}`

func TestSecuritySummary(t *testing.T) {
	var doc securityJSON
	if err := json.Unmarshal([]byte(reportJSON), &doc); err != nil {
		t.Fatal(err)
	}
	s := summarize(doc)
	if s.packages != 3 || len(s.findings) != 3 || s.fixable != 2 {
		t.Fatalf("summary: %d packages, %d findings, %d fixable", s.packages, len(s.findings), s.fixable)
	}
	byID := map[string]Finding{}
	for _, f := range s.findings {
		byID[f.ID] = f
	}
	if f := byID["CVE-2024-0727"]; f.Link != "https://security.alpinelinux.org/vuln/CVE-2024-0727" || f.Layer != "sha256:aaaaaaaaaaaaaaaa" || f.Package != "openssl" {
		t.Errorf("CVE-2024-0727: %+v", f)
	}
	if f := byID["CVE-2023-6129"]; f.Link != "" {
		t.Errorf("a javascript: link was kept: %q", f.Link)
	}
	if f := byID["CVE-2023-1"]; f.Severity != "Unknown" {
		t.Errorf("an unknown severity became %q", f.Severity)
	}
	cases := []struct {
		name    string
		fixable bool
		sev     string
		want    []string // severities of the groups, in order
		n       int
	}{
		{"all", false, "", []string{"High", "Medium", "Unknown"}, 3},
		{"fixable", true, "", []string{"Medium", "Unknown"}, 2},
		{"high", false, "High", []string{"High"}, 1},
		{"fixable high", true, "High", nil, 0},
	}
	for _, c := range cases {
		groups := groupFindings(filterFindings(s.findings, c.fixable, c.sev))
		var got []string
		n := 0
		for _, g := range groups {
			got = append(got, g.Severity)
			n += len(g.Findings)
		}
		if len(got) != len(c.want) || n != c.n {
			t.Errorf("%s: groups %v (%d findings), want %v (%d)", c.name, got, n, c.want, c.n)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: groups %v, want %v", c.name, got, c.want)
			}
		}
	}
	counts := countSeverities(s.findings)
	if len(counts) != 6 || counts[1].Severity != "High" || counts[1].Count != 1 || counts[5].Count != 1 {
		t.Errorf("counts: %+v", counts)
	}
}

func TestLogDetail(t *testing.T) {
	cases := []struct {
		meta map[string]any
		want string
	}{
		{map[string]any{"tag": "latest", "manifest_digest": "sha256:0123456789abcdef0123", "repo": "web", "namespace": "acme"}, "tag latest → sha256:0123456789ab"},
		{map[string]any{"role": "write", "team": "builders", "repo": "web"}, "role write for builders"},
		{map[string]any{"role": "read", "username": "acme+ci"}, "role read for acme+ci"},
		{map[string]any{"visibility": "public"}, "now public"},
		{map[string]any{"robot": "acme+ci", "description": "x"}, "description x, robot acme+ci"},
		{map[string]any{"tags": []any{"latest", "v1"}, "manifest_digest": "sha256:0123456789abcdef0123", "useragent": "skopeo"}, "tag latest, v1 → sha256:0123456789ab, useragent skopeo"},
		{map[string]any{}, ""},
	}
	for _, c := range cases {
		if got := logDetail(c.meta); got != c.want {
			t.Errorf("logDetail(%v) = %q, want %q", c.meta, got, c.want)
		}
	}
	if actionWords("push_repo") != "Push" || actionWords("some_new_thing") != "Some new thing" {
		t.Error("actionWords")
	}
}

func TestRepoHelpers(t *testing.T) {
	children := indexChildren(`{"manifests":[{"digest":"sha256:a","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},{"digest":"sha256:b","platform":{"os":"linux","architecture":"amd64"}},{"digest":"sha256:c"}]}`)
	if len(children) != 3 || children[0].Platform != "linux/arm64/v8" || children[1].Platform != "linux/amd64" || children[2].Platform != "unknown" {
		t.Errorf("indexChildren: %+v", children)
	}
	if indexChildren("not json") != nil {
		t.Error("indexChildren of garbage")
	}
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"2w", 14 * 24 * time.Hour, true}, {"1d", 24 * time.Hour, true}, {"30m", 30 * time.Minute, true}, {"0d", 0, false}, {"x", 0, false}, {"5y", 0, false}} {
		got, err := parseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseDuration(%q) = %v, %v", c.in, got, err)
		}
	}
	if exp, msg, err := expiration("never", ""); err != nil || exp != nil || !strings.Contains(msg, "no longer expires") {
		t.Errorf("never: %v %q %v", exp, msg, err)
	}
	if exp, _, err := expiration("", "2030-01-02T03:04"); err != nil || exp != time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC).Unix() {
		t.Errorf("at a date: %v %v", exp, err)
	}
	if _, _, err := expiration("", ""); err == nil {
		t.Error("no choice was accepted")
	}
	if p, n := pageLinks("/r?page=", 1, true); p != "" || n != "/r?page=2" {
		t.Errorf("pageLinks: %q %q", p, n)
	}
	if got := (repoRow{Description: "# Title\n\nbody"}).Summary(); got != "Title" {
		t.Errorf("Summary: %q", got)
	}
	for _, c := range []struct{ in, want string }{{"/x", "/x"}, {"//evil", "/"}, {"https://evil", "/"}, {"", "/"}, {"/\\evil", "/"}} {
		if got := localPath(c.in); got != c.want {
			t.Errorf("localPath(%q) = %q", c.in, got)
		}
	}
}
