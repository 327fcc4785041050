// Package bundle tests `wharf bundle create` and `wharf bundle verify` as a user runs them: the
// real binary, built as `make build` builds it, pulls from a real `wharf serve` with the
// credentials of `docker login`, downloads from a real HTTP server, builds the registry image
// from itself, and the images it bundles load into podman under the names and IDs the
// manifest records.
package bundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testservers.StopAll()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const version = "9.8.7-e2e"

var (
	buildOnce sync.Once
	buildDir  string
	staticBin string
	buildErr  error
)

// wharfStatic returns $WHARF_BINARY, or a wharf built as `make build` builds it: static
// (CGO_ENABLED=0, so the wharf image built from it runs) with main.version set.
func wharfStatic(t *testing.T) (bin, ver string) {
	t.Helper()
	if p := os.Getenv("WHARF_BINARY"); p != "" {
		v, err := airgap.ProbeBinaryVersion(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		return p, v
	}
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "wharf-static-")
		if err != nil {
			buildErr = err
			return
		}
		staticBin = filepath.Join(buildDir, "wharf")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", staticBin, "./cmd/wharf")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/wharf: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build wharf: %v", buildErr)
	}
	return staticBin, version
}

// run runs the binary with a private HOME and Docker config and returns its combined output
// and exit code.
func run(t *testing.T, env []string, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		}
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return out.String(), 0
}

func linuxImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(8192, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBundleEndToEnd: create a bundle with the CLI from a registry, a download and the binary
// itself, verify it, load its images into podman, and have verify refuse damaged copies.
func TestBundleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wharf and starts a registry")
	}
	bin, ver := wharfStatic(t)
	if out, code := run(t, nil, bin, "bundle", "--help"); code != 0 {
		t.Fatalf("`wharf bundle` is not a command of the binary (cmd/wharf/main.go must add bundleCommand()):\n%s", out)
	}

	// A registry holding the PostgreSQL and Redis images, and `docker login` credentials for it.
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	auth := remote.WithAuth(&authn.Basic{Username: w.User, Password: w.Password})
	pushed := map[string]v1.Image{"postgres": linuxImage(t, 2), "redis": linuxImage(t, 1)}
	refs := map[string]string{"postgres": w.Host + "/admin/postgres:15", "redis": w.Host + "/admin/redis:7"}
	for comp, img := range pushed {
		ref, _ := name.ParseReference(refs[comp], name.Insecure)
		if err := remote.Write(ref, img, auth); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
	home := t.TempDir()
	dockerDir := filepath.Join(home, ".docker")
	os.MkdirAll(dockerDir, 0o700)
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{w.Host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(w.User + ":" + w.Password))}}})
	os.WriteFile(filepath.Join(dockerDir, "config.json"), cfg, 0o600)
	env := []string{"HOME=" + home, "DOCKER_CONFIG=" + dockerDir, "REGISTRY_AUTH_FILE=", "XDG_RUNTIME_DIR="}

	// Vulnerability data on an HTTP server.
	files := t.TempDir()
	vulndb := make([]byte, 1<<20)
	rand.Read(vulndb)
	os.WriteFile(filepath.Join(files, "vulndb.tar.gz"), vulndb, 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(files)))
	defer srv.Close()

	dir := t.TempDir()
	bundle := filepath.Join(dir, "wharf-bundle.tar")
	out, code := run(t, env, bin, "bundle", "create", "-o", bundle,
		"--image", "postgres="+refs["postgres"], "--image", "redis="+refs["redis"],
		"--insecure-registry", w.Host, "--file", "vulndb:"+srv.URL+"/vulndb.tar.gz")
	if code != 0 {
		t.Fatalf("bundle create exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Wrote " + bundle, "localhost/wharf:" + ver + " (built from the wharf binary " + ver + ")",
		refs["postgres"], "downloading vulndb.tar.gz", "pulling " + refs["redis"], "SHA-256 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(bundle + ".parts"); err == nil {
		t.Error("the default work directory was left behind after success")
	}

	out, code = run(t, env, bin, "bundle", "verify", bundle)
	if code != 0 || !strings.Contains(out, "OK: all 5 members are present and intact") {
		t.Fatalf("bundle verify exited %d:\n%s", code, out)
	}

	// Every image loads into podman under the name and ID the manifest records.
	b, err := airgap.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	podman := testservers.NewPodman(t)
	for _, comp := range airgap.Components {
		mem, ok := b.Manifest().Image(comp)
		if !ok {
			t.Fatalf("no %s image", comp)
		}
		archive := filepath.Join(t.TempDir(), comp+".tar")
		if err := b.Extract(mem.Path, archive, 0o600); err != nil {
			t.Fatal(err)
		}
		podman.Must("load", "-i", archive)
		id := strings.TrimSpace(podman.Must("image", "inspect", "--format", "{{.Id}}", mem.Ref))
		if "sha256:"+id != mem.ImageID {
			t.Errorf("%s: podman loaded %s as image %s, the manifest says %s", comp, mem.Ref, id, mem.ImageID)
		}
	}
	if bm, _ := b.Manifest().Binary(); bm.Version != ver {
		t.Errorf("binary version %q, want %q", bm.Version, ver)
	}

	// Damaged copies are refused, naming the damage and what to do.
	data, _ := os.ReadFile(bundle)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", data[:len(data)*2/3], "cut short"},
		{"flipped byte", func() []byte { d := bytes.Clone(data); d[len(d)/2] ^= 1; return d }(), "corrupt: its SHA-256 is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), "wharf-bundle.tar")
			os.WriteFile(copyPath, tc.data, 0o644)
			out, code := run(t, env, bin, "bundle", "verify", copyPath)
			if code == 0 {
				t.Fatalf("verify accepted a %s bundle:\n%s", tc.name, out)
			}
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "Copy the bundle again") {
				t.Errorf("verify output does not name the damage (%q) and what to do:\n%s", tc.want, out)
			}
		})
	}
}
