package interop

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// testMultiArchIndex pushes an OCI index of two platform images with skopeo, copies it to
// other repositories with crane and regctl, and pulls every copy back with skopeo: each pull
// must return the pushed index, manifests, configs and layers byte for byte. crane sees the
// index under its digest and regctl resolves the linux/arm64 child.
func testMultiArchIndex(t *testing.T, w *testservers.Wharf) {
	c := newClients(t, w, w.User, w.Password)
	idx := newIndex(t, "multiarch", "linux/amd64", "linux/arm64")
	src := filepath.Join(t.TempDir(), "src")
	writeLayout(t, src, "v1", descriptor{MediaType: mtOCIIndex, Digest: idx.Digest, Size: int64(len(idx.Manifest))}, idx.Blobs())

	c.skopeo("copy", "--all", "oci:"+src+":v1", "docker://"+c.ref("admin/multi:v1"))
	c.assertManifestIs("admin/multi", "v1", idx.Digest)

	c.crane("copy", c.ref("admin/multi:v1"), c.ref("admin/multi-crane:v1"))
	c.regctl("image", "copy", c.ref("admin/multi:v1"), c.ref("admin/multi-regctl:v1"))

	for _, repo := range []string{"admin/multi", "admin/multi-crane", "admin/multi-regctl"} {
		// crane manifest returns the index itself, under the pushed digest.
		got := c.crane("manifest", c.ref(repo+":v1"))
		if got != string(idx.Manifest) {
			t.Errorf("crane manifest %s:v1 differs from the pushed index:\ngot  %s\nwant %s", repo, got, idx.Manifest)
		}
		if dg := strings.TrimSpace(c.crane("digest", c.ref(repo+":v1"))); dg != idx.Digest {
			t.Errorf("crane digest %s:v1 = %s, want %s", repo, dg, idx.Digest)
		}
		r := c.manifest(repo, "v1")
		if ct := r.Header.Get("Content-Type"); ct != mtOCIIndex {
			t.Errorf("%s:v1 Content-Type = %q, want %q", repo, ct, mtOCIIndex)
		}

		// skopeo pulls everything back into a fresh layout.
		out := filepath.Join(t.TempDir(), "out")
		c.skopeo("copy", "--all", "docker://"+c.ref(repo+":v1"), "oci:"+out+":v1")
		top, blobs := readLayout(t, out)
		if len(top) != 1 || top[0].Digest != idx.Digest || top[0].MediaType != mtOCIIndex {
			t.Errorf("%s: pulled layout's index.json lists %+v, want the index %s", repo, top, idx.Digest)
		}
		assertBlobs(t, "skopeo pull of "+repo, blobs, idx.Blobs())

		// The registry serves each blob as pushed (through S3 redirects or proxying).
		for _, img := range idx.Images {
			for d, b := range img.Blobs {
				if got := c.blob(repo, d); !bytes.Equal(got, b) {
					t.Errorf("GET %s blob %s: %d bytes differ from the %d pushed", repo, d, len(got), len(b))
				}
			}
		}
	}

	// regctl resolves a platform to the child manifest.
	arm := idx.Image(t, "linux/arm64")
	got := c.regctl("manifest", "get", "--platform", "linux/arm64", "--format", "raw-body", c.ref("admin/multi:v1"))
	if got != string(arm.Manifest) {
		t.Errorf("regctl manifest get --platform linux/arm64: got\n%s\nwant the arm64 manifest %s\n%s", got, arm.Digest, arm.Manifest)
	}
	dg := strings.TrimSpace(c.regctl("image", "digest", "--platform", "linux/arm64", c.ref("admin/multi-regctl:v1")))
	if dg != arm.Digest {
		t.Errorf("regctl image digest --platform linux/arm64 = %s, want %s", dg, arm.Digest)
	}
	var cfg struct{ Architecture, OS string }
	if err := json.Unmarshal([]byte(c.crane("config", "--platform", "linux/arm64", c.ref("admin/multi-crane:v1"))), &cfg); err != nil {
		t.Fatalf("crane config: %v", err)
	}
	if cfg.Architecture != "arm64" || cfg.OS != "linux" {
		t.Errorf("crane config --platform linux/arm64 = %+v", cfg)
	}
}
