package interop

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// podman runs podman with its own storage (vfs, which needs no kernel overlay support or
// privileges beyond root's), run root, temporary directory and auth file, all under one test
// directory: no daemon and nothing shared with the host's podman.
type podman struct {
	c        *clients
	base     []string
	authFile string
	// scratch is a short, lower-case directory: podman names an image pulled from an OCI
	// layout after the layout's path, which must be a valid repository name.
	scratch string
}

// newPodman prepares a podman whose storage lives in a fresh directory.
func newPodman(t *testing.T, c *clients) *podman {
	dir := t.TempDir()
	// podman refuses a run root of 50 characters or more, which t.TempDir names exceed.
	short, err := os.MkdirTemp("", "wharf-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	p := &podman{c: c, authFile: filepath.Join(dir, "auth.json"), scratch: short}
	p.base = []string{
		"--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(short, "run"),
		"--tmpdir", filepath.Join(short, "tmp"),
		"--storage-driver", "vfs",
		"--events-backend", "none",
		"--cgroup-manager", "cgroupfs",
	}
	return p
}

// run runs a podman command and returns its standard output.
func (p *podman) run(args ...string) string {
	p.c.t.Helper()
	return p.c.run("podman", append(append([]string{}, p.base...), args...)...)
}

// login signs in with `podman login --password-stdin`, as the server's start-up message
// suggests, keeping the credentials in this podman's own auth file.
func (p *podman) login() {
	p.c.t.Helper()
	args := append(append([]string{}, p.base...), "login", "--tls-verify=false", "--authfile", p.authFile,
		"--username", p.c.user, "--password-stdin", p.c.host)
	if out, stderr, err := p.c.exec("podman", p.c.password, args...); err != nil {
		p.c.t.Fatalf("podman login: %v\n%s%s", err, out, stderr)
	}
}

// testPodman pushes an image with podman from its own storage and pulls it back into a fresh
// storage. podman stores layers uncompressed and compresses them again on push, so the
// compressed bytes differ from the layout's; what must survive is the config byte for byte,
// the uncompressed layers byte for byte, and the digest podman reports for its push. podman
// also pulls one platform out of a multi-arch index pushed by skopeo.
func testPodman(t *testing.T, w *testservers.Wharf) {
	c := newClients(t, w, w.User, w.Password)
	img := newImage(t, imageSpec{Seed: "podman", Layers: 2})
	ref := c.ref("admin/podman:v1")

	pusher := newPodman(t, c)
	pusher.login()
	layout := filepath.Join(pusher.scratch, "layout")
	writeLayout(t, layout, "v1", img.Desc(), img.AllBlobs())
	pusher.run("pull", "oci:"+layout+":v1")
	id := strings.TrimSpace(pusher.run("images", "--quiet", "--no-trunc"))
	if id != digestOf(img.Config) {
		t.Fatalf("podman image id %q, want the config digest %s", id, digestOf(img.Config))
	}
	pusher.run("tag", id, ref)
	digestFile := filepath.Join(t.TempDir(), "digest")
	pusher.run("push", "--tls-verify=false", "--authfile", pusher.authFile, "--digestfile", digestFile, ref)
	pushed := strings.TrimSpace(string(readFile(t, digestFile)))
	c.assertManifestIs("admin/podman", "v1", pushed)

	// What the registry holds: the config as built, layers that decompress to the tars built.
	stored := c.manifest("admin/podman", "v1")
	var m manifestJSON
	decode(t, string(stored.Body), &m)
	if m.Config == nil || m.Config.Digest != digestOf(img.Config) || len(m.Layers) != len(img.LayerTars) {
		t.Fatalf("podman pushed manifest %s; want config %s and %d layers", stored.Body, digestOf(img.Config), len(img.LayerTars))
	}
	if got := c.blob("admin/podman", m.Config.Digest); !bytes.Equal(got, img.Config) {
		t.Errorf("stored config differs from the one built")
	}
	for i, l := range m.Layers {
		if got := gunzip(t, c.blob("admin/podman", l.Digest)); !bytes.Equal(got, img.LayerTars[i]) {
			t.Errorf("layer %d (%s) decompresses to %d bytes that differ from the %d-byte tar built", i, l.Digest, len(got), len(img.LayerTars[i]))
		}
	}

	// A fresh podman pulls it and saves it uncompressed: config and layer tars as built.
	puller := newPodman(t, c)
	puller.login()
	puller.run("pull", "--tls-verify=false", "--authfile", puller.authFile, ref)
	var inspected []struct {
		ID          string   `json:"Id"`
		RepoDigests []string `json:"RepoDigests"`
	}
	decode(t, puller.run("image", "inspect", ref), &inspected)
	if len(inspected) != 1 || inspected[0].ID != strings.TrimPrefix(digestOf(img.Config), "sha256:") || !slices.Contains(inspected[0].RepoDigests, c.ref("admin/podman@"+pushed)) {
		t.Errorf("podman image inspect after pull: %+v; want id %s and repo digest %s", inspected, digestOf(img.Config), pushed)
	}
	out := filepath.Join(t.TempDir(), "saved")
	puller.run("save", "--format", "oci-dir", "--uncompressed", "--output", out, ref)
	_, blobs := readLayout(t, out)
	if !bytes.Equal(blobs[digestOf(img.Config)], img.Config) {
		t.Errorf("podman save: config %s missing or different", digestOf(img.Config))
	}
	for i, tarball := range img.LayerTars {
		if !bytes.Equal(blobs[digestOf(tarball)], tarball) {
			t.Errorf("podman save: uncompressed layer %d (%s) missing or different", i, digestOf(tarball))
		}
	}

	// podman push of the pulled image to another repository, then crane sees the same image.
	ref2 := c.ref("admin/podman-again:v1")
	puller.run("tag", ref, ref2)
	puller.run("push", "--tls-verify=false", "--authfile", puller.authFile, ref2)
	if got := c.crane("config", ref2); got != string(img.Config) {
		t.Errorf("crane config %s differs from the config built:\ngot  %s\nwant %s", ref2, got, img.Config)
	}

	// podman picks one platform out of a multi-arch index.
	idx := newIndex(t, "podman-multi", "linux/amd64", "linux/arm64")
	layout = filepath.Join(t.TempDir(), "index")
	writeLayout(t, layout, "v1", descriptor{MediaType: mtOCIIndex, Digest: idx.Digest, Size: int64(len(idx.Manifest))}, idx.Blobs())
	c.skopeo("copy", "--all", "oci:"+layout+":v1", "docker://"+c.ref("admin/podman-multi:v1"))
	arm := idx.Image(t, "linux/arm64")
	puller.run("pull", "--tls-verify=false", "--authfile", puller.authFile, "--platform", "linux/arm64", c.ref("admin/podman-multi:v1"))
	decode(t, puller.run("image", "inspect", c.ref("admin/podman-multi:v1")), &inspected)
	if len(inspected) != 1 || inspected[0].ID != strings.TrimPrefix(digestOf(arm.Config), "sha256:") {
		t.Errorf("podman pull --platform linux/arm64: image %+v, want the arm64 config %s", inspected, digestOf(arm.Config))
	}
}
