package systemd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containers/podman/v5/pkg/systemd/parser"
)

// The real Quadlet generator of Podman 5.8.6, built from the module (go.mod names it
// as a tool), so the Quadlet files are checked by Podman itself even on this Debian
// host whose podman (4.3) has no Quadlet.
var (
	quadletOnce sync.Once
	quadletBin  string
	quadletErr  error
)

func quadletTool(t *testing.T) string {
	t.Helper()
	quadletOnce.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "quadlet").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = errors.New(string(ee.Stderr))
			}
			quadletErr = err
			return
		}
		quadletBin = strings.TrimSpace(string(out))
	})
	if quadletErr != nil {
		t.Fatalf("building Podman's quadlet (go tool quadlet): %v", quadletErr)
	}
	return quadletBin
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed: run scripts/deps.sh (Debian package systemd)")
	}
	return path
}

// TestVerifyGolden runs every golden case through Podman's Quadlet generator (for
// Quadlet files) and `systemd-analyze verify` (root and --user): systemd reads the
// units without a single complaint, the programs they run exist, and their
// dependencies resolve.
func TestVerifyGolden(t *testing.T) {
	tools := Tools{SystemdAnalyze: systemdAnalyze(t), Quadlet: quadletTool(t)}
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Generate(tc.opts, tc.components)
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Verify(context.Background(), tools); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestVerifyRejects breaks generated files the ways a wrong generator would and
// wants Verify to refuse each, quoting the problem.
func TestVerifyRejects(t *testing.T) {
	tools := Tools{SystemdAnalyze: systemdAnalyze(t), Quadlet: quadletTool(t)}
	tests := []struct {
		name    string
		flavour Flavour
		file    string
		old     string
		new     string
		want    string
	}{
		{"quadlet key unknown to Podman", Quadlet, "wharf-redis.container", "[Container]\n", "[Container]\nHealthCommand=true\n", "unsupported key 'HealthCommand'"},
		{"quadlet without image", Quadlet, "wharf-redis.container", "Image=docker.io/library/redis:7-bookworm\n", "", "no Image"},
		{"classic bad service type", Classic, "wharf-redis.service", "Type=notify", "Type=notified", "notified"},
		{"classic missing program", Classic, "wharf-redis.service", "ExecStart=/usr/bin/podman", "ExecStart=/usr/bin/podman-missing", "podman-missing"},
		{"classic requires unknown unit", Classic, "wharf-registry.service", "Requires=", "Requires=wharf-missing.service ", "wharf-missing.service"},
		{"quadlet requires unknown unit", Quadlet, "wharf-registry.container", "Requires=", "Requires=wharf-missing.service ", "wharf-missing.service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Generate(Options{Flavour: tt.flavour, UnitDir: t.TempDir()}, wharfComponents())
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(plan.Files, func(f File) bool { return f.Name == tt.file })
			if i < 0 || !bytes.Contains(plan.Files[i].Content, []byte(tt.old)) {
				t.Fatalf("%s has no %q", tt.file, tt.old)
			}
			plan.Files[i].Content = bytes.Replace(plan.Files[i].Content, []byte(tt.old), []byte(tt.new), 1)
			err = plan.Verify(context.Background(), tools)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// TestVerifyToolMissing: without the programs, Verify says which and how to get it.
func TestVerifyToolMissing(t *testing.T) {
	plan, err := Generate(Options{Flavour: Quadlet, UnitDir: t.TempDir()}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	saved := QuadletPaths
	QuadletPaths = []string{filepath.Join(t.TempDir(), "quadlet")}
	defer func() { QuadletPaths = saved }()
	err = plan.Verify(context.Background(), Tools{SystemdAnalyze: systemdAnalyze(t)})
	if !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "install podman 4.4") {
		t.Fatalf("Verify = %v, want ErrToolMissing naming podman 4.4", err)
	}
	t.Setenv("PATH", t.TempDir())
	err = plan.Verify(context.Background(), Tools{})
	if !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "systemd package") {
		t.Fatalf("Verify = %v, want ErrToolMissing naming the systemd package", err)
	}
}

// TestCommandLineRoundTrip gives a component awkward values (blanks, quotes,
// backslashes, '%', '$', ';') and reads the podman command back as systemd will run
// it: for classic units from ExecStart=, for Quadlet from the ExecStart= that
// Podman's own generator writes. Each value must arrive as exactly one word, intact.
func TestCommandLineRoundTrip(t *testing.T) {
	awkward := Component{
		Name:    "odd",
		Image:   "localhost/odd:1",
		Command: []string{"sh", "-c", `echo "100% of $HOME" \ done; exit 0`, "a'b", ";"},
		Env: map[string]string{
			"GREETING": `say "hi" to $USER at 50%`,
			"EMPTY":    "",
			"BACKSL":   `C:\temp\n`,
		},
		Health: &Health{Shell: `test -n "$HOSTNAME" && echo 5%`},
		Ports:  []Port{{HostIP: "::1", Host: 8080, Container: 80}, {HostIP: "127.0.0.1", Host: 5353, Container: 53, Protocol: "udp"}},
	}
	wantSeqs := [][]string{
		{"localhost/odd:1", "sh", "-c", `echo "100% of $HOME" \ done; exit 0`, "a'b", ";"},
		{"--env", `GREETING=say "hi" to $USER at 50%`},
		{"--env", "EMPTY="},
		{"--env", `BACKSL=C:\temp\n`},
		{"--health-cmd", `test -n "$HOSTNAME" && echo 5%`},
	}
	tools := Tools{SystemdAnalyze: systemdAnalyze(t), Quadlet: quadletTool(t)}
	for _, flavour := range []Flavour{Classic, Quadlet} {
		t.Run(string(flavour), func(t *testing.T) {
			plan, err := Generate(Options{Flavour: flavour, UnitDir: t.TempDir()}, []Component{awkward})
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Verify(context.Background(), tools); err != nil {
				t.Fatal(err)
			}
			service := plan.Files[0].Content
			if flavour == Quadlet {
				src, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
				if err := os.WriteFile(filepath.Join(src, plan.Files[0].Name), service, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := runQuadlet(context.Background(), tools.Quadlet, src, out, false); err != nil {
					t.Fatal(err)
				}
				if service, err = os.ReadFile(filepath.Join(out, "wharf-odd.service")); err != nil {
					t.Fatal(err)
				}
			}
			argv := execStart(t, service)
			for _, seq := range wantSeqs {
				if !containsSeq(argv, seq) {
					t.Errorf("ExecStart does not hold %q\nargv: %q", seq, argv)
				}
			}
			for _, p := range []string{"[::1]:8080:80", "127.0.0.1:5353:53/udp"} {
				if !containsSeq(argv, []string{"--publish", p}) {
					t.Errorf("ExecStart does not publish %s\nargv: %q", p, argv)
				}
			}
		})
	}
}

// execStart reads a service's ExecStart= with Podman's port of systemd's unit
// parser and resolves what systemd resolves when it runs the line: "%%" and "$$".
func execStart(t *testing.T, service []byte) []string {
	t.Helper()
	u := parser.NewUnitFile()
	if err := u.Parse(string(service)); err != nil {
		t.Fatal(err)
	}
	words, ok, err := u.LookupLastArgs("Service", "ExecStart")
	if err != nil || !ok {
		t.Fatalf("no ExecStart: %v", err)
	}
	for i, w := range words {
		words[i] = unescapeSystemd(w)
	}
	return words
}

// unescapeSystemd turns "%%" into "%" and "$$" into "$", leaving other specifiers.
func unescapeSystemd(w string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if (w[i] == '%' || w[i] == '$') && i+1 < len(w) && w[i+1] == w[i] {
			i++
		}
		b.WriteByte(w[i])
	}
	return b.String()
}

func containsSeq(argv, seq []string) bool {
	for i := 0; i+len(seq) <= len(argv); i++ {
		if slices.Equal(argv[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

// FuzzQuoteWord: any word validation lets through comes back unchanged from a unit
// file, read by Podman's port of systemd's command-line splitter.
func FuzzQuoteWord(f *testing.F) {
	for _, s := range []string{"plain", "", "two words", `"quoted"`, `back\slash`, "100%", "$HOME", "${X}", ";", "'", `\x20`, "é ü", "%t", "a\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || checkText("word", s) != nil {
			return // validation refuses these: Quadlet loses empty words
		}
		line := "[Service]\nExecStart=/bin/true " + quoteWord(s) + " end\n"
		u := parser.NewUnitFile()
		if err := u.Parse(line); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		words, ok, err := u.LookupLastArgs("Service", "ExecStart")
		if err != nil || !ok {
			t.Fatalf("%q: %v", line, err)
		}
		if len(words) != 3 || unescapeSystemd(words[1]) != s || words[2] != "end" {
			t.Fatalf("%q came back as %q from %q", s, words, line)
		}
	})
}
