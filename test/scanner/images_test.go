package scanner_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/images/debian"
	"github.com/wharf-registry/wharf/internal/testservers"
)

// testLog sends a builder's progress to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// debianImage is the Debian 12 image `debootstrap --variant=minbase bookworm` makes, from
// the build cache (built the first time, a minute or two).
func debianImage(t *testing.T) v1.Image {
	t.Helper()
	archive, err := debian.Build(t.Context(), debian.Minbase, debian.Options{Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(debian.Ref(debian.Minbase, debian.DefaultSuite))
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarLayer makes a gzip layer holding files (path → content; parents are added).
func tarLayer(t testing.TB, files map[string]fileEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	dirs := map[string]bool{}
	for _, p := range paths {
		for d := filepath.Dir(p); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range paths {
		f := files[p]
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(f.data)), ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

type fileEntry struct {
	data []byte
	mode int64
}

// imageOf stacks layers into an amd64 Linux image.
func imageOf(t testing.TB, base v1.Image, layers ...v1.Layer) v1.Image {
	t.Helper()
	if base == nil {
		cfg, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}})
		if err != nil {
			t.Fatal(err)
		}
		base = cfg
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// readFile returns a file of the image's flattened file system.
func readFile(t testing.TB, img v1.Image, path string) []byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s is not in the image", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == path {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

// pusher pushes images to a registry with skopeo, as a user would.
type pusher struct {
	t              testing.TB
	host           string
	user, password string
	policy         string
}

func newPusher(t testing.TB, w *testservers.Wharf) *pusher {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return &pusher{t: t, host: w.Host, user: w.User, password: w.Password, policy: policy}
}

// push writes img to a docker-archive and copies it to NAME:TAG with skopeo, returning the
// digest of the manifest the registry holds.
func (p *pusher) push(img v1.Image, repo, tag string) string {
	p.t.Helper()
	archive := filepath.Join(p.t.TempDir(), "image.tar")
	ref, err := name.NewTag("localhost/scan-test/" + tag)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := tarball.WriteToFile(archive, ref, img); err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "skopeo", "--policy", p.policy, "copy", "--quiet", "--dest-tls-verify=false",
		"--dest-creds", p.user+":"+p.password, "docker-archive:"+archive, "docker://"+p.host+"/"+repo+":"+tag)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	return p.manifestDigest(repo, tag)
}

// imageManifestTypes is the Accept header for image manifests.
const imageManifestTypes = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

// manifest requests /v2/REPO/manifests/REF (HEAD or GET) as the pushing user, accepting
// types, and fails the test unless it answers 200.
func (p *pusher) manifest(method, repo, ref, types string) *http.Response {
	p.t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.host+"/v2/"+repo+"/manifests/"+ref, nil)
	req.SetBasicAuth(p.user, p.password)
	req.Header.Set("Accept", types)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		p.t.Fatalf("%s manifest %s:%s: %s", method, repo, ref, resp.Status)
	}
	return resp
}

// manifestDigest asks the registry which manifest a tag names (accepting types, default
// image manifests).
func (p *pusher) manifestDigest(repo, tag string, types ...string) string {
	p.t.Helper()
	accept := imageManifestTypes
	if len(types) > 0 {
		accept = strings.Join(types, ", ")
	}
	resp := p.manifest(http.MethodHead, repo, tag, accept)
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest")
}

// layerDigests lists the layer digests of the manifest the registry holds.
func (p *pusher) layerDigests(repo, digest string) []string {
	p.t.Helper()
	resp := p.manifest(http.MethodGet, repo, digest, imageManifestTypes)
	defer resp.Body.Close()
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// dpkgPackage is one entry of a dpkg status file.
type dpkgPackage struct {
	Name, Version, Source, SourceVersion string
	fields                               []string // the stanza's lines, to write it back
}

// parseDpkgStatus reads the installed packages of a dpkg status file, with their source
// package (the Source: field, which may carry the source version in parentheses; absent, the
// source is the binary package itself).
func parseDpkgStatus(t testing.TB, data []byte) []dpkgPackage {
	t.Helper()
	var out []dpkgPackage
	var cur dpkgPackage
	installed := false
	flush := func() {
		if cur.Name != "" && installed {
			if cur.Source == "" {
				cur.Source = cur.Name
			}
			if cur.SourceVersion == "" {
				cur.SourceVersion = cur.Version
			}
			out = append(out, cur)
		}
		cur, installed = dpkgPackage{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		cur.fields = append(cur.fields, line)
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "Package":
			cur.Name = value
		case "Version":
			cur.Version = value
		case "Status":
			installed = strings.HasSuffix(value, " installed")
		case "Source":
			src, ver, _ := strings.Cut(value, " ")
			cur.Source = src
			cur.SourceVersion = strings.Trim(ver, "()")
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rewriteDpkgStatus returns the status file with the packages built from each source in
// versions set to that version, as dpkg would record a downgrade.
func rewriteDpkgStatus(data []byte, versions map[string]string) []byte {
	var out bytes.Buffer
	for _, stanza := range strings.Split(strings.TrimRight(string(data), "\n"), "\n\n") {
		lines := strings.Split(stanza, "\n")
		src, pkg := "", ""
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "Package: "); ok {
				pkg = v
			}
			if v, ok := strings.CutPrefix(l, "Source: "); ok {
				src, _, _ = strings.Cut(v, " ")
			}
		}
		if src == "" {
			src = pkg
		}
		if ver, ok := versions[src]; ok {
			for i, l := range lines {
				if strings.HasPrefix(l, "Version: ") {
					lines[i] = "Version: " + ver
				}
				if strings.HasPrefix(l, "Source: ") {
					lines[i] = "Source: " + src
				}
			}
		}
		fmt.Fprintf(&out, "%s\n\n", strings.Join(lines, "\n"))
	}
	return out.Bytes()
}
