package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrToolMissing is returned (wrapped) by Verify when a program it needs is not
// installed.
var ErrToolMissing = errors.New("program not found")

// QuadletPaths are where distributions install Podman's Quadlet generator.
var QuadletPaths = []string{"/usr/libexec/podman/quadlet", "/usr/lib/podman/quadlet"}

// Tools names the programs Verify runs. Empty fields are looked up: systemd-analyze
// on PATH, Quadlet in QuadletPaths.
type Tools struct {
	SystemdAnalyze string
	Quadlet        string
}

// Verify checks the plan's files with the programs systemd and Podman use to read
// them, before anything is installed: Quadlet files are converted by Podman's own
// generator (which refuses unknown keys and bad values), and the resulting services
// (or the classic units) are checked with `systemd-analyze verify`, which reads them
// as systemd will, checks that the programs they run exist and that their
// dependencies resolve. Any complaint about our files is an error that quotes it.
func (p *Plan) Verify(ctx context.Context, tools Tools) error {
	analyze := tools.SystemdAnalyze
	if analyze == "" {
		var err error
		if analyze, err = exec.LookPath("systemd-analyze"); err != nil {
			return fmt.Errorf("checking units: systemd-analyze: %w (install the systemd package)", ErrToolMissing)
		}
	}
	tmp, err := os.MkdirTemp("", "wharf-units-")
	if err != nil {
		return fmt.Errorf("checking units: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return fmt.Errorf("checking units: %w", err)
	}
	for _, f := range p.Files {
		if err := os.WriteFile(filepath.Join(src, f.Name), f.Content, 0o644); err != nil {
			return fmt.Errorf("checking units: %w", err)
		}
	}

	unitDir := src
	if p.Flavour == Quadlet {
		unitDir = filepath.Join(tmp, "generated")
		if err := runQuadlet(ctx, tools.Quadlet, src, unitDir, p.Rootless); err != nil {
			return err
		}
	}
	var services []string
	for _, f := range p.Files {
		path := filepath.Join(unitDir, f.Unit)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("checking units: %s did not produce %s", f.Name, f.Unit)
		}
		services = append(services, path)
	}

	args := []string{"verify"}
	env := os.Environ()
	if p.Rootless {
		args = []string{"--user", "verify"}
		if os.Getenv("XDG_RUNTIME_DIR") == "" {
			// systemd-analyze --user needs a runtime directory, even to only read units.
			run := filepath.Join(tmp, "run")
			if err := os.Mkdir(run, 0o700); err != nil {
				return fmt.Errorf("checking units: %w", err)
			}
			env = append(env, "XDG_RUNTIME_DIR="+run)
		}
	}
	cmd := exec.CommandContext(ctx, analyze, append(args, services...)...)
	cmd.Env = env
	out, runErr := cmd.CombinedOutput()
	var complaints []string
	for _, line := range strings.Split(string(out), "\n") {
		if mentionsPlan(line, tmp, p) {
			complaints = append(complaints, strings.ReplaceAll(line, unitDir+"/", ""))
		}
	}
	if runErr != nil || len(complaints) > 0 {
		if len(complaints) == 0 {
			complaints = []string{strings.TrimSpace(string(out))}
		}
		return fmt.Errorf("systemd-analyze verify rejects the units (%v):\n%s", runErr, strings.Join(complaints, "\n"))
	}
	return nil
}

// runQuadlet converts the Quadlet files in src into services in out.
func runQuadlet(ctx context.Context, quadlet, src, out string, rootless bool) error {
	if quadlet == "" {
		for _, p := range QuadletPaths {
			if _, err := os.Stat(p); err == nil {
				quadlet = p
				break
			}
		}
		if quadlet == "" {
			return fmt.Errorf("checking units: Quadlet (%s): %w (install podman 4.4 or newer)", strings.Join(QuadletPaths, " or "), ErrToolMissing)
		}
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		return fmt.Errorf("checking units: %w", err)
	}
	args := []string{"-no-kmsg-log"}
	if rootless {
		args = append(args, "-user")
	}
	cmd := exec.CommandContext(ctx, quadlet, append(args, out)...)
	cmd.Env = append(os.Environ(), "QUADLET_UNIT_DIRS="+src)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("quadlet rejects the units (%v):\n%s", err, strings.TrimSpace(strings.ReplaceAll(stderr.String(), src+"/", "")))
	}
	return nil
}

// mentionsPlan reports whether a line of systemd-analyze output is about one of
// the plan's files rather than about something else on the host.
func mentionsPlan(line, tmp string, p *Plan) bool {
	if strings.Contains(line, tmp) {
		return true
	}
	for _, f := range p.Files {
		if strings.Contains(line, f.Unit) {
			return true
		}
	}
	return false
}
