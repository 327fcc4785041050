package testvm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCacheKey(t *testing.T) {
	base := ImageOptions{}.CacheKey()
	if !strings.HasPrefix(base, DefaultSuite+"-") || len(base) != len(DefaultSuite)+1+16 {
		t.Fatalf("CacheKey() = %q, want %s- and 16 hex digits", base, DefaultSuite)
	}
	tests := []struct {
		name string
		opts ImageOptions
		same bool
	}{
		{"defaults spelled out", ImageOptions{Suite: DefaultSuite, DiskSize: DefaultDiskSize}, true},
		{"mirror and cache dir do not matter", ImageOptions{Mirror: "http://other.test/debian", CacheDir: "/elsewhere"}, true},
		{"a default package listed again", ImageOptions{ExtraPackages: []string{"podman"}}, true},
		{"an extra package", ImageOptions{ExtraPackages: []string{"skopeo"}}, false},
		{"another disk size", ImageOptions{DiskSize: 16 << 30}, false},
		{"another suite", ImageOptions{Suite: "trixie"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.opts.CacheKey(); (got == base) != tt.same {
				t.Errorf("CacheKey() = %q, default %q; want same=%v", got, base, tt.same)
			}
		})
	}
	// The configuration script is part of the key: editing it rebuilds the image.
	saved := configureScript
	defer func() { configureScript = saved }()
	configureScript += "\n# changed\n"
	if (ImageOptions{}).CacheKey() == base {
		t.Error("CacheKey did not change with the configuration script")
	}
}

func TestOpenImageIncomplete(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenImage(dir); err == nil || !strings.Contains(err.Error(), "make vm-image") {
		t.Fatalf("OpenImage of an empty directory: %v, want an error saying to run make vm-image", err)
	}
	os.WriteFile(filepath.Join(dir, infoFile), []byte(`{"format":"`+imageFormat+`"}`), 0o644)
	if _, err := OpenImage(filepath.Join(dir, diskFile)); err == nil || !strings.Contains(err.Error(), diskFile) {
		t.Fatalf("OpenImage without a disk: %v, want an error naming %s", err, diskFile)
	}
}

// TestRemoveTreeUnmounts checks that a build directory with something still mounted inside
// (as an interrupted debootstrap leaves /proc) is removed without touching what is mounted.
func TestRemoveTreeUnmounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root; the image build runs as root")
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	target := filepath.Join(dir, "mnt", "host")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(outside, target, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mounts unavailable here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(target, syscall.MNT_DETACH) })
	if mounts, err := mountsBelow(dir); err != nil || len(mounts) != 1 {
		t.Fatalf("mountsBelow = %v, %v; want the bind mount", mounts, err)
	}
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("the bind-mounted directory lost its file: %v", err)
	}
	if err := removeTree(dir); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	tests := map[string]string{
		`/plain/path`:          "/plain/path",
		`/with\040space`:       "/with space",
		`/tab\011and\134slash`: "/tab\tand\\slash",
		`/bad\09x`:             `/bad\09x`,
		`/end\04`:              `/end\04`,
	}
	for in, want := range tests {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMakeMedia checks the media disk with debugfs, which reads an ext4 image without
// mounting it: every file is there under its base name with its content.
func TestMakeMedia(t *testing.T) {
	tools, err := lookTools("mkfs.ext4", "debugfs")
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	files := map[string][]byte{"bundle.tar": bytes.Repeat([]byte("wharf"), 300000), "wharf": []byte("#!/bin/sh\n")}
	var paths []string
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	dir := t.TempDir()
	img, err := makeMedia(dir, tools["mkfs.ext4"], paths)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		out, err := exec.Command(tools["debugfs"], "-R", "cat /"+name, img).Output()
		if err != nil {
			t.Fatalf("debugfs cat /%s: %v", name, err)
		}
		if !bytes.Equal(out, data) {
			t.Errorf("/%s on the media disk has %d bytes, want the %d written", name, len(out), len(data))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "media")); !os.IsNotExist(err) {
		t.Errorf("the staging directory was left behind: %v", err)
	}

	if _, err := makeMedia(t.TempDir(), tools["mkfs.ext4"], []string{paths[0], paths[0]}); err == nil || !strings.Contains(err.Error(), "two files named") {
		t.Errorf("two files of one name: %v, want an error", err)
	}
	if _, err := makeMedia(t.TempDir(), tools["mkfs.ext4"], []string{src}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v, want an error", err)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "with space", "it's", `$(rm -rf /) "x" \n`, ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printf %s = %q, %v; want %q", shellQuote(s), out, err, s)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{{"4.3.1", true}, {"4.3", true}, {"5.0.0", true}, {"4.2.9", false}, {"3.9", false}, {"4", false}, {"x.y", false}}
	for _, tt := range tests {
		if got := versionAtLeast(tt.v, 4, 3); got != tt.want {
			t.Errorf("versionAtLeast(%q, 4, 3) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestConsoleFailure(t *testing.T) {
	earlier := "[    7.2] Kernel panic - not syncing: from an earlier boot\n"
	tests := []struct {
		name, console string
		want          string
	}{
		{"booting", "[    3.4] Run /init as init process\nLoading, please wait...\n", ""},
		{"up", "Debian GNU/Linux 12 wharf-vm ttyS0\n\nwharf-vm login: ", ""},
		{"no root disk", "Gave up waiting for root file system device.\nALERT!  LABEL=wharf-root does not exist.  Dropping to a shell!\n(initramfs) ", "(initramfs)"},
		{"panic", "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs\n", "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs"},
		{"emergency", "You are in emergency mode. After logging in, type \"journalctl -xb\"\n", `You are in emergency mode. After logging in, type "journalctl -xb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vm := &VM{console: filepath.Join(t.TempDir(), "console.log")}
			if err := os.WriteFile(vm.console, []byte(earlier+tt.console), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := vm.consoleFailure(int64(len(earlier))); got != tt.want {
				t.Errorf("consoleFailure = %q, want %q", got, tt.want)
			}
		})
	}
}
