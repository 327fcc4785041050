package airgap_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/internal/testservers"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMain(m *testing.M) { testservers.Main(m) }

// TestCreateAndOpen makes a bundle from image archives, the binary and a file, and reads every
// member back through Open: the images load as the same images, the binary and the file are
// byte for byte what went in.
func TestCreateAndOpen(t *testing.T) {
	f := makeBundle(t, nil)

	// The file appears whole, with its .sha256, and nothing else is left behind.
	entries, err := os.ReadDir(filepath.Dir(f.path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "wharf-bundle.tar wharf-bundle.tar.sha256" {
		t.Errorf("output directory holds %v, want the bundle and its .sha256 only (no temporary files, the default work directory removed)", names)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Hex(data); got != f.res.SHA256 || int64(len(data)) != f.res.Size {
		t.Errorf("result says %s (%d bytes), file is %s (%d bytes)", f.res.SHA256, f.res.Size, got, len(data))
	}
	side, _ := os.ReadFile(airgap.SidecarPath(f.path))
	if string(side) != f.res.SHA256+"  wharf-bundle.tar\n" {
		t.Errorf(".sha256 holds %q", side)
	}

	b, err := airgap.Open(f.path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer b.Close()
	if b.SHA256() != f.res.SHA256 {
		t.Errorf("bundle SHA-256 %s, create said %s", b.SHA256(), f.res.SHA256)
	}
	m := b.Manifest()
	if m.Format != airgap.FormatVersion || m.WharfVersion != "1.0.0-test" || m.Platform != "linux/amd64" || m.Created.Year() != 2025 {
		t.Errorf("manifest header = %+v", m)
	}
	var paths []string
	for _, mem := range m.Members {
		paths = append(paths, string(mem.Kind)+":"+mem.Path)
	}
	want := "binary:bin/wharf image:images/registry.tar image:images/postgres.tar image:images/redis.tar other:files/other/NOTES.txt"
	if strings.Join(paths, " ") != want {
		t.Errorf("members = %s\nwant      %s", strings.Join(paths, " "), want)
	}
	if missing := m.Missing(airgap.Components); len(missing) != 0 {
		t.Errorf("missing %v", missing)
	}

	// The images: loaded back from the bundle, each is the image that went in, tagged as
	// podman names it.
	wantRefs := map[string]string{
		"registry": "localhost/wharf:1.0.0-test",
		"postgres": "docker.io/library/postgres:15-bookworm",
		"redis":    "docker.io/library/redis:7",
	}
	for _, comp := range airgap.Components {
		mem, _ := m.Image(comp)
		if mem.Ref != wantRefs[comp] {
			t.Errorf("%s: ref %q, want %q", comp, mem.Ref, wantRefs[comp])
		}
		id, _ := f.images[comp].ConfigName()
		if mem.ImageID != id.String() {
			t.Errorf("%s: image ID %s, want %s", comp, mem.ImageID, id)
		}
		rc, _, err := b.OpenImage(comp)
		if err != nil {
			t.Fatal(err)
		}
		archive, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(mem.Ref)
		got, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil }, &tag)
		if err != nil {
			t.Fatalf("%s: the member is not a docker-archive tagged %s: %v", comp, mem.Ref, err)
		}
		gotLayers, _ := got.Layers()
		wantLayers, _ := f.images[comp].Layers()
		if len(gotLayers) != len(wantLayers) {
			t.Fatalf("%s: %d layers, want %d", comp, len(gotLayers), len(wantLayers))
		}
		for i := range gotLayers {
			g, _ := gotLayers[i].Digest()
			w, _ := wantLayers[i].Digest()
			if g != w {
				t.Errorf("%s layer %d: %s, want %s", comp, i, g, w)
			}
		}
	}

	// The binary, extracted.
	dest := filepath.Join(t.TempDir(), "wharf")
	if err := b.Extract(airgap.BinaryPath, dest, 0o755); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dest)
	orig, _ := os.ReadFile(testBinary(t))
	if !bytes.Equal(got, orig) {
		t.Error("the extracted binary differs from the original")
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o755 {
		t.Errorf("binary mode %v", fi.Mode())
	}

	// The extra file.
	rc, err := b.Open("files/other/NOTES.txt")
	if err != nil {
		t.Fatal(err)
	}
	notes, _ := io.ReadAll(rc)
	if !bytes.Equal(notes, f.extra) {
		t.Errorf("file = %q", notes)
	}
	if _, err := b.Open("images/nope.tar"); err == nil {
		t.Error("Open of a member that is not there succeeded")
	}
}

// TestMemberChangedAfterOpen: a member read after the file changed under the open bundle
// fails at its end instead of passing changed bytes on.
func TestMemberChangedAfterOpen(t *testing.T) {
	f := makeBundle(t, nil)
	b, err := airgap.Open(f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, _ := os.ReadFile(f.path)
	sec := sections(t, data)["files/other/NOTES.txt"]
	file, err := os.OpenFile(f.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.WriteAt([]byte{'X'}, sec.off+3); err != nil {
		t.Fatal(err)
	}
	file.Close()
	rc, err := b.Open("files/other/NOTES.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	if !errors.Is(err, airgap.ErrChanged) {
		t.Fatalf("reading a changed member: %v, want ErrChanged", err)
	}
}

// TestCreateRefuses: bad input to create gives an error that says what to do, before any
// bundle file appears.
func TestCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	untagged := filepath.Join(dir, "untagged.tar")
	img := testImage(t, 1)
	d, _ := img.Digest()
	dig, _ := name.NewDigest("example.com/x@" + d.String())
	if err := tarball.WriteToFile(untagged, dig, img); err != nil {
		t.Fatal(err)
	}
	armCF, _ := img.ConfigFile()
	armCF = armCF.DeepCopy()
	armCF.Architecture = "arm64"
	armImg, _ := mutate.ConfigFile(img, armCF)
	arm := saveArchive(t, dir, "example.com/arm:1", armImg)
	notArchive := filepath.Join(dir, "notes.tar")
	os.WriteFile(notArchive, []byte("not a tar"), 0o644)

	for _, tc := range []struct {
		name   string
		adjust func(*airgap.CreateOptions)
		want   string
	}{
		{"missing component", func(o *airgap.CreateOptions) { o.Images = o.Images[:2] }, "no image for the redis component: give --image redis=REF"},
		{"two images for one component", func(o *airgap.CreateOptions) { o.Images = append(o.Images, o.Images[0]) }, "two images for the registry component"},
		{"image for another platform", func(o *airgap.CreateOptions) {
			src, err := airgap.NewArchiveImage("redis", arm)
			if err != nil {
				t.Fatal(err)
			}
			o.Images[2] = src
		}, "the image is for linux/arm64 but the bundle is for linux/amd64"},
		{"binary for another platform", func(o *airgap.CreateOptions) { o.Platform = "linux/arm64" }, "is built for linux/amd64 but the bundle is for linux/arm64"},
		{"not a binary", func(o *airgap.CreateOptions) { o.Binary = notArchive }, "not a Go executable"},
		{"no version", func(o *airgap.CreateOptions) { o.BinaryVersion = "" }, "--wharf-version"},
		{"unwritable output", func(o *airgap.CreateOptions) { o.Output = filepath.Join(dir, "no", "such", "dir", "b.tar") }, "no such file or directory"},
		{"file kind", func(o *airgap.CreateOptions) { o.Files[0].Kind = "image" }, "kind must be vulndb or other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "b.tar")
			opts := baseOptions(t, dir, out)
			tc.adjust(&opts)
			_, err := airgap.Create(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "run the same command again") {
				t.Errorf("the error tells to run again, which cannot help: %v", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a bundle file appeared although create failed")
			}
		})
	}

	// Archives that cannot be loaded by name are refused when named.
	if _, err := airgap.NewArchiveImage("redis", untagged); err == nil || !strings.Contains(err.Error(), "has no tag") {
		t.Errorf("untagged archive: %v", err)
	}
	if _, err := airgap.NewArchiveImage("redis", notArchive); err == nil || !strings.Contains(err.Error(), "podman save --format docker-archive") {
		t.Errorf("not an archive: %v", err)
	}
	if _, err := airgap.NewArchiveImage("Redis!", arm); err == nil || !strings.Contains(err.Error(), "not a component name") {
		t.Errorf("bad component name: %v", err)
	}
	if _, err := airgap.NewRemoteImage("redis", "example.com/redis@sha256:"+strings.Repeat("a", 64), airgap.RemoteOptions{}); err == nil || !strings.Contains(err.Error(), "names no tag") {
		t.Errorf("digest without tag: %v", err)
	}
}

// baseOptions are valid options for a bundle of three archive images into out.
func baseOptions(t *testing.T, dir, out string) airgap.CreateOptions {
	t.Helper()
	opts := airgap.CreateOptions{Output: out, WharfVersion: "1", Binary: testBinary(t), BinaryVersion: "1"}
	for _, comp := range airgap.Components {
		src, err := airgap.NewArchiveImage(comp, saveArchive(t, dir, "example.com/"+comp+":1", testImage(t, 1)))
		if err != nil {
			t.Fatal(err)
		}
		opts.Images = append(opts.Images, src)
	}
	notes := filepath.Join(dir, "NOTES.txt")
	os.WriteFile(notes, []byte("x"), 0o644)
	opts.Files = []airgap.FileSource{{Kind: airgap.KindOther, Name: "NOTES.txt", Path: notes}}
	return opts
}

// TestNormalizeRef: references are recorded the way podman names images.
func TestNormalizeRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres:15", "docker.io/library/postgres:15"},
		{"redis", "docker.io/library/redis:latest"},
		{"docker.io/library/redis:7", "docker.io/library/redis:7"},
		{"index.docker.io/bitnami/redis:7", "docker.io/bitnami/redis:7"},
		{"localhost/wharf:1.2.3", "localhost/wharf:1.2.3"},
		{"127.0.0.1:5000/admin/pg:1", "127.0.0.1:5000/admin/pg:1"},
		{"quay.io/x/y:1@sha256:" + strings.Repeat("b", 64), "quay.io/x/y:1@sha256:" + strings.Repeat("b", 64)},
	} {
		got, err := airgap.NormalizeRef(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "UPPER/case:1", "x@sha256:12", "quay.io/x/y@sha256:" + strings.Repeat("b", 64)} {
		if got, err := airgap.NormalizeRef(bad); err == nil {
			t.Errorf("NormalizeRef(%q) = %q, want an error", bad, got)
		}
	}
}

// keep imports used by helpers in other files.
var _ v1.Image
