package installer

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"4.3.1", "4.3", true},
		{"4.3", "4.3", true},
		{"4.2.9", "4.3", false},
		{"4.10.0", "4.9", true},
		{"5.0.0-dev", "4.4", true},
		{"v4.4.0", "4.4", true},
		{"4.4.0-rc1", "4.4", true},
		{"3.4.4", "4.3", false},
		{"", "4.3", false},
		{"garbage", "4.3", false},
	} {
		if got := VersionAtLeast(tc.have, tc.want); got != tc.ok {
			t.Errorf("VersionAtLeast(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

// hostTree makes a directory standing for a host's /run, /sys: the files the checks read.
func hostTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if strings.HasSuffix(name, "/") { // a directory
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestHostFilesChecks(t *testing.T) {
	systemdHost := hostTree(t, map[string]string{"run/systemd/system/": "", "sys/fs/cgroup/cgroup.controllers": "cpu memory pids",
		"sys/fs/selinux/enforce": "1"})
	bareHost := hostTree(t, map[string]string{"sys/fs/selinux/enforce": "0"})
	for _, tc := range []struct {
		name    string
		check   func(Requirements) Finding
		req     Requirements
		ok      bool
		warning bool
		want    string
	}{
		{"systemd present", checkSystemd, Requirements{Root: systemdHost}, true, false, "systemd is the init system"},
		{"no systemd", checkSystemd, Requirements{Root: bareHost}, false, false, "install on a host booted with systemd"},
		{"cgroup v2", checkCgroups, Requirements{Root: systemdHost}, true, false, "cgroup v2"},
		{"cgroup v1 rootful", checkCgroups, Requirements{Root: bareHost}, true, true, "cgroup v2 is recommended"},
		{"cgroup v1 rootless", checkCgroups, Requirements{Root: bareHost, Rootless: true}, false, false, "rootless Podman needs it"},
		{"selinux enforcing", checkSELinux, Requirements{Root: systemdHost}, true, false, "labels its volumes"},
		{"selinux permissive", checkSELinux, Requirements{Root: bareHost}, true, true, "permissive"},
		{"no selinux", checkSELinux, Requirements{Root: t.TempDir()}, true, false, "not enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.check(tc.req)
			if f.OK != tc.ok || f.Warning != tc.warning || !strings.Contains(f.Found+" "+f.Fix, tc.want) {
				t.Fatalf("%+v, want ok=%v warning=%v mentioning %q", f, tc.ok, tc.warning, tc.want)
			}
		})
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if f := checkPort(port); f.OK || !strings.Contains(f.Fix, "--port") {
		t.Fatalf("a port in use passed: %+v", f)
	}
	ln.Close()
	if f := checkPort(port); !f.OK {
		t.Fatalf("a free port failed: %+v", f)
	}
}

func TestDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	if f := checkDisk(Requirements{DataDir: dir, MinFreeBytes: 1}); !f.OK {
		t.Fatalf("1 byte not free: %+v", f)
	}
	if f := checkDisk(Requirements{DataDir: dir, MinFreeBytes: 1 << 62}); f.OK || !strings.Contains(f.Fix, "--data-dir") {
		t.Fatalf("4 EiB free: %+v", f)
	}
}

func TestPodmanVersion(t *testing.T) {
	if _, err := os.Stat("/usr/bin/podman"); err != nil {
		t.Skip("podman is not installed (make deps installs it)")
	}
	ctx := context.Background()
	if f := checkPodman(ctx, Requirements{MinPodman: "4.3"}); !f.OK || !strings.HasPrefix(f.Found, "podman ") {
		t.Fatalf("Debian's podman refused: %+v", f)
	}
	if f := checkPodman(ctx, Requirements{MinPodman: "99.0"}); f.OK || !strings.Contains(f.Fix, "upgrade Podman to 99.0") {
		t.Fatalf("podman 99 required, found: %+v", f)
	}
}

// TestCheckHostOnThisMachine runs every check here: this machine has no systemd as init, so
// the install must be refused with that reason, and the report must name each check once.
func TestCheckHostOnThisMachine(t *testing.T) {
	req := DefaultRequirements()
	req.Ports = []int{0}
	req.DataDir = t.TempDir()
	req.MinFreeBytes = 1
	fs := CheckHost(context.Background(), req)
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.Check] {
			t.Errorf("check %s reported twice", f.Check)
		}
		seen[f.Check] = true
		if !f.OK && f.Fix == "" {
			t.Errorf("%s fails without saying what to do: %+v", f.Check, f)
		}
	}
	for _, c := range []string{"systemd", "privileges", "podman", "cgroups", "port 0", "disk", "selinux", "firewalld"} {
		if !seen[c] {
			t.Errorf("no %s check in %+v", c, fs)
		}
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil && !Failed(fs) {
		t.Errorf("a host without systemd passed: %+v", fs)
	}
}
