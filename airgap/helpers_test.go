package airgap_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/airgap"
)

// testImage makes a real image of random content for linux/amd64, layers of 4 KiB.
func testImage(t testing.TB, layers int) v1.Image {
	t.Helper()
	return sizedImage(t, 4096, layers)
}

// sizedImage makes a real image of random content for linux/amd64.
func sizedImage(t testing.TB, layerBytes int64, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(layerBytes, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// saveArchive writes img as a docker-archive tagged ref, as `podman save` would.
func saveArchive(t testing.TB, dir, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// testBinary is a Go binary for this host: the test binary itself.
func testBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// fixture is a bundle made from local image archives.
type fixture struct {
	dir    string
	path   string
	images map[string]v1.Image // by component
	refs   map[string]string   // by component, normalized
	extra  []byte              // the "other" file's content
	res    *airgap.CreateResult
}

// makeBundle creates a bundle of the three components from archives, the test binary and one
// extra file; adjust may change the options first.
func makeBundle(t testing.TB, adjust func(*airgap.CreateOptions)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, path: filepath.Join(dir, "out", "wharf-bundle.tar"), images: map[string]v1.Image{}, refs: map[string]string{}}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := airgap.CreateOptions{
		Output:        f.path,
		WharfVersion:  "1.0.0-test",
		Binary:        testBinary(t),
		BinaryVersion: "1.0.0-test",
		Now:           func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
	refs := map[string]string{
		"registry": "localhost/wharf:1.0.0-test",
		"postgres": "docker.io/library/postgres:15-bookworm",
		"redis":    "redis:7", // a short name: the bundle records it as podman names it
	}
	for _, comp := range airgap.Components {
		img := testImage(t, 2)
		f.images[comp] = img
		src, err := airgap.NewArchiveImage(comp, saveArchive(t, dir, refs[comp], img))
		if err != nil {
			t.Fatal(err)
		}
		f.refs[comp] = src.Ref()
		opts.Images = append(opts.Images, src)
	}
	f.extra = []byte("release notes for the offline site\n")
	notes := filepath.Join(dir, "NOTES.txt")
	if err := os.WriteFile(notes, f.extra, 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Files = []airgap.FileSource{{Kind: airgap.KindOther, Name: "NOTES.txt", Path: notes}}
	if adjust != nil {
		adjust(&opts)
	}
	res, err := airgap.Create(context.Background(), opts)
	if err != nil {
		t.Fatalf("create bundle: %v", err)
	}
	f.res = res
	return f
}

// entry is one tar member of a bundle, for tests that take bundles apart.
type entry struct {
	hdr  tar.Header
	data []byte
}

func readEntries(t testing.TB, data []byte) []entry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []entry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{hdr: *hdr, data: b})
	}
}

func writeEntries(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// section is where a member's content lies in an archive.
type section struct{ off, size int64 }

// countReader counts bytes read.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// sections finds each member's content in a tar archive.
func sections(t testing.TB, data []byte) map[string]section {
	t.Helper()
	cr := &countReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	out := map[string]section{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = section{off: cr.n, size: hdr.Size}
	}
}

// layerSection finds the first compressed layer inside the image member at member.
func layerSection(t testing.TB, bundle []byte, member string) section {
	t.Helper()
	outer := sections(t, bundle)[member]
	inner := sections(t, bundle[outer.off:outer.off+outer.size])
	for n, s := range inner {
		if strings.HasSuffix(n, ".tar.gz") {
			return section{off: outer.off + s.off, size: s.size}
		}
	}
	t.Fatalf("no layer in %s", member)
	return section{}
}

// manifestOf decodes the manifest entry.
func manifestOf(t testing.TB, entries []entry) airgap.Manifest {
	t.Helper()
	var m airgap.Manifest
	if err := json.Unmarshal(entries[0].data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// setManifest re-encodes the manifest entry and, when fixSums is set, rewrites SHA256SUMS to
// match it, so only deeper checks can notice a change.
func setManifest(t testing.TB, entries []entry, m airgap.Manifest, fixSums bool) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	entries[0].data = append(b, '\n')
	if fixSums {
		var sums bytes.Buffer
		sums.WriteString(sha256Hex(entries[0].data) + "  " + airgap.ManifestName + "\n")
		for _, mem := range m.Members {
			sums.WriteString(mem.SHA256 + "  " + mem.Path + "\n")
		}
		entries[len(entries)-1].data = sums.Bytes()
	}
}
