package interop

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// testAccessControl checks what real clients may do without credentials and as an ordinary
// user: after POST /api/v1/repository/.../changevisibility makes a repository public, crane
// and skopeo pull it anonymously; a private repository pulled anonymously fails with an
// authorization error that does not reveal whether it exists; a second user cannot push
// into admin's namespace but can push into their own.
func testAccessControl(t *testing.T, w *testservers.Wharf) {
	admin := newClients(t, w, w.User, w.Password)
	const public, private = "admin/public-thing", "admin/private-thing"
	pub := newImage(t, imageSpec{Seed: "public"})
	priv := newImage(t, imageSpec{Seed: "private"})
	admin.crane("push", imageLayout(t, pub, "v1"), admin.ref(public+":v1"))
	admin.crane("push", imageLayout(t, priv, "v1"), admin.ref(private+":v1"))

	r := admin.httpBody(http.MethodPost, "/api/v1/repository/"+public+"/changevisibility",
		http.Header{"Content-Type": {"application/json"}}, []byte(`{"visibility":"public"}`))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"success":true`) {
		t.Fatalf("changevisibility: %d %s", r.Status, r.Body)
	}

	t.Run("anonymous-pull-public", func(t *testing.T) {
		anon := newClients(t, w, "", "")
		out := filepath.Join(t.TempDir(), "public")
		anon.crane("pull", "--format", "oci", anon.ref(public+":v1"), out)
		_, blobs := readLayout(t, out)
		assertBlobs(t, "anonymous crane pull", blobs, pub.AllBlobs())
		var inspected struct{ Digest string }
		decode(t, anon.skopeo("inspect", "docker://"+anon.ref(public+":v1")), &inspected)
		if inspected.Digest != pub.Digest {
			t.Errorf("anonymous skopeo inspect: digest %s, want %s", inspected.Digest, pub.Digest)
		}
	})

	t.Run("anonymous-pull-private", func(t *testing.T) {
		anon := newClients(t, w, "", "")
		// A private repository and a missing one get the same refusal: anonymous clients
		// learn nothing about what exists.
		for _, repo := range []string{private, "admin/no-such-repo"} {
			out, err := anon.tryCrane("pull", anon.ref(repo+":v1"), filepath.Join(t.TempDir(), "x.tar"))
			assertAuthError(t, "anonymous crane pull "+repo, out, err)
			out, err = anon.trySkopeo("inspect", "docker://"+anon.ref(repo+":v1"))
			assertAuthError(t, "anonymous skopeo inspect "+repo, out, err)
		}
		r := anon.http(http.MethodGet, "/v2/"+private+"/manifests/v1", acceptAll)
		if r.Status != http.StatusUnauthorized || r.errorCode() != "UNAUTHORIZED" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("anonymous GET of a private manifest: %d %s, WWW-Authenticate %q", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("anonymous-push", func(t *testing.T) {
		anon := newClients(t, w, "", "")
		out, err := anon.tryCrane("push", imageLayout(t, newImage(t, imageSpec{Seed: "anon-push"}), "v1"), anon.ref(public+":anon"))
		assertAuthError(t, "anonymous crane push", out, err)
	})

	t.Run("second-user", func(t *testing.T) {
		const bobPassword = "bob-secret-password"
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := w.Run(ctx, bobPassword+"\n", "user", "create", "bob", "--password-stdin"); err != nil {
			t.Fatalf("wharf user create bob: %v\n%s", err, out)
		}
		bob := newClients(t, w, "bob", bobPassword)
		img := newImage(t, imageSpec{Seed: "bob"})
		layout := imageLayout(t, img, "v1")

		out, err := bob.tryCrane("push", layout, bob.ref("admin/bob-was-here:v1"))
		assertAuthError(t, "bob's crane push into admin/", out, err)
		out, err = bob.trySkopeo("copy", "oci:"+layout+":v1", "docker://"+bob.ref("admin/bob-was-here:v2"))
		assertAuthError(t, "bob's skopeo copy into admin/", out, err)
		// Nothing was created in admin's namespace.
		if r := admin.http(http.MethodGet, "/v2/admin/bob-was-here/tags/list", nil); r.Status != http.StatusNotFound {
			t.Errorf("admin/bob-was-here after bob's refused pushes: %d %s", r.Status, r.Body)
		}

		bob.crane("push", layout, bob.ref("bob/mine:v1"))
		bob.skopeo("copy", "oci:"+layout+":v1", "docker://"+bob.ref("bob/mine:v2"))
		bob.assertManifestIs("bob/mine", "v1", img.Digest)
		bob.assertManifestIs("bob/mine", "v2", img.Digest)
		if got := strings.TrimSpace(bob.crane("digest", bob.ref("bob/mine:v1"))); got != img.Digest {
			t.Errorf("crane digest bob/mine:v1 = %s, want %s", got, img.Digest)
		}

		// bob reads public repositories, not private ones.
		if got := strings.TrimSpace(bob.crane("digest", bob.ref(public+":v1"))); got != pub.Digest {
			t.Errorf("bob: crane digest %s:v1 = %s, want %s", public, got, pub.Digest)
		}
		out, err = bob.tryCrane("digest", bob.ref(private+":v1"))
		assertAuthError(t, "bob's crane digest "+private, out, err)
	})
}

// assertAuthError checks that a client failed for want of authorization (401 or 403) and
// not because something was missing.
func assertAuthError(t testing.TB, what, out string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want an authorization error:\n%s", what, out)
		return
	}
	lower := strings.ToLower(out)
	authz := false
	for _, s := range []string{"unauthorized", "denied", "authentication required", "401", "403"} {
		authz = authz || strings.Contains(lower, s)
	}
	missing := false
	for _, s := range []string{"not found", "manifest unknown", "manifest_unknown", "name_unknown", "name unknown"} {
		missing = missing || strings.Contains(lower, s)
	}
	if !authz || missing {
		t.Errorf("%s: want an authorization error (unauthorized/denied), not a missing one; got:\n%s", what, out)
		return
	}
	t.Logf("%s refused as it should be: %s", what, strings.TrimSpace(out))
}
