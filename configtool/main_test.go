package configtool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/schema"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// configDir writes a config directory: config.yaml and the other files by their relative
// path (ssl.cert, extra_ca_certs/NAME, ...).
func configDir(t *testing.T, config string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{ConfigFile: config}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// validateDir reads a config directory and validates it; the data directory is a fresh
// temporary one unless opts names one.
func validateDir(t *testing.T, dir string, opts Options) *Report {
	t.Helper()
	src, err := ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Validate(ctx, src, opts)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return rep
}

// checkGroup validates config (with files) and returns the results of one field group's
// checks, failing the test when the config itself is invalid.
func checkGroup(t *testing.T, group, config string, files map[string]string) []Result {
	t.Helper()
	rep := validateDir(t, configDir(t, config, files), Options{Groups: []string{group}})
	if !rep.Valid() {
		t.Fatalf("config is invalid: %v\n%s", rep.Problems, config)
	}
	var out []Result
	for _, r := range rep.Checks {
		if r.Group != group {
			t.Errorf("check %+v ran, but only group %s was asked for", r, group)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatalf("no %s check ran", group)
	}
	return out
}

// want describes an expected result: its status, check name (a prefix), path and words its
// message must contain.
type want struct {
	status Status
	check  string
	path   string
	words  []string
}

// expect asserts that results hold a result matching each want, in order.
func expect(t *testing.T, results []Result, wants ...want) {
	t.Helper()
	if len(results) != len(wants) {
		t.Errorf("got %d results, want %d:\n%s", len(results), len(wants), dump(results))
	}
	for i, w := range wants {
		if i >= len(results) {
			break
		}
		r := results[i]
		if r.Status != w.status || !strings.HasPrefix(r.Check, w.check) || (w.path != "" && r.Path != w.path) {
			t.Errorf("result %d = %s %q [%s]: %s\nwant %s %q [%s]", i, r.Status, r.Check, r.Path, r.Message, w.status, w.check, w.path)
		}
		for _, word := range w.words {
			if !strings.Contains(r.Message, word) {
				t.Errorf("result %d (%s %s) says %q, which lacks %q", i, r.Status, r.Check, r.Message, word)
			}
		}
		if r.Status != StatusSkipped && r.Took <= 0 {
			t.Errorf("result %d (%s) has no duration", i, r.Check)
		}
	}
}

func dump(results []Result) string {
	var b strings.Builder
	for _, r := range results {
		b.WriteString("  " + CheckLine(r) + " [" + r.Path + "]\n")
	}
	return b.String()
}

// problemsOf validates a config offline and returns its problems.
func problemsOf(t *testing.T, config string, files map[string]string) []schema.Problem {
	t.Helper()
	return validateDir(t, configDir(t, config, files), Options{Offline: true}).Problems
}

// expectProblem asserts that problems hold one with this path, line (0: any) and words.
func expectProblem(t *testing.T, problems []schema.Problem, path string, line int, words ...string) {
	t.Helper()
	for _, p := range problems {
		if p.Path != path || line != 0 && p.Line != line {
			continue
		}
		for _, w := range words {
			if !strings.Contains(p.Message, w) {
				t.Errorf("problem %s says %q, which lacks %q", path, p.Message, w)
			}
		}
		return
	}
	t.Errorf("no problem at %s (line %d) among %v", path, line, problems)
}
