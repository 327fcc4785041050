package images_test

import (
	"archive/tar"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wharf-registry/wharf/images"
	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// wharfImage builds the wharf image from a freshly built static binary.
func wharfImage(t *testing.T, version string) v1.Image {
	t.Helper()
	img, err := images.Wharf(testservers.WharfBinary(t), version)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerEntry is what a test expects of one file in a layer.
type layerEntry struct {
	mode     int64
	uid, gid int
	typ      byte
}

// layerEntries reads every entry of an image's single layer.
func layerEntries(t *testing.T, img v1.Image) (map[string]layerEntry, map[string][]byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("the image has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries, bodies := map[string]layerEntry{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !hdr.ModTime.Equal(images.Epoch) {
			t.Errorf("%s: time %s, want %s (reproducible builds)", hdr.Name, hdr.ModTime, images.Epoch)
		}
		entries[hdr.Name] = layerEntry{mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, typ: hdr.Typeflag}
		if hdr.Typeflag == tar.TypeReg && hdr.Size < 1<<20 {
			b, _ := io.ReadAll(tr)
			bodies[hdr.Name] = b
		}
	}
	return entries, bodies
}

func TestWharfImageLayout(t *testing.T) {
	img := wharfImage(t, "1.2.3")
	entries, bodies := layerEntries(t, img)
	for name, want := range map[string]layerEntry{
		"usr/bin/wharf":                     {0o755, 0, 0, tar.TypeReg},
		"etc/passwd":                        {0o644, 0, 0, tar.TypeReg},
		"etc/group":                         {0o644, 0, 0, tar.TypeReg},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0, 0, tar.TypeReg},
		"tmp/":                              {0o1777, 0, 0, tar.TypeDir},
		"var/lib/wharf/":                    {0o750, 1001, 1001, tar.TypeDir},
		"etc/wharf/":                        {0o750, 1001, 1001, tar.TypeDir},
		"usr/":                              {0o755, 0, 0, tar.TypeDir},
		"var/lib/":                          {0o755, 0, 0, tar.TypeDir},
		"etc/ssl/certs/":                    {0o755, 0, 0, tar.TypeDir},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := entries[name]
			if !ok {
				t.Fatalf("the layer has no %s; it has %v", name, keys(entries))
			}
			if got != want {
				t.Errorf("%s: got mode %o uid %d gid %d type %c, want mode %o uid %d gid %d type %c",
					name, got.mode, got.uid, got.gid, got.typ, want.mode, want.uid, want.gid, want.typ)
			}
		})
	}
	if len(entries) != 14 {
		t.Errorf("the layer has %d entries, want 14: %v", len(entries), keys(entries))
	}
	if !strings.Contains(string(bodies["etc/passwd"]), "wharf:x:1001:1001:") {
		t.Errorf("/etc/passwd has no user wharf 1001:1001:\n%s", bodies["etc/passwd"])
	}
	if !strings.Contains(string(bodies["etc/group"]), "wharf:x:1001:") {
		t.Errorf("/etc/group has no group wharf 1001:\n%s", bodies["etc/group"])
	}
	host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	if string(bodies["etc/ssl/certs/ca-certificates.crt"]) != string(host) {
		t.Error("/etc/ssl/certs/ca-certificates.crt differs from the build host's")
	}
}

func TestWharfImageConfig(t *testing.T) {
	img := wharfImage(t, "1.2.3")
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"media type", string(mt), "application/vnd.oci.image.manifest.v1+json"},
		{"os", cf.OS, "linux"},
		{"architecture", cf.Architecture, "amd64"},
		{"created", cf.Created.Time.Unix(), int64(0)},
		{"user", cf.Config.User, "1001:1001"},
		{"entrypoint", cf.Config.Entrypoint, []string{"/usr/bin/wharf"}},
		{"cmd", cf.Config.Cmd, []string{"serve", "--config-dir", "/etc/wharf", "--data-dir", "/var/lib/wharf", "--listen", "0.0.0.0:8080"}},
		{"working dir", cf.Config.WorkingDir, "/var/lib/wharf"},
		{"exposed ports", cf.Config.ExposedPorts, map[string]struct{}{"8080/tcp": {}}},
		{"title", cf.Config.Labels["org.opencontainers.image.title"], "wharf"},
		{"version", cf.Config.Labels["org.opencontainers.image.version"], "1.2.3"},
		{"source", cf.Config.Labels["org.opencontainers.image.source"], images.WharfSource},
		{"the registry component's command", images.Defaults("1.2.3").Registry.Args, cf.Config.Cmd},
		{"the registry component's user", images.Defaults("1.2.3").Registry.User, cf.Config.User},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
		}
	}
	if cf.Config.Labels["org.opencontainers.image.description"] == "" {
		t.Error("no org.opencontainers.image.description label")
	}
}

