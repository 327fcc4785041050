package scanner_test

// The independent procedure the end-to-end tests check the scanner against (also described in
// docs/scanner.md). It shares no code with the scanner: not osv-scalibr's extractors or version
// orderings, not our OSV reader. For an image:
//
//  1. List the installed packages from the package database itself: the dpkg status file
//     (parsed here; a binary package's source is its Source: field, else itself), the apk
//     installed database (the o: origin), or `go version -m` for a Go binary.
//  2. For every record of the vulnerability data whose affected entry names the image's
//     ecosystem ("Debian:12", the Alpine release's secdb, "Go") and the package (Debian: the
//     source package), the package is affected when its version is listed in the entry's
//     `versions`, or lies in one of its ranges: events sorted by version, "introduced" opens an
//     affected interval when the version is at or above it ("0": from the start), "fixed"
//     closes it when the version is at or above it (and is then the fixed version reported),
//     "last_affected" closes it when the version is above it. Alpine secdb: affected by each CVE
//     listed under a fixed version above the installed one.
//  3. Versions are compared by the ecosystem's own tool or rules: `dpkg --compare-versions`
//     (Debian's), apk's documented ordering (digits, letter, _suffix, -rN) written out below,
//     golang.org/x/mod/semver (Go's).
//
// The result is the set of (package, advisory id, fixed version) the scanner must report.

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/semver"
)

// finding is one vulnerability of an image: the package it is matched by (Debian: the source
// package; Alpine: the origin; Go: the module), the advisory, the fixed version ("" when
// there is none).
type finding struct{ Package, ID, Fixed string }

func (f finding) String() string { return fmt.Sprintf("%s %s fixed=%q", f.Package, f.ID, f.Fixed) }

