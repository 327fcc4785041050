package images_test

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wharf-registry/wharf/images"
)

// tarEntries lists a layer's entries by name.
func tarEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = hdr
	}
}

func TestDirLayer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files other owners needs root")
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/tool"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Link(filepath.Join(dir, "usr/bin/tool"), filepath.Join(dir, "usr/bin/tool-alias")))
	must(os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/su"), nil, 0o755))
	must(os.Chmod(filepath.Join(dir, "usr/bin/su"), fs.ModeSetuid|0o755))
	must(os.Mkdir(filepath.Join(dir, "data"), 0o700))
	must(os.Chown(filepath.Join(dir, "data"), 999, 998))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))

	pack := func() v1.Layer {
		l, err := images.DirLayer(dir, filepath.Join(t.TempDir(), "layer.tar.gz"), nil)
		must(err)
		return l
	}
	first := pack()
	entries := tarEntries(t, first)
	for _, c := range []struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
		link     string
	}{
		{"usr/", tar.TypeDir, 0o755, 0, 0, ""},
		{"usr/bin/tool", tar.TypeReg, 0o755, 0, 0, ""},
		{"usr/bin/tool-alias", tar.TypeLink, 0o755, 0, 0, "usr/bin/tool"},
		{"bin", tar.TypeSymlink, 0o777, 0, 0, "usr/bin"},
		{"usr/bin/su", tar.TypeReg, 0o4755, 0, 0, ""},
		{"data/", tar.TypeDir, 0o700, 999, 998, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, ok := entries[c.name]
			if !ok {
				t.Fatalf("no %s in the layer", c.name)
			}
			if h.Typeflag != c.typ || h.Mode != c.mode || h.Uid != c.uid || h.Gid != c.gid || h.Linkname != c.link {
				t.Errorf("got type %c mode %o owner %d:%d link %q, want type %c mode %o owner %d:%d link %q",
					h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, c.typ, c.mode, c.uid, c.gid, c.link)
			}
			if !h.ModTime.Equal(images.Epoch) || h.Uname != "" || h.Gname != "" {
				t.Errorf("time %s, names %q:%q; want the epoch and no names", h.ModTime, h.Uname, h.Gname)
			}
		})
	}
	if _, ok := entries["fifo"]; ok {
		t.Error("the FIFO was packed; device nodes, sockets and FIFOs are left out")
	}
	// Touching every file changes nothing: the digest depends on contents, modes and owners.
	later := time.Now().Add(time.Hour)
	filepath.Walk(dir, func(p string, _ fs.FileInfo, _ error) error { os.Chtimes(p, later, later); return nil })
	d1, _ := first.Digest()
	d2, _ := pack().Digest()
	if d1 != d2 {
		t.Errorf("packing the same tree twice gave %s and %s", d1, d2)
	}
	must(os.WriteFile(filepath.Join(dir, "usr/bin/tool"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	if d3, _ := pack().Digest(); d3 == d1 {
		t.Error("another content gave the same digest")
	}
}

func TestNewLayerRefusesBadEntries(t *testing.T) {
	for _, c := range []struct {
		name string
		file images.File
		want string
	}{
		{"relative", images.File{Path: "etc/passwd", Mode: 0o644}, "absolute path"},
		{"root", images.File{Path: "/", Mode: fs.ModeDir | 0o755}, "absolute path"},
		{"device", images.File{Path: "/dev/null", Mode: fs.ModeDevice | 0o666}, "unsupported file mode"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := images.NewLayer([]images.File{c.file})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}
