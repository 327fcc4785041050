// Package scanner_test checks vulnerability scanning end to end, as a user runs it: real
// images (Debian 12 made by debootstrap, an Alpine image from apk data, a Go binary) pushed
// with skopeo to a real `wharf serve`, vulnerability data loaded with `wharf scanner import`
// from ../shared/vulndb, and the findings read from Quay's security API, compared with what an
// independent procedure (expect_test.go) derives from the same data.
package scanner_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/secscan"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// vulndb returns the path of a file of the shared vulnerability data (WHARF_VULNDB_DIR, else
// ../shared/vulndb beside the repository).
func vulndb(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("WHARF_VULNDB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "vulndb")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("vulnerability data %s: %v (set WHARF_VULNDB_DIR to the folder holding it)", name, err)
	}
	abs, _ := filepath.Abs(p)
	return abs
}

// scanningConfig turns on the built-in scanner with a one-second indexing interval.
const scanningConfig = "FEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_INDEXING_INTERVAL: 1\n"

// importData runs `wharf scanner import` on the server's store.
func importData(t testing.TB, w *testservers.Wharf, files ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := w.Run(ctx, "", append([]string{"scanner", "import"}, files...)...)
	if err != nil {
		t.Fatalf("wharf scanner import: %v\n%s", err, out)
	}
	t.Logf("wharf scanner import:\n%s", out)
	return out
}

