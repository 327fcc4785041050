package systemd

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestChooseFlavour(t *testing.T) {
	tests := []struct {
		version string
		quadlet bool
		flavour Flavour
		err     string
	}{
		{"4.3.1", false, Classic, ""}, // Debian 12
		{"podman version 4.3.1", false, Classic, ""},
		{"4.4.0-rc1", true, Quadlet, ""},
		{"4.4.1", true, Quadlet, ""}, // RHEL 9.2, 8.8
		{"4.9.4-dev", true, Quadlet, ""},
		{"v5.2.2", true, Quadlet, ""},
		{"5.8.6+ds1", true, Quadlet, ""},
		{"10.0", true, Quadlet, ""},
		{"4.2.0", false, "", "too old: wharf install needs Podman 4.3 or newer"},
		{"3.4.4", false, "", "too old"},
		{"", false, "", "want MAJOR.MINOR"},
		{"four.three", false, "", "is not a number"},
		{"4", false, "", "want MAJOR.MINOR"},
		{"4.3.1.2", false, "", "want MAJOR.MINOR"},
		{"4.-3", false, "", "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			if got := QuadletSupported(tt.version); got != tt.quadlet {
				t.Errorf("QuadletSupported(%q) = %v, want %v", tt.version, got, tt.quadlet)
			}
			f, err := ChooseFlavour(tt.version)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ChooseFlavour(%q) = %v, %v; want error %q", tt.version, f, err, tt.err)
				}
				return
			}
			if err != nil || f != tt.flavour {
				t.Fatalf("ChooseFlavour(%q) = %v, %v; want %v", tt.version, f, err, tt.flavour)
			}
		})
	}
}

func TestDefaultUnitDir(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/ann/.config")
	tests := []struct {
		flavour  Flavour
		rootless bool
		want     string
	}{
		{Quadlet, false, "/etc/containers/systemd"},
		{Classic, false, "/etc/systemd/system"},
		{Quadlet, true, "/home/ann/.config/containers/systemd"},
		{Classic, true, "/home/ann/.config/systemd/user"},
	}
	for _, tt := range tests {
		got, err := DefaultUnitDir(tt.flavour, tt.rootless)
		if err != nil || got != tt.want {
			t.Errorf("DefaultUnitDir(%s, rootless=%v) = %q, %v; want %q", tt.flavour, tt.rootless, got, err, tt.want)
		}
	}
	if _, err := DefaultUnitDir("kube", false); err == nil {
		t.Error("DefaultUnitDir accepted an unknown flavour")
	}
	// Generate fills in the default directory.
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	plan, err := Generate(Options{Flavour: Classic, Rootless: true}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(config, "systemd", "user"); plan.Dir != want {
		t.Errorf("plan directory %q, want %q", plan.Dir, want)
	}
}

// FuzzParsePodmanVersion: any string parses or fails cleanly, and what parses
// prints back as a version that parses to the same.
func FuzzParsePodmanVersion(f *testing.F) {
	for _, s := range []string{"4.3.1", "podman version 5.0.0", "v4.4.0-rc1", "", "1.2.3.4", "99999999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParsePodmanVersion(s)
		if err != nil {
			return
		}
		again, err := ParsePodmanVersion(v.String())
		if err != nil || again != v {
			t.Fatalf("%q parsed as %v, which reads back as %v, %v", s, v, again, err)
		}
		if QuadletSupported(s) == v.Less(MinQuadletPodman) {
			t.Fatalf("%q: QuadletSupported disagrees with the parsed version %v", s, v)
		}
	})
}
