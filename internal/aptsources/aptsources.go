// Package aptsources reads the host's apt configuration (sources.list and sources.list.d,
// one-line and deb822 forms) to find the Debian mirror it uses, so that image and VM builds
// use the same archive as apt without a mirror name written into the project.
package aptsources

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Source is one apt source: "deb http://mirror/debian bookworm main" says Type deb, URI
// http://mirror/debian, suite bookworm, component main.
type Source struct {
	Type       string
	URI        string
	Suites     []string
	Components []string
	// File is where the source was read from.
	File string
}

// ParseSourcesList reads apt sources in the one-line style of /etc/apt/sources.list and
// sources.list.d/*.list: "deb [option=value ...] URI SUITE [COMPONENT...]", comments after #.
// Lines it cannot read are left out, as apt would refuse them.
func ParseSourcesList(data []byte, file string) []Source {
	var out []Source
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || (fields[0] != "deb" && fields[0] != "deb-src") {
			continue
		}
		typ, rest := fields[0], fields[1:]
		if strings.HasPrefix(rest[0], "[") { // options: up to the closing bracket
			end := slices.IndexFunc(rest, func(f string) bool { return strings.HasSuffix(f, "]") })
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		if len(rest) < 2 {
			continue
		}
		out = append(out, Source{Type: typ, URI: rest[0], Suites: []string{rest[1]}, Components: rest[2:], File: file})
	}
	return out
}

// ParseDeb822Sources reads apt sources in the deb822 style of sources.list.d/*.sources:
// paragraphs of Types, URIs, Suites and Components fields, each naming every combination of
// its values; paragraphs with "Enabled: no" are left out.
func ParseDeb822Sources(data []byte, file string) ([]Source, error) {
	var out []Source
	fields := map[string]string{}
	var last string
	flush := func() {
		if len(fields) > 0 && !strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no") {
			suites, comps := strings.Fields(fields["suites"]), strings.Fields(fields["components"])
			for _, typ := range strings.Fields(fields["types"]) {
				if typ != "deb" && typ != "deb-src" {
					continue
				}
				for _, uri := range strings.Fields(fields["uris"]) {
					if len(suites) > 0 {
						out = append(out, Source{Type: typ, URI: uri, Suites: suites, Components: comps, File: file})
					}
				}
			}
		}
		fields, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t': // continuation of the last field
			if last == "" {
				return nil, fmt.Errorf("%s:%d: a continuation line with no field before it", file, n)
			}
			fields[last] += " " + strings.TrimSpace(line)
		default:
			key, value, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: %q is not a \"Field: value\" line", file, n, line)
			}
			last = strings.ToLower(strings.TrimSpace(key))
			fields[last] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	flush()
	return out, nil
}

// HostSources reads the apt sources configured under root (the host: "/"):
// etc/apt/sources.list, etc/apt/sources.list.d/*.list and *.sources, in apt's order. Files with
// other names are left out, as apt leaves them out.
func HostSources(root string) ([]Source, error) {
	dir := filepath.Join(root, "etc", "apt")
	files := []string{filepath.Join(dir, "sources.list")}
	entries, err := os.ReadDir(filepath.Join(dir, "sources.list.d"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("apt sources: %w", err)
	}
	var more []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".list") || strings.HasSuffix(e.Name(), ".sources")) {
			more = append(more, filepath.Join(dir, "sources.list.d", e.Name()))
		}
	}
	sort.Strings(more)
	var out []Source
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("apt sources: %w", err)
		}
		if strings.HasSuffix(f, ".sources") {
			s, err := ParseDeb822Sources(data, f)
			if err != nil {
				return nil, fmt.Errorf("apt sources: %w", err)
			}
			out = append(out, s...)
		} else {
			out = append(out, ParseSourcesList(data, f)...)
		}
	}
	return out, nil
}

// FindMirror returns the URI of the first binary source that carries suite with its main
// component over http, https or file: the Debian mirror debootstrap should use.
func FindMirror(sources []Source, suite string) (string, error) {
	for _, s := range sources {
		if s.Type != "deb" || !slices.Contains(s.Suites, suite) || !slices.Contains(s.Components, "main") {
			continue
		}
		if strings.HasPrefix(s.URI, "http://") || strings.HasPrefix(s.URI, "https://") || strings.HasPrefix(s.URI, "file:") {
			return s.URI, nil
		}
	}
	return "", fmt.Errorf("no apt source carries %s main (looked in /etc/apt/sources.list and /etc/apt/sources.list.d/): add one, or name a Debian mirror with -mirror", suite)
}

// HostMirror is the mirror the host's apt uses for suite: HostSources(root) then FindMirror.
func HostMirror(root, suite string) (string, error) {
	sources, err := HostSources(root)
	if err != nil {
		return "", err
	}
	return FindMirror(sources, suite)
}