// security polls Quay's security endpoint until the manifest is scanned (and, with until,
// until it holds) and returns the report.
func security(t testing.TB, w *testservers.Wharf, repo, digest string, until func(*secscan.Security) bool) *secscan.Security {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	var last string
	for {
		req, _ := http.NewRequest(http.MethodGet, w.URL+"/api/v1/repository/"+repo+"/manifest/"+digest+"/security?vulnerabilities=true", nil)
		req.SetBasicAuth(w.User, w.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var sec secscan.Security
		err = json.NewDecoder(resp.Body).Decode(&sec)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("security of %s@%s: %s %v", repo, digest, resp.Status, err)
		}
		last = sec.Status
		if sec.Status == "failed" || sec.Status == "unsupported" {
			t.Fatalf("security of %s@%s: %s\n%s", repo, digest, sec.Status, w.Logs())
		}
		if sec.Status == "scanned" && (until == nil || until(&sec)) {
			return &sec
		}
		if time.Now().After(deadline) {
			t.Fatalf("security of %s@%s: still %q after 5 minutes\n%s", repo, digest, last, w.Logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// reported lists the findings of a security report, naming each package through toSource
// (binary package → source package, origin or module).
func reported(t testing.TB, sec *secscan.Security, toSource func(feature secscan.Feature) string) map[finding]bool {
	t.Helper()
	got := map[finding]bool{}
	for _, f := range sec.Data.Layer.Features {
		for _, v := range f.Vulnerabilities {
			got[finding{toSource(f), v.Name, v.FixedBy}] = true
		}
	}
	return got
}

func TestDebian(t *testing.T) {
	base := debianImage(t)
	status := parseDpkgStatus(t, readFile(t, base, "var/lib/dpkg/status"))
	if len(status) < 50 {
		t.Fatalf("the minbase image lists %d packages; want a whole base system", len(status))
	}
	data := vulndb(t, "debian-osv.zip")
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: scanningConfig})
	importData(t, w, data)
	p := newPusher(t, w)
	cmp := &dpkgCompare{t: t}

	check := func(t *testing.T, tag string, status []dpkgPackage) (*secscan.Security, map[finding]bool) {
		sources, binToSource := map[string]string{}, map[string]string{}
		for _, pkg := range status {
			sources[pkg.Source] = pkg.SourceVersion
			binToSource[pkg.Name] = pkg.Source
		}
		want := expectOSV(t, data, "Debian:12", sources, cmp.cmp)
		digest := p.manifestDigest("admin/debian", tag)
		sec := security(t, w, "admin/debian", digest, nil)
		if len(sec.Data.Layer.Features) != len(status) {
			t.Errorf("%d features reported; the dpkg status lists %d installed packages", len(sec.Data.Layer.Features), len(status))
		}
		got := reported(t, sec, func(f secscan.Feature) string {
			if src, ok := binToSource[f.Name]; ok {
				return src
			}
			t.Errorf("feature %s %s is not in the image's dpkg status", f.Name, f.Version)
			return f.Name
		})
		compareFindings(t, "debian:"+tag, got, want)
		return sec, want
	}

	p.push(base, "admin/debian", "12")
	t.Run("bookworm", func(t *testing.T) {
		_, want := check(t, "12", status)
		if len(want) == 0 {
			t.Fatal("the procedure expects no finding at all: the data and the image do not meet")
		}
		t.Logf("Debian 12 minbase: %d packages, %d findings", len(status), len(want))
	})

	// Older versions of some source packages, as a downgrade would leave them: a second layer
	// with the dpkg status rewritten. Each gets fixed-version findings, added by that layer.
	older := map[string]string{"glibc": "2.36-9+deb12u1", "systemd": "252.17-1~deb12u1", "gnutls28": "3.7.9-2",
		"zlib": "1:1.2.11.dfsg-2", "tar": "1.34+dfsg-1.2", "util-linux": "2.38.1-5"}
	downgraded := rewriteDpkgStatus(readFile(t, base, "var/lib/dpkg/status"), older)
	oldImage := imageOf(t, base, tarLayer(t, map[string]fileEntry{"var/lib/dpkg/status": {data: downgraded}}))
	digest := p.push(oldImage, "admin/debian", "12-old")
	t.Run("older", func(t *testing.T) {
		oldStatus := parseDpkgStatus(t, downgraded)
		sec, want := check(t, "12-old", oldStatus)
		layers := p.layerDigests("admin/debian", digest)
		fixedBy := map[string]int{}
		for f := range want {
			if f.Fixed != "" {
				fixedBy[f.Package]++
			}
		}
		for src := range older {
			if fixedBy[src] == 0 {
				t.Errorf("source %s at %s: the procedure expects no fixed-version finding; pick an older version", src, older[src])
			}
		}
		for _, f := range sec.Data.Layer.Features {
			var src string
			for _, pkg := range oldStatus {
				if pkg.Name == f.Name {
					src = pkg.Source
				}
			}
			wantLayer := layers[0]
			if _, ok := older[src]; ok {
				wantLayer = layers[len(layers)-1]
			}
			if f.AddedBy != wantLayer {
				t.Errorf("feature %s %s added by %s, want %s", f.Name, f.Version, f.AddedBy, wantLayer)
			}
		}
	})
}

// alpineImage is the Alpine fixture: testdata/alpine-3.19's installed database and
// os-release in one layer.
func alpineImage(t testing.TB) (v1.Image, []byte) {
	t.Helper()
	installed, err := os.ReadFile(filepath.Join("testdata", "alpine-3.19", "installed"))
	if err != nil {
		t.Fatal(err)
	}
	osRelease, err := os.ReadFile(filepath.Join("testdata", "alpine-3.19", "os-release"))
	if err != nil {
		t.Fatal(err)
	}
	return imageOf(t, nil, tarLayer(t, map[string]fileEntry{
		"lib/apk/db/installed": {data: installed},
		"etc/os-release":       {data: osRelease},
		"etc/alpine-release":   {data: []byte("3.19.0\n")},
	})), installed
}

// apkOrigins reads package → (origin, version) from an apk installed database.
func apkOrigins(installed []byte) (origins map[string]string, binToOrigin map[string]string) {
	origins, binToOrigin = map[string]string{}, map[string]string{}
	for _, stanza := range strings.Split(string(installed), "\n\n") {
		var pkg, ver, origin string
		for _, line := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch k {
			case "P":
				pkg = v
			case "V":
				ver = v
			case "o":
				origin = v
			}
		}
		if pkg == "" {
			continue
		}
		if origin == "" {
			origin = pkg
		}
		origins[origin], binToOrigin[pkg] = ver, origin
	}
	return origins, binToOrigin
}

func TestAlpine(t *testing.T) {
	img, installed := alpineImage(t)
	origins, binToOrigin := apkOrigins(installed)
	data := vulndb(t, "alpine-secdb.zip")
	want := expectSecDB(t, data, "v3.19", origins)
	if len(want) < 10 {
		t.Fatalf("the procedure expects %d findings; the fixture should meet the data", len(want))
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: scanningConfig})
	importData(t, w, data)
	digest := newPusher(t, w).push(img, "admin/alpine", "3.19")
	sec := security(t, w, "admin/alpine", digest, nil)
	got := reported(t, sec, func(f secscan.Feature) string { return binToOrigin[f.Name] })
	compareFindings(t, "alpine", got, want)
	if n := len(sec.Data.Layer.Features); n != len(binToOrigin) {
		t.Errorf("%d features reported, the installed database lists %d", n, len(binToOrigin))
	}
}