// osvRecord is what the procedure reads of an OSV record.
type osvRecord struct {
	ID        string `json:"id"`
	Withdrawn string `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

// eachOSVRecord calls fn for every JSON record of an OSV zip archive.
func eachOSVRecord(t testing.TB, file string, fn func(osvRecord)) {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var rec osvRecord
		err = json.NewDecoder(rc).Decode(&rec)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", file, f.Name, err)
		}
		if rec.Withdrawn == "" {
			fn(rec)
		}
	}
}

// expectOSV applies the procedure to packages (name → version) of one ecosystem.
func expectOSV(t testing.TB, file, ecosystem string, packages map[string]string, cmp func(a, b string) int) map[finding]bool {
	t.Helper()
	want := map[finding]bool{}
	eachOSVRecord(t, file, func(rec osvRecord) {
		for _, a := range rec.Affected {
			version, ok := packages[a.Package.Name]
			if a.Package.Ecosystem != ecosystem || !ok {
				continue
			}
			affected, fixed := false, ""
			for _, r := range a.Ranges {
				if r.Type == "GIT" {
					continue
				}
				if in, f := inRange(version, r.Events, cmp); in {
					affected, fixed = true, f
					break
				}
			}
			if !affected {
				for _, v := range a.Versions {
					if v == version {
						affected = true
					}
				}
			}
			if affected {
				want[finding{a.Package.Name, rec.ID, fixed}] = true
			}
		}
	})
	return want
}

// inRange evaluates one OSV range for version.
func inRange(version string, events []map[string]string, cmp func(a, b string) int) (bool, string) {
	type event struct{ kind, v string }
	var evs []event
	for _, e := range events {
		for k, v := range e {
			evs = append(evs, event{k, v})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].v == "0" || evs[j].v == "0" {
			return evs[i].v == "0" && evs[j].v != "0"
		}
		return cmp(evs[i].v, evs[j].v) < 0
	})
	affected := false
	for _, e := range evs {
		switch e.kind {
		case "introduced":
			if e.v == "0" || cmp(version, e.v) >= 0 {
				affected = true
			}
		case "fixed":
			if cmp(version, e.v) >= 0 {
				affected = false
			} else if affected {
				return true, e.v
			}
		case "last_affected":
			if cmp(version, e.v) > 0 {
				affected = false
			} else if affected {
				return true, ""
			}
		}
	}
	return affected, ""
}

// dpkgCompare orders Debian versions with dpkg itself.
type dpkgCompare struct {
	t     testing.TB
	mu    sync.Mutex
	cache map[[2]string]int
}

func (d *dpkgCompare) cmp(a, b string) int {
	if a == b {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil {
		d.cache = map[[2]string]int{}
	}
	if c, ok := d.cache[[2]string{a, b}]; ok {
		return c
	}
	c := 1
	if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err == nil {
		c = -1
	} else if _, ok := err.(*exec.ExitError); !ok {
		d.t.Fatalf("dpkg --compare-versions: %v", err)
	} else if exec.Command("dpkg", "--compare-versions", a, "eq", b).Run() == nil {
		c = 0
	}
	d.cache[[2]string{a, b}] = c
	return c
}

// goCompare orders Go module versions (OSV's, without the leading v) with x/mod/semver.
func goCompare(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// apkVersion is an Alpine package version taken apart by apk's documented rules:
// NUMBER(.NUMBER)*[LETTER](_SUFFIX[NUMBER])*[-rREVISION].
type apkVersion struct {
	numbers  []int
	letter   byte
	suffixes [][2]int // suffix rank, number
	revision int
}

// apkSuffixRank orders the suffixes: pre-releases before the release, patches after.
var apkSuffixRank = map[string]int{"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}

const apkNoSuffix = 4

func parseAPK(t testing.TB, s string) apkVersion {
	var v apkVersion
	rest := s
	if i := strings.LastIndex(rest, "-r"); i >= 0 {
		n, err := strconv.Atoi(rest[i+2:])
		if err != nil {
			t.Fatalf("apk version %q: bad revision", s)
		}
		v.revision, rest = n, rest[:i]
	}
	main, suffixes, _ := strings.Cut(rest, "_")
	if last := main[len(main)-1]; last >= 'a' && last <= 'z' {
		v.letter, main = last, main[:len(main)-1]
	}
	for _, part := range strings.Split(main, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			t.Fatalf("apk version %q: bad number %q", s, part)
		}
		v.numbers = append(v.numbers, n)
	}
	if suffixes != "" {
		for _, sfx := range strings.Split(suffixes, "_") {
			word := strings.TrimRight(sfx, "0123456789")
			rank, ok := apkSuffixRank[word]
			if !ok {
				t.Fatalf("apk version %q: unknown suffix %q", s, word)
			}
			n, _ := strconv.Atoi(sfx[len(word):])
			v.suffixes = append(v.suffixes, [2]int{rank, n})
		}
	}
	return v
}

// apkCompare orders two apk versions.
func apkCompare(t testing.TB) func(a, b string) int {
	return func(a, b string) int {
		x, y := parseAPK(t, a), parseAPK(t, b)
		for i := 0; i < max(len(x.numbers), len(y.numbers)); i++ {
			if i >= len(x.numbers) {
				return -1
			}
			if i >= len(y.numbers) {
				return 1
			}
			if c := x.numbers[i] - y.numbers[i]; c != 0 {
				return sign(c)
			}
		}
		if c := int(x.letter) - int(y.letter); c != 0 {
			return sign(c)
		}
		for i := 0; i < max(len(x.suffixes), len(y.suffixes)); i++ {
			xs, ys := [2]int{apkNoSuffix, 0}, [2]int{apkNoSuffix, 0}
			if i < len(x.suffixes) {
				xs = x.suffixes[i]
			}
			if i < len(y.suffixes) {
				ys = y.suffixes[i]
			}
			if xs[0] != ys[0] {
				return sign(xs[0] - ys[0])
			}
			if xs[1] != ys[1] {
				return sign(xs[1] - ys[1])
			}
		}
		return sign(x.revision - y.revision)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// expectSecDB applies the procedure to packages (origin → version) against an Alpine secdb
// archive's files for one release ("v3.19").
func expectSecDB(t testing.TB, file, release string, packages map[string]string) map[finding]bool {
	t.Helper()
	cmp := apkCompare(t)
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	// For each (package, CVE), the lowest fixed version above the installed one.
	best := map[[2]string]string{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") || "v"+path.Base(path.Dir(f.Name)) != release {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var db struct {
			Packages []struct {
				Pkg struct {
					Name     string              `json:"name"`
					Secfixes map[string][]string `json:"secfixes"`
				} `json:"pkg"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(body, &db); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, p := range db.Packages {
			installed, ok := packages[p.Pkg.Name]
			if !ok {
				continue
			}
			for fixed, ids := range p.Pkg.Secfixes {
				if fixed == "0" || cmp(installed, fixed) >= 0 {
					continue
				}
				for _, id := range ids {
					id, _, _ = strings.Cut(strings.TrimSpace(id), " ")
					key := [2]string{p.Pkg.Name, id}
					if prev, ok := best[key]; !ok || cmp(fixed, prev) < 0 {
						best[key] = fixed
					}
				}
			}
		}
	}
	want := map[finding]bool{}
	for k, fixed := range best {
		want[finding{k[0], k[1], fixed}] = true
	}
	return want
}

// compareFindings fails the test with the differences between what the scanner reported and
// what the procedure expects.
func compareFindings(t testing.TB, what string, got, want map[finding]bool) {
	t.Helper()
	var missing, extra []string
	for f := range want {
		if !got[f] {
			missing = append(missing, f.String())
		}
	}
	for f := range got {
		if !want[f] {
			extra = append(extra, f.String())
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s: the scanner's findings differ from the independent procedure's (%d expected, %d reported):\n  missing (%d): %s\n  unexpected (%d): %s",
			what, len(want), len(got), len(missing), head(missing), len(extra), head(extra))
	}
}

func head(list []string) string {
	if len(list) > 25 {
		return strings.Join(list[:25], "\n    ") + fmt.Sprintf("\n    ... and %d more", len(list)-25)
	}
	return strings.Join(list, "\n    ")
}
