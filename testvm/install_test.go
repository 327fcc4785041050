package testvm_test

// The installer's end-to-end test: `wharf install`, `status`, `upgrade` and `uninstall` as an
// administrator runs them, in a Debian 12 VM with systemd and Podman and no network, from
// offline bundles made on the host, with skopeo on the host pushing and pulling through a
// forwarded port. It boots a VM under emulation (minutes): run it with make test-vm.

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/images"
	"github.com/wharf-registry/wharf/images/debian"
	"github.com/wharf-registry/wharf/installer"
	"github.com/wharf-registry/wharf/testvm"
)

const (
	v1Version     = "1.0.0-vmtest1"
	v2Version     = "1.0.0-vmtest2"
	brokenVersion = "1.0.0-vmtest3-broken"
	password      = "vm-Test-passw0rd"
)

// host is what the test prepares on the host before it boots the VM.
type host struct {
	dir                       string
	wharf1, wharf2            string // binaries
	bundle1, bundle2, bundle3 string // bundle3: a registry that never starts
	image                     string // a docker-archive to push
	port                      int    // the registry's port, the same in the guest and on the host
}

// TestInstall walks an installation's life in the VM: refused installs that change nothing
// (a corrupt bundle, a missing prerequisite, a port in use), an offline install, a second
// install that changes nothing, push and pull with skopeo, a container killed and restarted,
// a reboot, an upgrade, an upgrade that fails its health check and rolls back, uninstall
// keeping the data, a reinstall that finds it, and uninstall --purge.
func TestInstall(t *testing.T) {
	testvm.SkipUnlessEnabled(t)
	for _, tool := range []string{"skopeo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run make deps", tool)
		}
	}
	start := time.Now()
	h := prepare(t)
	t.Logf("host side ready in %s: bundles %s", time.Since(start).Round(time.Second), sizes(h.bundle1, h.bundle2, h.bundle3))

	disk, err := testvm.BuildImage(t.Context(), testvm.ImageOptions{Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	vm := testvm.Boot(t, testvm.Options{Image: disk, MemoryMiB: 3072, ForwardSamePort: []int{h.port},
		Media: []string{h.wharf1, h.wharf2, h.bundle1, h.bundle2, h.bundle3}})
	vm.WaitRunning(t)
	t.Logf("VM booted in %s", time.Since(start).Round(time.Second))

	m := testvm.MediaDir
	wharf1, wharf2 := m+"/wharf-"+v1Version, m+"/wharf-"+v2Version
	common := fmt.Sprintf(" --hostname localhost --port %d --init-password %s", h.port, password)
	install1 := wharf1 + " install --bundle " + m + "/" + filepath.Base(h.bundle1) + common

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		begin := time.Now()
		if !t.Run(name, f) {
			t.FailNow()
		}
		t.Logf("%s: %s", name, time.Since(begin).Round(time.Second))
	}

	step("refused", func(t *testing.T) {
		before := hostState(t, vm)
		// A bundle with one byte changed.
		vm.MustRun(t, fmt.Sprintf("cp %s/%s /root/corrupt.tar && printf X | dd of=/root/corrupt.tar bs=1 seek=$(( $(stat -c %%s /root/corrupt.tar) / 2 )) conv=notrunc status=none",
			m, filepath.Base(h.bundle1)))
		out := mustFail(t, vm, wharf1+" install --bundle /root/corrupt.tar"+common, 1)
		wantIn(t, out, "nothing was changed", "SHA-256")
		vm.MustRun(t, "rm /root/corrupt.tar")
		assertHostState(t, vm, before)

		// Podman missing.
		vm.MustRun(t, "mv /usr/bin/podman /usr/bin/podman.hidden")
		out = mustFail(t, vm, install1, 2)
		vm.MustRun(t, "mv /usr/bin/podman.hidden /usr/bin/podman")
		wantIn(t, out, "missing: podman: podman is not installed", "apt-get install podman", "nothing was changed")
		assertHostState(t, vm, before)

		// The port taken by another server.
		vm.MustRun(t, fmt.Sprintf("systemd-run --unit port-blocker %s serve --data-dir /tmp/blocker --listen 0.0.0.0:%d && sleep 1 && "+
			"for i in $(seq 60); do %s health --url http://127.0.0.1:%d/health/instance >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1", wharf1, h.port, wharf1, h.port))
		out = mustFail(t, vm, install1, 2)
		vm.MustRun(t, "systemctl stop port-blocker; rm -rf /tmp/blocker")
		wantIn(t, out, fmt.Sprintf("port %d", h.port), "nothing was changed")
		assertHostState(t, vm, before)
	})

	step("install", func(t *testing.T) {
		out := vm.MustRun(t, install1)
		wantIn(t, out, "wharf "+v1Version+" is installed", "registry:  https://localhost:", "podman login -u init", "CA:        /etc/wharf/tls-ca/rootCA.pem")
		for _, f := range []string{"/etc/systemd/system/wharf-registry.service", "/etc/systemd/system/wharf-postgres.service", "/etc/systemd/system/wharf-redis.service"} {
			vm.MustRun(t, "test -f "+f)
		}
		// Secrets stay out of unit files, and the files holding them are private.
		units := vm.MustRun(t, "cat /etc/systemd/system/wharf-*.service")
		for _, secret := range []string{readSecret(t, vm, "/etc/wharf/postgres.env", "POSTGRES_PASSWORD="), readSecret(t, vm, "/etc/wharf/redis/redis.conf", "requirepass ")} {
			if strings.Contains(units, secret) {
				t.Errorf("a secret appears in the unit files")
			}
		}
		modes := vm.MustRun(t, "stat -c '%a %u %n' /etc/wharf/postgres.env /etc/wharf/redis/redis.conf /etc/wharf/registry/config.yaml /etc/wharf/registry/ssl.key")
		wantIn(t, modes, "600 0 /etc/wharf/postgres.env", "600 999 /etc/wharf/redis/redis.conf", "600 1001 /etc/wharf/registry/config.yaml", "600 1001 /etc/wharf/registry/ssl.key")
		vm.CopyFrom("/etc/wharf/tls-ca/rootCA.pem", filepath.Join(h.dir, "certs", "ca.crt"))
	})

	step("install-again", func(t *testing.T) {
		before := vm.MustRun(t, "stat -c '%n %Y' /etc/systemd/system/wharf-* /etc/wharf/install.json /etc/wharf/registry/*")
		out := vm.MustRun(t, install1)
		wantIn(t, out, "is installed and healthy: nothing changed")
		if strings.Contains(out, "wrote ") || strings.Contains(out, "loading") {
			t.Errorf("the second install changed something:\n%s", out)
		}
		if after := vm.MustRun(t, "stat -c '%n %Y' /etc/systemd/system/wharf-* /etc/wharf/install.json /etc/wharf/registry/*"); after != before {
			t.Errorf("files changed:\n%s\nthen\n%s", before, after)
		}
	})

	step("status", func(t *testing.T) {
		st := status(t, vm, wharf1)
		if st.State.Version != v1Version || len(st.Units) != 3 || st.Health != "" {
			t.Fatalf("status: version %s, %d units, health %q", st.State.Version, len(st.Units), st.Health)
		}
		for _, u := range st.Units {
			if !u.Running() || u.UnitFileState != "enabled" {
				t.Errorf("%s: %s/%s, %s", u.Name, u.Active, u.Sub, u.UnitFileState)
			}
		}
		if c := st.Containers["registry"]; c == nil || c.Image != "localhost/wharf:"+v1Version {
			t.Errorf("registry container: %+v", c)
		}
		out := vm.MustRun(t, wharf1+" status")
		wantIn(t, out, "wharf-registry.service: active (running)", "registry: healthy")
	})

	ref := fmt.Sprintf("localhost:%d/init/hello:v1", h.port)
	step("push-pull", func(t *testing.T) {
		h.skopeo(t, "copy", "--dest-creds", "init:"+password, "docker-archive:"+h.image, "docker://"+ref)
		h.pullAndCompare(t, ref)
	})

	step("restart-on-failure", func(t *testing.T) {
		vm.MustRun(t, "podman kill wharf-registry")
		waitHealthy(t, vm, wharf1, 5*time.Minute)
		if n := strings.TrimSpace(vm.MustRun(t, "systemctl show -p NRestarts --value wharf-registry")); n == "0" {
			t.Errorf("NRestarts = 0 after the container was killed")
		}
		if logs := vm.MustRun(t, "journalctl -u wharf-registry --no-pager -o cat"); !strings.Contains(logs, "listening") && !strings.Contains(logs, "serving") {
			t.Logf("journal of wharf-registry (no start-up line found):\n%s", tail(logs, 20))
		}
	})

	step("reboot", func(t *testing.T) {
		vm.Reboot(t)
		waitHealthy(t, vm, wharf1, 10*time.Minute)
		h.pullAndCompare(t, ref)
	})

	step("upgrade", func(t *testing.T) {
		out := vm.MustRun(t, wharf2+" upgrade --bundle "+m+"/"+filepath.Base(h.bundle2))
		wantIn(t, out, "upgraded from "+v1Version+" to "+v2Version)
		st := status(t, vm, wharf2)
		if st.State.Version != v2Version || st.State.PreviousVersion != v1Version || st.Health != "" {
			t.Fatalf("after upgrade: version %s, previous %s, health %q", st.State.Version, st.State.PreviousVersion, st.Health)
		}
		if c := st.Containers["registry"]; c == nil || c.Image != "localhost/wharf:"+v2Version {
			t.Errorf("registry container after upgrade: %+v", c)
		}
		vm.MustRun(t, "test ! -e /var/lib/wharf/backup/postgres-"+v1Version)
		h.pullAndCompare(t, ref)
	})

	step("upgrade-rolls-back", func(t *testing.T) {
		before := vm.MustRun(t, "cat /etc/wharf/install.json; cat /etc/systemd/system/wharf-registry.service")
		out := mustFail(t, vm, wharf2+" upgrade --health-timeout 90s --bundle "+m+"/"+filepath.Base(h.bundle3), 3)
		wantIn(t, out, "upgrade to "+brokenVersion+" failed", "rolled back", "wharf "+v2Version+" runs as before")
		if after := vm.MustRun(t, "cat /etc/wharf/install.json; cat /etc/systemd/system/wharf-registry.service"); after != before {
			t.Errorf("state or units changed by a rolled-back upgrade:\n%s\nthen\n%s", before, after)
		}
		if out := vm.MustRun(t, "podman images --format '{{.Repository}}:{{.Tag}}'"); strings.Contains(out, brokenVersion) {
			t.Errorf("the broken image is still loaded:\n%s", out)
		}
		vm.MustRun(t, "test -z \"$(ls /var/lib/wharf/backup)\"")
		waitHealthy(t, vm, wharf2, time.Minute)
		h.pullAndCompare(t, ref)
	})

	step("uninstall-keeps-data", func(t *testing.T) {
		out := vm.MustRun(t, wharf2+" uninstall")
		wantIn(t, out, "is uninstalled; kept /etc/wharf and /var/lib/wharf")
		if left := vm.MustRun(t, "ls /etc/systemd/system | grep wharf; podman ps -a --format '{{.Names}}'; podman images -q; podman network ls --format '{{.Name}}' | grep wharf; true"); strings.TrimSpace(left) != "" {
			t.Errorf("left after uninstall:\n%s", left)
		}
		vm.MustRun(t, "test -d /var/lib/wharf/postgres && test -f /etc/wharf/registry/config.yaml && ! test -e /etc/wharf/install.json")
		mustFail(t, vm, wharf2+" status", 1)
	})

	step("reinstall-finds-data", func(t *testing.T) {
		out := vm.MustRun(t, wharf2+" install --bundle "+m+"/"+filepath.Base(h.bundle2)+common)
		wantIn(t, out, "wharf "+v2Version+" is installed", "the database already has users")
		h.pullAndCompare(t, ref)
	})

	step("purge", func(t *testing.T) {
		out := mustFail(t, vm, "echo no | "+wharf2+" uninstall --purge", 1)
		wantIn(t, out, "Type yes to go on", "aborted: nothing was changed")
		vm.MustRun(t, "test -f /etc/wharf/install.json")
		out = vm.MustRun(t, wharf2+" uninstall --purge --yes")
		wantIn(t, out, "deleted /var/lib/wharf", "deleted /etc/wharf")
		if left := vm.MustRun(t, "ls /etc/systemd/system | grep wharf; ls -d /etc/wharf /var/lib/wharf 2>/dev/null; podman ps -aq; podman images -q; true"); strings.TrimSpace(left) != "" {
			t.Errorf("left after uninstall --purge:\n%s", left)
		}
	})
}