// goBinaryImage builds testdata/gobin (a program that uses an old golang.org/x/text) with the
// test's Go toolchain into an image, and returns its modules as `go version -m` lists them
// (module → version without the v; "stdlib" → the Go version).
func goBinaryImage(t testing.TB) (v1.Image, map[string]string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gobin")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Dir = filepath.Join("testdata", "gobin")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/gobin: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	modules := map[string]string{}
	for i, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if i == 0 && len(fields) == 2 {
			modules["stdlib"] = strings.TrimPrefix(fields[1], "go")
		}
		if len(fields) >= 3 && fields[0] == "dep" {
			modules[fields[1]] = strings.TrimPrefix(fields[2], "v")
		}
	}
	if modules["golang.org/x/text"] == "" || modules["stdlib"] == "" {
		t.Fatalf("go version -m lists no golang.org/x/text or Go version:\n%s", out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	_ = runtime.Version
	return imageOf(t, nil, tarLayer(t, map[string]fileEntry{"usr/local/bin/gobin": {data: data, mode: 0o755}})), modules
}

func TestGoBinary(t *testing.T) {
	img, modules := goBinaryImage(t)
	data := vulndb(t, "go-osv.zip")
	want := expectOSV(t, data, "Go", modules, goCompare)
	if !want[finding{"golang.org/x/text", "GO-2022-1059", "0.3.8"}] {
		t.Fatalf("the procedure misses GO-2022-1059 in golang.org/x/text %s: %v", modules["golang.org/x/text"], want)
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: scanningConfig})
	importData(t, w, data)
	digest := newPusher(t, w).push(img, "admin/gobin", "v1")
	sec := security(t, w, "admin/gobin", digest, nil)
	got := reported(t, sec, func(f secscan.Feature) string { return f.Name })
	compareFindings(t, "go binary", got, want)
}

// TestMultiArch pushes a two-platform index: each child is scanned; the index itself is
// "unsupported", as in Quay.
func TestMultiArch(t *testing.T) {
	amd64, _ := alpineImage(t)
	arm64, err := mutate.ConfigFile(amd64, &v1.ConfigFile{OS: "linux", Architecture: "arm64", RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := amd64.Layers()
	if arm64, err = mutate.AppendLayers(arm64, layers...); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	dir := filepath.Join(t.TempDir(), "oci")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: scanningConfig})
	importData(t, w, vulndb(t, "alpine-secdb.zip"))
	p := newPusher(t, w)
	cmd := exec.Command("skopeo", "--policy", p.policy, "copy", "--all", "--quiet", "--dest-tls-verify=false",
		"--dest-creds", w.User+":"+w.Password, "oci:"+dir+":multi", "docker://"+w.Host+"/admin/multi:v1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, out)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, child := range manifest.Manifests {
		sec := security(t, w, "admin/multi", child.Digest.String(), nil)
		if len(sec.Data.Layer.Features) == 0 {
			t.Errorf("child %s (%s): no features", child.Digest, child.Platform.Architecture)
		}
	}
	indexDigest := p.manifestDigest("admin/multi", "v1", "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
	req, _ := http.NewRequest(http.MethodGet, w.URL+"/api/v1/repository/admin/multi/manifest/"+indexDigest+"/security", nil)
	req.SetBasicAuth(w.User, w.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sec secscan.Security
	if err := json.NewDecoder(resp.Body).Decode(&sec); err != nil || sec.Status != "unsupported" {
		t.Errorf("security of the index: %+v, %v; want unsupported", sec, err)
	}
}
