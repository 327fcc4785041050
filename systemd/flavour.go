package systemd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Flavour is the kind of unit files Wharf writes for a host.
type Flavour string

const (
	// Quadlet writes Podman Quadlet files (.container, .network) that Podman's systemd
	// generator turns into services at daemon-reload. It needs Podman 4.4 or newer.
	Quadlet Flavour = "quadlet"
	// Classic writes plain systemd services that run `podman run`, for Podman 4.3
	// (Debian 12), which has no Quadlet.
	Classic Flavour = "classic"
)

// Podman versions that matter to unit generation.
var (
	// MinPodman is the oldest Podman that `wharf install` supports.
	MinPodman = PodmanVersion{Major: 4, Minor: 3}
	// MinQuadletPodman is the first Podman with Quadlet.
	MinQuadletPodman = PodmanVersion{Major: 4, Minor: 4}
)

// PodmanVersion is a Podman release number; only what unit generation compares.
type PodmanVersion struct {
	Major, Minor, Patch int
}

// String returns the version as "MAJOR.MINOR.PATCH".
func (v PodmanVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v is an older release than w.
func (v PodmanVersion) Less(w PodmanVersion) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// ParsePodmanVersion reads a version as Podman prints it: "4.3.1", "5.2.0-rc1",
// "v4.9.4-dev" or the whole line "podman version 4.3.1". A pre-release counts as its
// release (Quadlet is in 4.4.0-rc1).
func ParsePodmanVersion(s string) (PodmanVersion, error) {
	v := strings.TrimSpace(s)
	v = strings.TrimPrefix(v, "podman version ")
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+~ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return PodmanVersion{}, fmt.Errorf("podman version %q: want MAJOR.MINOR[.PATCH], as `podman version --format '{{.Client.Version}}'` prints it", s)
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(p) > 6 {
			return PodmanVersion{}, fmt.Errorf("podman version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	return PodmanVersion{Major: nums[0], Minor: nums[1], Patch: nums[2]}, nil
}

// QuadletSupported reports whether a Podman of that version has Quadlet (4.4 or
// newer). An unreadable version counts as unsupported.
func QuadletSupported(podmanVersion string) bool {
	v, err := ParsePodmanVersion(podmanVersion)
	return err == nil && !v.Less(MinQuadletPodman)
}

// ChooseFlavour picks the unit flavour for a host's Podman: Quadlet from 4.4, classic
// units for 4.3, and an error saying what to install for anything older.
func ChooseFlavour(podmanVersion string) (Flavour, error) {
	v, err := ParsePodmanVersion(podmanVersion)
	if err != nil {
		return "", err
	}
	if v.Less(MinPodman) {
		return "", fmt.Errorf("podman %s is too old: wharf install needs Podman %d.%d or newer; upgrade the podman package", v, MinPodman.Major, MinPodman.Minor)
	}
	if v.Less(MinQuadletPodman) {
		return Classic, nil
	}
	return Quadlet, nil
}

// Unit directories for rootful installs.
const (
	// RootfulQuadletDir is where the system's Quadlet generator reads admin files.
	RootfulQuadletDir = "/etc/containers/systemd"
	// RootfulClassicDir is where the administrator's system units live.
	RootfulClassicDir = "/etc/systemd/system"
)

// DefaultUnitDir returns where units of that flavour go: for root, the system
// directories above; for rootless installs, $XDG_CONFIG_HOME/containers/systemd
// (Quadlet) or $XDG_CONFIG_HOME/systemd/user (classic), with $XDG_CONFIG_HOME
// defaulting to ~/.config.
func DefaultUnitDir(f Flavour, rootless bool) (string, error) {
	if !rootless {
		switch f {
		case Quadlet:
			return RootfulQuadletDir, nil
		case Classic:
			return RootfulClassicDir, nil
		}
		return "", fmt.Errorf("unknown unit flavour %q: want %q or %q", f, Quadlet, Classic)
	}
	config, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's unit directory: %w (set HOME or XDG_CONFIG_HOME)", err)
	}
	switch f {
	case Quadlet:
		return filepath.Join(config, "containers", "systemd"), nil
	case Classic:
		return filepath.Join(config, "systemd", "user"), nil
	}
	return "", fmt.Errorf("unknown unit flavour %q: want %q or %q", f, Quadlet, Classic)
}