// prepare builds the two wharf versions, the broken registry image, the Debian PostgreSQL and
// Redis images, and a bundle of each version with `wharf bundle create`.
func prepare(t *testing.T) *host {
	h := &host{dir: t.TempDir(), port: freePort(t)}
	os.MkdirAll(filepath.Join(h.dir, "certs"), 0o755)
	h.wharf1 = buildWharf(t, h.dir, v1Version)
	h.wharf2 = buildWharf(t, h.dir, v2Version)
	var archives []string
	for _, name := range debian.Names {
		path, err := debian.Build(t.Context(), name, debian.Options{Log: testLog{t}})
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, "--image-archive", name+"="+path)
	}
	h.bundle1 = makeBundle(t, h.wharf1, h.dir, "bundle-1.tar", archives...)
	h.bundle2 = makeBundle(t, h.wharf2, h.dir, "bundle-2.tar", archives...)

	broken := filepath.Join(h.dir, "brokenwharf")
	gobuild(t, broken, "-ldflags", "-s -w", "./testdata/brokenwharf")
	img, err := images.Wharf(broken, brokenVersion)
	if err != nil {
		t.Fatal(err)
	}
	brokenTar := filepath.Join(h.dir, "broken-image.tar")
	if err := images.WriteArchiveFile(brokenTar, map[string]v1.Image{images.WharfRepository + ":" + brokenVersion: img}); err != nil {
		t.Fatal(err)
	}
	h.bundle3 = makeBundle(t, h.wharf2, h.dir, "bundle-3-broken.tar", append(archives, "--image-archive", "registry="+brokenTar)...)

	rnd, err := random.Layer(256<<10, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	pushImg, err := mutate.AppendLayers(empty.Image, rnd)
	if err != nil {
		t.Fatal(err)
	}
	h.image = filepath.Join(h.dir, "hello.tar")
	tag, _ := name.NewTag("hello:v1")
	if err := tarball.WriteToFile(h.image, tag, pushImg); err != nil {
		t.Fatal(err)
	}
	return h
}

