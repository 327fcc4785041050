package interop

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// testDockerSchema2 pushes Docker schema 2 images three ways (`skopeo copy --format v2s2` from
// an OCI layout, `crane push` of a `docker save` tarball and of a layout), checks that the registry
// keeps them as Docker schema 2 (manifest media type, Content-Type, config media type), and
// pulls them with `crane pull` and `skopeo copy ... dir:`, comparing every byte.
func testDockerSchema2(t *testing.T, w *testservers.Wharf) {
	pushes := []struct {
		name string
		// push pushes img to ref and returns the manifest pushed when the client sends it
		// unchanged (nil when the client writes its own).
		push func(t *testing.T, c *clients, spec imageSpec, ref string) []byte
	}{
		// An OCI layout holds OCI manifests only (containers/image ignores others), so skopeo
		// converts the OCI manifest of the same config and layers to Docker schema 2.
		{"skopeo", func(t *testing.T, c *clients, spec imageSpec, ref string) []byte {
			spec.Docker = false
			layout := imageLayout(t, newImage(t, spec), "v1")
			c.skopeo("copy", "--format", "v2s2", "oci:"+layout+":v1", "docker://"+ref)
			return nil
		}},
		// crane pushes a `docker save` tarball as Docker schema 2 with the layers as they are.
		{"crane", func(t *testing.T, c *clients, spec imageSpec, ref string) []byte {
			c.crane("push", dockerArchive(t, newImage(t, spec), "example/docker:v1"), ref)
			return nil
		}},
		// crane pushes an image of a layout as it is: the stored manifest is the one built here.
		{"crane-layout", func(t *testing.T, c *clients, spec imageSpec, ref string) []byte {
			img := newImage(t, spec)
			c.crane("push", imageLayout(t, img, "v1"), ref)
			return img.Manifest
		}},
	}
	for _, p := range pushes {
		t.Run("push-"+p.name, func(t *testing.T) {
			c := newClients(t, w, w.User, w.Password)
			spec := imageSpec{Seed: "docker-" + p.name, Docker: true, Layers: 2}
			img := newImage(t, spec)
			repo := "admin/docker-" + p.name
			pushed := p.push(t, c, spec, c.ref(repo+":v1"))

			head := c.http(http.MethodHead, "/v2/"+repo+"/manifests/v1", acceptAll)
			if ct := head.Header.Get("Content-Type"); head.Status != http.StatusOK || ct != mtDockerManifest {
				t.Fatalf("HEAD %s:v1: %d Content-Type %q, want 200 %q", repo, head.Status, ct, mtDockerManifest)
			}
			stored := []byte(c.crane("manifest", c.ref(repo+":v1")))
			dg := head.Header.Get("Docker-Content-Digest")
			if digestOf(stored) != dg {
				t.Errorf("crane manifest has digest %s, HEAD says %s", digestOf(stored), dg)
			}
			if pushed != nil && !bytes.Equal(stored, pushed) {
				t.Errorf("stored manifest differs from the pushed one:\ngot  %s\nwant %s", stored, pushed)
			}
			var m manifestJSON
			if err := json.Unmarshal(stored, &m); err != nil {
				t.Fatal(err)
			}
			if m.MediaType != mtDockerManifest || m.Config == nil || m.Config.MediaType != mtDockerConfig {
				t.Fatalf("stored manifest is not Docker schema 2: %s", stored)
			}
			if m.Config.Digest != digestOf(img.Config) || len(m.Layers) != len(img.Layers) {
				t.Fatalf("stored manifest does not reference the pushed config and layers: %s", stored)
			}
			for i, l := range m.Layers {
				if l.MediaType != mtDockerLayer || l.Digest != digestOf(img.Layers[i]) {
					t.Errorf("layer %d: %s %s, want %s %s", i, l.MediaType, l.Digest, mtDockerLayer, digestOf(img.Layers[i]))
				}
			}
			want := map[string][]byte{dg: stored}
			for d, b := range img.Blobs {
				want[d] = b
			}

			// crane pull, as an OCI layout (raw manifest and blobs).
			out := filepath.Join(t.TempDir(), "crane")
			c.crane("pull", "--format", "oci", c.ref(repo+":v1"), out)
			top, blobs := readLayout(t, out)
			if len(top) != 1 || top[0].Digest != dg || top[0].MediaType != mtDockerManifest {
				t.Errorf("crane pull layout lists %+v, want %s %s", top, mtDockerManifest, dg)
			}
			assertBlobs(t, "crane pull", blobs, want)

			// crane pull as a tarball: the layers inside are the compressed layers pushed.
			tarball := filepath.Join(t.TempDir(), "image.tar")
			c.crane("pull", c.ref(repo+":v1"), tarball)
			files := untar(t, readFile(t, tarball))
			for d, b := range img.Blobs {
				found := false
				for _, f := range files {
					found = found || bytes.Equal(f, b)
				}
				if !found {
					t.Errorf("crane pull tarball has no file with blob %s", d)
				}
			}

			// skopeo copy to a dir: directory (manifest.json and one file per blob).
			dir := filepath.Join(t.TempDir(), "skopeo")
			c.skopeo("copy", "docker://"+c.ref(repo+":v1"), "dir:"+dir)
			if got := readFile(t, filepath.Join(dir, "manifest.json")); !bytes.Equal(got, stored) {
				t.Errorf("skopeo dir: manifest.json differs from the stored manifest:\ngot  %s\nwant %s", got, stored)
			}
			gotBlobs := map[string][]byte{dg: readFile(t, filepath.Join(dir, "manifest.json"))}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() == "manifest.json" || e.Name() == "version" {
					continue
				}
				b := readFile(t, filepath.Join(dir, e.Name()))
				if d := digestOf(b); !strings.HasSuffix(d, e.Name()) {
					t.Errorf("skopeo dir: file %s has digest %s", e.Name(), d)
				}
				gotBlobs[digestOf(b)] = b
			}
			assertBlobs(t, "skopeo dir pull", gotBlobs, want)
		})
	}
}
