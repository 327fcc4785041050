package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// pushRandom pushes a small random image to host/repoTag as user.
func pushRandom(t *testing.T, host, user, password, repoTag string, layers int64) string {
	t.Helper()
	img, err := random.Image(4096, layers)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatalf("push %s: %v", repoTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestScreenshots takes the screenshots of the main pages that docs/ and the README show.
// It runs only when WHARF_SCREENSHOTS names the directory to write them to (make
// screenshots).
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("WHARF_SCREENSHOTS")
	if dir == "" {
		t.Skip("WHARF_SCREENSHOTS is not set (make screenshots sets it)")
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "REGISTRY_TITLE: Example Registry\nFEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_INDEXING_INTERVAL: 1\n"})
	su, pw := w.User, w.Password
	call := func(method, path string, body any) { api(t, w.URL, su, pw, method, path, body, nil) }
	call("POST", "/api/v1/organization/", map[string]string{"name": "acme", "email": "platform@acme.example"})
	call("PUT", "/api/v1/organization/acme/team/builders", map[string]string{"role": "creator", "description": "CI pipelines and release engineers"})
	call("PUT", "/api/v1/organization/acme/robots/ci", map[string]string{"description": "GitLab CI pushes"})
	for _, r := range []struct{ repo, vis, desc string }{
		{"web", "public", "# acme/web\n\nThe storefront, built from `main` on every merge.\n\n* `latest`: the newest build\n* `v1.x`: releases"},
		{"api", "private", "The order API."},
		{"worker", "private", "Background jobs."},
		{"base/debian", "public", "Base image of every service."},
	} {
		call("POST", "/api/v1/repository", map[string]string{"namespace": "acme", "repository": r.repo, "visibility": r.vis, "description": r.desc})
	}
	for i, tag := range []string{"v1.0", "v1.1", "v1.2", "latest"} {
		pushRandom(t, w.Host, su, pw, "acme/web:"+tag, int64(1+i%3))
	}
	pushRandom(t, w.Host, su, pw, "acme/web:latest", 2) // latest moves: the history shows it
	pushRandom(t, w.Host, su, pw, "acme/api:2024.06", 2)
	pushRandom(t, w.Host, su, pw, "admin/tools:stable", 1)
	call("PUT", "/api/v1/repository/acme/web/permissions/team/builders", map[string]string{"role": "write"})
	call("PUT", "/api/v1/repository/acme/web/permissions/user/acme+ci", map[string]string{"role": "write"})

	// A scanned image for the security report: the scanner's Alpine fixture and real data.
	vulndb := os.Getenv("WHARF_VULNDB_DIR")
	if vulndb == "" {
		vulndb = filepath.Join("..", "..", "..", "shared", "vulndb")
	}
	secdb, err := filepath.Abs(filepath.Join(vulndb, "alpine-secdb.zip"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := w.Run(ctx, "", "scanner", "import", secdb); err != nil {
		t.Fatalf("wharf scanner import: %v\n%s", err, out)
	}
	alpine := alpineLayerImage(t)
	ref, _ := name.ParseReference(w.Host+"/acme/base/alpine:3.19", name.Insecure)
	if err := remote.Write(ref, alpine, remote.WithAuth(&authn.Basic{Username: su, Password: pw})); err != nil {
		t.Fatal(err)
	}
	alpineDigest, _ := alpine.Digest()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		var sec struct {
			Status string `json:"status"`
		}
		api(t, w.URL, su, pw, "GET", "/api/v1/repository/acme/base/alpine/manifest/"+alpineDigest.String()+"/security", nil, &sec)
		if sec.Status == "scanned" {
			break
		}
	}

	shots := []struct{ file, path string }{
		{"security.png", "/repository/acme/base/alpine/manifest/" + alpineDigest.String()},
		{"repositories.png", "/repository/"},
		{"repository.png", "/repository/acme/web"},
		{"tags.png", "/repository/acme/web?tab=tags"},
		{"history.png", "/repository/acme/web?tab=history"},
		{"logs.png", "/repository/acme/web?tab=logs"},
		{"permissions.png", "/repository/acme/web?tab=settings"},
		{"teams.png", "/organization/acme?tab=teams"},
		{"robot.png", "/organization/acme?tab=robots&robot=ci"},
		{"superuser.png", "/superuser/?tab=registry"},
	}
	b := newTab(t, w.URL, false)
	b.run(t, "window size", emulation.SetDeviceMetricsOverride(1280, 860, 1, false))
	b.open(t, "/signin")
	b.signIn(t, su, pw)
	for _, s := range shots {
		b.open(t, s.path)
		b.shoot(t, filepath.Join(dir, s.file))
	}
	b.run(t, "dark", emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}))
	b.open(t, "/repository/acme/web?tab=tags")
	b.shoot(t, filepath.Join(dir, "tags-dark.png"))
}

// shoot saves a PNG of the whole page.
func (b *tab) shoot(t *testing.T, file string) {
	t.Helper()
	var png []byte
	b.run(t, "screenshot "+filepath.Base(file), chromedp.ActionFunc(func(ctx context.Context) error {
		return chromedp.FullScreenshot(&png, 100).Do(ctx)
	}))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Println("wrote", file)
}
