package testvm

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	helloRef      = "localhost/wharf-testvm-hello:v1"
	helloGreeting = "hello from a container in the wharf test VM"
)

// TestVM is the harness's smoke test: the image builds (or comes from the cache), boots, and
// gives a guest in which systemd starts, Podman runs containers as root and rootless, nothing
// reaches out of the VM, forwarded ports and the media disk work, files copy both ways, and a
// reboot comes back.
func TestVM(t *testing.T) {
	SkipUnlessEnabled(t)
	archive := buildHelloImage(t)

	start := time.Now()
	disk, err := BuildImage(t.Context(), ImageOptions{Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image ready in %s", time.Since(start).Round(time.Second))

	samePort := freePort(t)
	start = time.Now()
	vm := Boot(t, Options{Image: disk, Forward: []int{8080}, ForwardSamePort: []int{samePort}, Media: []string{archive}})
	state := vm.WaitRunning(t)
	t.Logf("booted to systemd %s in %s", state, time.Since(start).Round(time.Second))

	t.Run("run", func(t *testing.T) {
		stdout, stderr, code, err := vm.Run("echo out; echo err >&2; exit 3")
		if err != nil || code != 3 || stdout != "out\n" || stderr != "err\n" {
			t.Errorf("Run = %q, %q, %d, %v; want out, err, 3, nil", stdout, stderr, code, err)
		}
		if got, _, _, err := vm.RunAs("tester", "id -un"); err != nil || got != "tester\n" {
			t.Errorf("RunAs tester: id -un = %q, %v", got, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		if _, _, _, err := vm.RunContext(ctx, "root", "sleep 300"); err == nil || time.Since(start) > time.Minute {
			t.Errorf("RunContext with a 2s deadline: %v after %s, want a deadline error at once", err, time.Since(start))
		}
	})

	t.Run("podman", func(t *testing.T) {
		version := strings.TrimSpace(vm.MustRun(t, "podman version --format '{{.Client.Version}}'"))
		if !versionAtLeast(version, 4, 3) {
			t.Errorf("podman %s in the VM, want >= 4.3", version)
		}
		info := strings.TrimSpace(vm.MustRun(t, "podman info --format '{{.Host.NetworkBackend}} {{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}} {{.Host.CgroupsVersion}}'"))
		if info != "netavark crun overlay v2" {
			t.Errorf("podman info: network backend, runtime, storage driver, cgroups = %q, want netavark crun overlay v2", info)
		}
	})

	t.Run("container from the media disk", func(t *testing.T) {
		out := vm.MustRun(t, "podman load -i "+MediaDir+"/"+filepath.Base(archive))
		if !strings.Contains(out, helloRef) {
			t.Fatalf("podman load: %s; want it to load %s", out, helloRef)
		}
		if got := strings.TrimSpace(vm.MustRun(t, "podman run --rm "+helloRef)); got != helloGreeting {
			t.Errorf("podman run printed %q, want %q", got, helloGreeting)
		}
	})

	t.Run("forwarded ports", func(t *testing.T) {
		vm.MustRun(t, fmt.Sprintf("podman run -d --init --name hello -p 8080:8080 -p %d:8080 %s serve :8080", samePort, helloRef))
		if got, want := vm.Addr(samePort), "127.0.0.1:"+strconv.Itoa(samePort); got != want {
			t.Errorf("Addr(%d) = %s, want the same port on the host, %s", samePort, got, want)
		}
		for _, guestPort := range []int{8080, samePort} {
			url := "http://" + vm.Addr(guestPort) + "/"
			var body string
			deadline := time.Now().Add(2 * time.Minute)
			for {
				body, err = httpGet(url)
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Second)
			}
			if err != nil {
				t.Fatalf("GET %s (guest port %d): %v", url, guestPort, err)
			}
			if strings.TrimSpace(body) != helloGreeting {
				t.Errorf("GET %s = %q, want %q", url, body, helloGreeting)
			}
		}
	})

	t.Run("no network out", func(t *testing.T) {
		// A listener on the host's loopback: the guest must not reach it through qemu's
		// gateway address either, only the ports forwarded into the guest.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("HTTP/1.0 200 OK\r\n\r\nreached the host\n"))
				c.Close()
			}
		}()
		for _, target := range []string{"http://1.1.1.1/", "http://10.0.2.2:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + "/"} {
			stdout, stderr, code, err := vm.Run("curl -sS -m 5 " + target)
			if err != nil {
				t.Fatal(err)
			}
			if code == 0 {
				t.Errorf("curl %s from the VM succeeded (%q): the guest must have no network out", target, stdout)
			} else {
				t.Logf("curl %s: exit %d: %s", target, code, strings.TrimSpace(stderr))
			}
		}
	})

	t.Run("copy", func(t *testing.T) {
		data := make([]byte, 1<<20)
		rand.Read(data)
		sum := sha256.Sum256(data)
		local := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(local, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := vm.CopyTo(local, "/root/copied/data"); err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(vm.MustRun(t, "sha256sum /root/copied/data; stat -c %a /root/copied/data"))
		if len(got) != 3 || got[0] != hex.EncodeToString(sum[:]) || got[2] != "640" {
			t.Errorf("in the VM: sha256 and mode %v, want %x and 640", got, sum)
		}
		back := filepath.Join(t.TempDir(), "back")
		if err := vm.CopyFrom("/root/copied/data", back); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(back); !bytes.Equal(b, data) {
			t.Errorf("CopyFrom gave %d bytes that differ from the %d copied in", len(b), len(data))
		}
		if err := vm.CopyFrom("/root/no-such-file", back); err == nil || !strings.Contains(err.Error(), "No such file") {
			t.Errorf("CopyFrom of a missing file: %v, want the guest's No such file error", err)
		}
	})

	t.Run("rootless", func(t *testing.T) {
		stdout, stderr, code, err := vm.RunAs("tester", "podman load -q -i "+MediaDir+"/"+filepath.Base(archive)+" >/dev/null && podman run --rm "+helloRef+" && podman info --format '{{.Host.Security.Rootless}}'")
		if err != nil || code != 0 {
			t.Fatalf("rootless podman as tester: exit %d, %v\n%s%s", code, err, stdout, stderr)
		}
		if want := helloGreeting + "\ntrue\n"; stdout != want {
			t.Errorf("rootless podman printed %q, want %q", stdout, want)
		}
	})

	t.Run("reboot", func(t *testing.T) {
		vm.MustRun(t, "echo kept >/var/lib/wharf-testvm-marker")
		before := vm.MustRun(t, "cat /proc/sys/kernel/random/boot_id")
		start := time.Now()
		vm.Reboot(t)
		t.Logf("reboot took %s", time.Since(start).Round(time.Second))
		if after := vm.MustRun(t, "cat /proc/sys/kernel/random/boot_id"); after == before {
			t.Errorf("boot ID %s did not change", strings.TrimSpace(after))
		}
		if got := strings.TrimSpace(vm.MustRun(t, "cat /var/lib/wharf-testvm-marker")); got != "kept" {
			t.Errorf("file written before the reboot holds %q", got)
		}
		if out := vm.MustRun(t, "ls "+MediaDir); !strings.Contains(out, filepath.Base(archive)) {
			t.Errorf("media disk not mounted again after the reboot: ls %s = %q", MediaDir, out)
		}
		if out := vm.MustRun(t, "podman images --format '{{.Repository}}:{{.Tag}}'"); !strings.Contains(out, helloRef) {
			t.Errorf("podman images after the reboot: %q, want %s", out, helloRef)
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		start := time.Now()
		if err := vm.Shutdown(); err != nil {
			t.Fatal(err)
		}
		t.Logf("powered off in %s", time.Since(start).Round(time.Second))
		if _, _, _, err := vm.Run("true"); err == nil {
			t.Error("a command ran after Shutdown")
		}
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// buildHelloImage compiles testdata/hello as a static binary and packs it as a one-layer
// image in a docker-archive tarball, which podman load reads.
func buildHelloImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/hello: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)})
	tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Entrypoint = []string{"/hello"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(helloRef)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "hello.tar")
	if err := tarball.WriteToFile(archive, ref, img); err != nil {
		t.Fatal(err)
	}
	return archive
}

func httpGet(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), nil
}

// versionAtLeast reports whether a dotted version is at least major.minor.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
