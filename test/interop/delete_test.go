package interop

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// testCopyAndDelete copies an image between repositories with skopeo, adds tags with crane,
// and deletes with four clients: `skopeo delete` and `oras manifest delete` (by tag, which
// both resolve and delete the manifest), `crane delete` of a digest and `regctl tag delete`
// (the tag alone). Deleted references answer 404 MANIFEST_UNKNOWN; every other tag, and the
// source repository, stay.
func testCopyAndDelete(t *testing.T, w *testservers.Wharf) {
	c := newClients(t, w, w.User, w.Password)
	const src, dst = "admin/copy-src", "admin/copy-dst"
	imgs := map[string]testImage{}
	for _, name := range []string{"a", "b", "c", "d", "keep"} {
		imgs[name] = newImage(t, imageSpec{Seed: "delete-" + name})
	}

	// skopeo copies between repositories; the copy has the same manifest and blobs.
	a := imgs["a"]
	c.skopeo("copy", "oci:"+imageLayout(t, a, "v1")+":v1", "docker://"+c.ref(src+":v1"))
	c.skopeo("copy", "docker://"+c.ref(src+":v1"), "docker://"+c.ref(dst+":a"))
	if got := c.manifest(dst, "a").Body; !bytes.Equal(got, a.Manifest) {
		t.Fatalf("copied manifest differs:\ngot  %s\nwant %s", got, a.Manifest)
	}
	for d, b := range a.Blobs {
		if got := c.blob(dst, d); !bytes.Equal(got, b) {
			t.Errorf("copied blob %s differs", d)
		}
	}
	var inspected struct{ Digest string }
	decode(t, c.skopeo("inspect", "docker://"+c.ref(dst+":a")), &inspected)
	if inspected.Digest != a.Digest {
		t.Errorf("skopeo inspect %s:a: digest %s, want %s", dst, inspected.Digest, a.Digest)
	}

	for _, name := range []string{"b", "c", "d", "keep"} {
		c.crane("push", imageLayout(t, imgs[name], name), c.ref(dst+":"+name))
	}
	for _, tag := range [][2]string{{"a", "a-alias"}, {"c", "c-extra"}, {"d", "d-alias"}} {
		c.crane("tag", c.ref(dst+":"+tag[0]), tag[1])
	}
	for tag, name := range map[string]string{"a": "a", "a-alias": "a", "b": "b", "c": "c", "c-extra": "c", "d": "d", "d-alias": "d", "keep": "keep"} {
		c.assertManifestIs(dst, tag, imgs[name].Digest)
	}

	c.skopeo("delete", "docker://"+c.ref(dst+":a"))
	c.crane("delete", c.ref(dst+"@"+imgs["b"].Digest))
	c.regctl("tag", "delete", c.ref(dst+":c-extra"))
	c.oras("manifest", "delete", "--force", c.ref(dst+":d"))

	// Manifests deleted by digest take all their tags along; a deleted tag leaves its manifest.
	for _, ref := range []string{"a", "a-alias", a.Digest, "b", imgs["b"].Digest, "c-extra", "d", "d-alias", imgs["d"].Digest} {
		c.assertManifestGone(dst, ref)
	}
	c.assertManifestIs(dst, "c", imgs["c"].Digest)
	c.assertManifestIs(dst, imgs["c"].Digest, imgs["c"].Digest)
	c.assertManifestIs(dst, "keep", imgs["keep"].Digest)
	c.assertManifestIs(src, "v1", a.Digest)

	var list struct{ Tags []string }
	r := c.http(http.MethodGet, "/v2/"+dst+"/tags/list", nil)
	if err := json.Unmarshal(r.Body, &list); err != nil || !slices.Equal(list.Tags, []string{"c", "keep"}) {
		t.Errorf("tags of %s after the deletes: %s, want [c keep]", dst, r.Body)
	}
	if got := strings.Fields(c.crane("ls", c.ref(dst))); !slices.Equal(got, []string{"c", "keep"}) {
		t.Errorf("crane ls %s = %v, want [c keep]", dst, got)
	}
	// What remains still pulls intact.
	out := t.TempDir() + "/keep"
	c.crane("pull", "--format", "oci", c.ref(dst+":keep"), out)
	_, blobs := readLayout(t, out)
	assertBlobs(t, "crane pull after the deletes", blobs, imgs["keep"].AllBlobs())
}