func buildWharf(t *testing.T, dir, version string) string {
	out := filepath.Join(dir, "wharf-"+version)
	gobuild(t, out, "-ldflags", "-s -w -X main.version="+version, "github.com/wharf-registry/wharf/cmd/wharf")
	return out
}

func gobuild(t *testing.T, out string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build", "-trimpath", "-o", out}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, b)
	}
}

func makeBundle(t *testing.T, wharf, dir, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command(wharf, append([]string{"bundle", "create", "-o", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wharf bundle create %s: %v\n%s", name, err, b)
	}
	return out
}

func (h *host) skopeo(t *testing.T, args ...string) string {
	t.Helper()
	full := append([]string{"--command-timeout", "5m"}, args...)
	for i, a := range full {
		if a == "copy" || a == "inspect" {
			flag := "--dest-cert-dir"
			if a == "inspect" {
				flag = "--cert-dir"
			}
			full = append(full[:i+1], append([]string{flag, filepath.Join(h.dir, "certs")}, full[i+1:]...)...)
			if a == "copy" {
				full = append(full[:i+1], append([]string{"--src-cert-dir", filepath.Join(h.dir, "certs")}, full[i+1:]...)...)
			}
			break
		}
	}
	out, err := exec.Command("skopeo", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pullAndCompare pulls ref with skopeo and checks that its one layer, uncompressed, is the
// layer pushed (skopeo compresses it on push, so compressed digests differ).
func (h *host) pullAndCompare(t *testing.T, ref string) {
	t.Helper()
	dst := t.TempDir()
	h.skopeo(t, "copy", "--src-creds", "init:"+password, "docker://"+ref, "dir:"+dst)
	img, err := tarball.ImageFromPath(h.image, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	want, _ := layers[0].DiffID()
	raw, err := os.ReadFile(filepath.Join(dst, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(raw, &man); err != nil || len(man.Layers) != 1 {
		t.Fatalf("pulled manifest: %v\n%s", err, raw)
	}
	f, err := os.Open(filepath.Join(dst, strings.TrimPrefix(man.Layers[0].Digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, zr); err != nil {
		t.Fatal(err)
	}
	if got := "sha256:" + hex.EncodeToString(sum.Sum(nil)); got != want.String() {
		t.Fatalf("pulled %s: layer content %s, want %s", ref, got, want)
	}
}

// hostState is what a refused install must leave as it found: Wharf's files and units, and
// Podman's images, containers and networks.
func hostState(t *testing.T, vm *testvm.VM) string {
	return vm.MustRun(t, "ls -d /etc/wharf /var/lib/wharf /etc/systemd/system/wharf-* 2>/dev/null; podman images -q; podman ps -aq; podman network ls -q; true")
}

func assertHostState(t *testing.T, vm *testvm.VM, before string) {
	t.Helper()
	if after := hostState(t, vm); after != before {
		t.Errorf("the refused install changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// mustFail runs cmd, which must exit with code, and returns its output (both streams).
func mustFail(t *testing.T, vm *testvm.VM, cmd string, code int) string {
	t.Helper()
	stdout, stderr, got, err := vm.Run(cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	if got != code {
		t.Fatalf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", cmd, got, code, stdout, stderr)
	}
	return stdout + stderr
}

func wantIn(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func readSecret(t *testing.T, vm *testvm.VM, file, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(vm.MustRun(t, "cat "+file), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok && len(v) > 8 {
			return v
		}
	}
	t.Fatalf("%s has no %s", file, prefix)
	return ""
}

func status(t *testing.T, vm *testvm.VM, wharf string) installer.Status {
	t.Helper()
	var st installer.Status
	out := vm.MustRun(t, wharf+" status --json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("wharf status --json: %v\n%s", err, out)
	}
	return st
}

// waitHealthy waits until `wharf status` says everything runs and the registry answers.
func waitHealthy(t *testing.T, vm *testvm.VM, wharf string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		stdout, stderr, code, err := vm.Run(wharf + " status")
		if err == nil && code == 0 {
			return
		}
		last = stdout + stderr
		time.Sleep(5 * time.Second)
	}
	t.Fatalf("not healthy within %s:\n%s", timeout, last)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func sizes(files ...string) string {
	var parts []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			parts = append(parts, fmt.Sprintf("%s %d MB", filepath.Base(f), st.Size()>>20))
		}
	}
	return strings.Join(parts, ", ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
