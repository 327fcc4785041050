package indexer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func seedTar(f *testing.F, entries ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			f.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

// FuzzCopyLayer feeds arbitrary blobs to the layer reader (compression detection,
// decompression, tar filtering): it must not panic or hang, and what it writes when it
// succeeds must be a well-formed archive of clean names without whiteouts or hidden entries.
func FuzzCopyLayer(f *testing.F) {
	tarball := seedTar(f,
		&tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644},
		&tar.Header{Name: "usr/lib/.wh.gone", Typeflag: tar.TypeReg},
		&tar.Header{Name: "opt/.wh..wh..opq", Typeflag: tar.TypeReg},
		&tar.Header{Name: "hidden/x", Typeflag: tar.TypeReg, Size: 1},
		&tar.Header{Name: "a/b/../../../link", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/passwd"},
		&tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "./etc/os-release"},
		&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar},
	)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(tarball)
	_ = gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	_, _ = zw.Write(tarball)
	_ = zw.Close()
	f.Add(tarball)
	f.Add(gz.Bytes())
	f.Add(zs.Bytes())
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Add([]byte(`{"not": "a tar"}`))

	f.Fuzz(func(t *testing.T, blob []byte) {
		above := newHides()
		above.gone["hidden"] = struct{}{}
		own := newHides()
		var out bytes.Buffer
		err := copyLayer(bytes.NewReader(blob), "", &out, above, own)
		if err != nil {
			if errors.Is(err, errNotTar) {
				t.Fatalf("errNotTar escaped: %v", err)
			}
			return
		}
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("output is not a tar archive: %v", err)
			}
			if h.Name == "" || h.Name != strings.TrimPrefix(path.Clean("/"+h.Name), "/") {
				t.Errorf("name %q is not clean", h.Name)
			}
			if strings.HasPrefix(path.Base(h.Name), whiteoutPrefix) {
				t.Errorf("whiteout %q written", h.Name)
			}
			if above.hidden(h.Name) {
				t.Errorf("hidden entry %q written", h.Name)
			}
			switch h.Typeflag {
			case tar.TypeReg, tar.TypeDir:
			case tar.TypeSymlink, tar.TypeLink:
				if !path.IsAbs(h.Linkname) || path.Clean(h.Linkname) != h.Linkname {
					t.Errorf("link %q -> %q: target not absolute and clean", h.Name, h.Linkname)
				}
			default:
				t.Errorf("entry %q of type %q written", h.Name, h.Typeflag)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				t.Fatalf("output is not a tar archive: %v", err)
			}
		}
	})
}

func TestHidden(t *testing.T) {
	h := newHides()
	h.gone["usr/lib/x"] = struct{}{}
	h.below["opt"] = struct{}{}
	h.below["srv/file"] = struct{}{}
	tests := map[string]bool{
		"usr/lib/x": true, "usr/lib/x/y": true, "usr/lib/xy": false, "usr/lib": false,
		"opt": false, "opt/a": true, "opt/a/b": true, "optx/a": false,
		"srv/file": false, "srv/file/a": true, "srv": false, "etc/passwd": false,
	}
	for p, want := range tests {
		if got := h.hidden(p); got != want {
			t.Errorf("hidden(%q) = %v, want %v", p, got, want)
		}
	}
	root := newHides()
	root.below[""] = struct{}{}
	if !root.hidden("a") || !root.hidden("a/b") {
		t.Error("an opaque root does not hide everything below it")
	}
}
