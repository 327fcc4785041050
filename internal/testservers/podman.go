package testservers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Podman runs Debian's podman with storage, run root, temporary directory, registries.conf
// and credentials all private to one test: no daemon, nothing shared with the host's podman.
type Podman struct {
	t        testing.TB
	bin      string
	base     []string
	env      []string
	authFile string
}

// NewPodman prepares a private podman.
func NewPodman(t testing.TB) *Podman {
	t.Helper()
	bin := LookTool(t, "podman")
	dir := t.TempDir()
	// podman refuses a run root path of 50 characters or more, which t.TempDir names exceed.
	short, err := os.MkdirTemp("", "wharf-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	conf := filepath.Join(dir, "registries.conf")
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(conf, []byte("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n"), 0o600)
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600)
	p := &Podman{t: t, bin: bin, authFile: filepath.Join(dir, "auth.json")}
	p.base = []string{
		"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(short, "run"), "--tmpdir", filepath.Join(short, "tmp"),
		"--storage-driver", "vfs", "--events-backend", "none", "--cgroup-manager", "cgroupfs",
	}
	p.env = append(os.Environ(), "REGISTRIES_CONFIG_PATH="+conf, "CONTAINERS_REGISTRIES_CONF="+conf,
		"CONTAINERS_POLICY_JSON="+policy, "REGISTRY_AUTH_FILE="+p.authFile, "HOME="+dir)
	return p
}

// Run runs podman with args (stdin fed from stdin) and returns its output and error.
func (p *Podman) Run(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, append(append([]string{}, p.base...), args...)...)
	cmd.Env = p.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Must runs podman and fails the test on error.
func (p *Podman) Must(args ...string) string {
	p.t.Helper()
	out, err := p.Run("", args...)
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Login signs in to host as user with `podman login --password-stdin`.
func (p *Podman) Login(host, user, password string) (string, error) {
	return p.Run(password, "login", "--tls-verify=false", "--authfile", p.authFile, "--username", user, "--password-stdin", host)
}

// ImportImage makes a local image named ref from one small layer of files.
func (p *Podman) ImportImage(ref string, files map[string]string) {
	p.t.Helper()
	tarball := filepath.Join(p.t.TempDir(), "layer.tar")
	var buf bytes.Buffer
	writeTar(p.t, &buf, files)
	if err := os.WriteFile(tarball, buf.Bytes(), 0o600); err != nil {
		p.t.Fatal(err)
	}
	p.Must("import", tarball, ref)
}

func writeTar(t testing.TB, w *bytes.Buffer, files map[string]string) {
	tw := tar.NewWriter(w)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