func TestWharfImageIsReproducible(t *testing.T) {
	bin := testservers.WharfBinary(t)
	digest := func(path, version string) v1.Hash {
		img, err := images.Wharf(path, version)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := digest(bin, "1.0.0")
	// The same binary copied elsewhere, with another modification time, later.
	copied := filepath.Join(t.TempDir(), "wharf")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(copied, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if again := digest(copied, "1.0.0"); again != first {
		t.Errorf("building twice from the same binary gave %s and %s", first, again)
	}
	if other := digest(bin, "1.0.1"); other == first {
		t.Errorf("another version gave the same digest %s", other)
	}
}

func TestWharfRefusesBadBinaries(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755)
	dynamic := "/usr/bin/podman" // linked against the C library
	for _, c := range []struct {
		name, path, version, want string
	}{
		{"missing", filepath.Join(dir, "nothing"), "1.0", "make build"},
		{"not an executable", script, "1.0", "not a Linux executable"},
		{"dynamically linked", dynamic, "1.0", "CGO_ENABLED=0"},
		{"no version", testservers.WharfBinary(t), "", "version is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := images.Wharf(c.path, c.version)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// smallImage makes an image of one file, a second image for archive tests.
func smallImage(t *testing.T, body string) v1.Image {
	t.Helper()
	layer, err := images.NewLayer([]images.File{{Path: "/hello", Mode: 0o644, Body: []byte(body)}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := images.Image(layer, v1.Config{Cmd: []string{"/hello"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestArchiveRoundTrip(t *testing.T) {
	wharf := wharfImage(t, "2.0.0")
	small := smallImage(t, "hello")
	want := map[string]v1.Image{
		"localhost/wharf:2.0.0":                  wharf,
		"localhost/wharf:latest":                 wharf,
		"docker.io/library/postgres:15-bookworm": small,
	}
	path := filepath.Join(t.TempDir(), "images.tar")
	if err := images.WriteArchiveFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := images.ReadArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(images.Refs(got), images.Refs(want)) {
		t.Fatalf("the archive holds %v, want %v", images.Refs(got), images.Refs(want))
	}
	for ref, img := range want {
		if g, w := configName(t, got[ref]), configName(t, img); g != w {
			t.Errorf("%s: image ID %s after the round trip, want %s", ref, g, w)
		}
		if g, w := layerDigests(t, got[ref]), layerDigests(t, img); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: layers %v after the round trip, want %v", ref, g, w)
		}
	}
	// The layer of the image stored under two references is stored once.
	info, _ := os.Stat(path)
	size, _ := wharf.Layers()
	n, _ := size[0].Size()
	if info.Size() > 2*n {
		t.Errorf("the archive is %d bytes for a %d-byte layer: stored twice?", info.Size(), n)
	}
}

func TestArchiveRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tar")
	if err := images.WriteArchiveFile(good, map[string]v1.Image{"localhost/small:1": smallImage(t, "x")}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.tar")
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	garbage := filepath.Join(dir, "garbage.tar")
	os.WriteFile(garbage, []byte("this is not a tarball"), 0o644)
	for _, c := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "none.tar")},
		{"truncated", truncated},
		{"garbage", garbage},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := images.ReadArchive(c.path); err == nil || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("got %v, want an error naming %s", err, c.path)
			}
		})
	}
	for _, c := range []struct {
		name string
		refs map[string]v1.Image
		want string
	}{
		{"no images", nil, "no images"},
		{"no tag", map[string]v1.Image{"localhost/small": smallImage(t, "x")}, "fully qualified"},
		{"bad reference", map[string]v1.Image{"Not A Ref:1": smallImage(t, "x")}, "fully qualified"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := images.WriteArchive(io.Discard, c.refs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	// A failed write leaves what was there before.
	if err := images.WriteArchiveFile(good, nil); err == nil {
		t.Fatal("writing no images succeeded")
	}
	if _, err := images.ReadArchive(good); err != nil {
		t.Fatalf("a failed write damaged the archive: %v", err)
	}
}

func TestWharfImageRunsInPodman(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers with podman")
	}
	img := wharfImage(t, "3.0.0")
	archive := filepath.Join(t.TempDir(), "wharf.tar")
	small := smallImage(t, "hi")
	if err := images.WriteArchiveFile(archive, map[string]v1.Image{
		"localhost/wharf:3.0.0": img, "localhost/wharf:latest": img, "docker.io/library/small:1": small,
	}); err != nil {
		t.Fatal(err)
	}
	p := testservers.NewPodmanRunner(t)
	p.Must("load", "--input", archive)
	// Every reference is kept, under the image ID the config digest gives.
	for ref, want := range map[string]v1.Image{"localhost/wharf:3.0.0": img, "localhost/wharf:latest": img, "docker.io/library/small:1": small} {
		id := strings.TrimSpace(p.Must("image", "inspect", "--format", "{{.Id}}", ref))
		if w := configName(t, want).Hex; id != w {
			t.Errorf("%s: podman has image %s, want %s", ref, id, w)
		}
	}

	data := t.TempDir() // the installer makes the data directory the wharf user's
	if err := os.Chown(data, images.WharfUID, images.WharfGID); err != nil {
		t.Fatal(err)
	}
	port := testservers.FreePort(t)
	c := p.RunContainer("-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "-v", data+":"+images.WharfDataDir,
		"localhost/wharf:3.0.0")
	url := fmt.Sprintf("http://127.0.0.1:%d/health/instance", port)
	c.WaitReady(90*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
	// The server runs as wharf (1001), as the kernel sees it.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.PID()))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"Uid", "Gid"} {
		if ids := statusField(string(status), field); len(ids) != 4 || ids[0] != "1001" || ids[1] != "1001" {
			t.Errorf("the server's %s are %v, want 1001 (real, effective)", field, ids)
		}
	}
	// What it writes in its data directory belongs to wharf.
	pw := filepath.Join(data, "initial-admin-password")
	info, err := os.Stat(pw)
	if err != nil {
		t.Fatalf("the server wrote no initial password into its data directory: %v\n%s", err, c.Logs())
	}
	if st := info.Sys().(*syscall.Stat_t); st.Uid != images.WharfUID || st.Gid != images.WharfGID {
		t.Errorf("%s is owned by %d:%d, want 1001:1001", pw, st.Uid, st.Gid)
	}
	if b, _ := os.ReadFile(pw); !strings.Contains(c.Logs(), strings.TrimSpace(string(b))) {
		t.Errorf("the initial password %q in the data directory is not the one the server printed:\n%s", b, c.Logs())
	}
	// The user name resolves from the image's /etc/passwd.
	if out := strings.TrimSpace(p.Must("top", c.ID, "user")); !strings.Contains(out, "wharf") {
		t.Errorf("podman top shows the user as:\n%s\nwant wharf", out)
	}
}

func statusField(status, field string) []string {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

func configName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d.String())
	}
	return ds
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func FuzzReadArchive(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.tar")
	layer, _ := images.NewLayer([]images.File{{Path: "/a", Mode: 0o644, Body: []byte("a")}})
	img, _ := images.Image(layer, v1.Config{}, "seed")
	if err := images.WriteArchiveFile(seed, map[string]v1.Image{"localhost/seed:1": img}); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(seed)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "archive.tar")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		refs, err := images.ReadArchive(path)
		if err != nil {
			return
		}
		for ref, img := range refs {
			if _, err := img.ConfigFile(); err != nil {
				t.Errorf("%s: ReadArchive returned an image with no config: %v", ref, err)
			}
		}
	})
}
