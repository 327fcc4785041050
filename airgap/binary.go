package airgap

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// BinaryPlatform reads the os/arch a Go binary was built for from its build information.
func BinaryPlatform(r io.ReaderAt) (string, error) {
	info, err := buildinfo.Read(r)
	if err != nil {
		return "", fmt.Errorf("not a Go executable with build information: %w", err)
	}
	var goos, goarch string
	for _, s := range info.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos == "" || goarch == "" {
		return "", fmt.Errorf("the build information names no GOOS/GOARCH")
	}
	return goos + "/" + goarch, nil
}

// ProbeBinaryVersion runs a wharf binary with --version and returns the version it prints
// ("wharf version 1.2.3" gives 1.2.3). It works only for a binary this host can run.
func ProbeBinaryVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("run %s --version: %w: %s", path, err, strings.TrimSpace(out.String()))
	}
	fields := strings.Fields(out.String())
	if len(fields) != 3 || fields[1] != "version" {
		return "", fmt.Errorf("%s --version printed %q, not \"wharf version VERSION\": is it a wharf binary?", path, strings.TrimSpace(out.String()))
	}
	return fields[2], nil
}
