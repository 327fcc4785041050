package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the time every file in a layer and every image's creation date are set to, so
// that building an image twice from the same inputs gives the same digest.
var Epoch = time.Unix(0, 0).UTC()

// File is one entry of a layer built by NewLayer.
type File struct {
	// Path is the absolute path inside the image, e.g. "/usr/bin/wharf".
	Path string
	// Mode holds the permission bits (and fs.ModeDir for a directory, fs.ModeSymlink for a
	// symbolic link, fs.ModeSticky for /tmp).
	Mode fs.FileMode
	// UID and GID own the entry.
	UID, GID int
	// Body is a regular file's content; Target is a symbolic link's target.
	Body   []byte
	Target string
}

// NewLayer makes a gzip-compressed OCI layer of files, written in path order with every time
// set to Epoch and no user or group names, so that the same files give the same digest.
func NewLayer(files []File) (v1.Layer, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range sorted {
		name := strings.TrimPrefix(filepath.Clean(f.Path), "/")
		if name == "" || name == "." || !filepath.IsAbs(f.Path) {
			return nil, fmt.Errorf("layer entry %q: need an absolute path below /", f.Path)
		}
		hdr := &tar.Header{Name: name, Mode: int64(tarMode(f.Mode)), Uid: f.UID, Gid: f.GID, ModTime: Epoch, Format: tar.FormatPAX}
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Target
		case f.Mode.IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Body))
		default:
			return nil, fmt.Errorf("layer entry %s: unsupported file mode %s", f.Path, f.Mode)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// tarMode turns Go's file mode into tar's permission and special bits.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// DirLayer packs the directory tree at dir into a gzip-compressed OCI layer written to
// layerFile, keeping owners, permissions, symbolic and hard links but setting every time to
// Epoch, so that the same tree gives the same digest. Device nodes, sockets and the contents of
// mount points are left out: the container engine provides /dev, /proc and /sys. progress,
// when not nil, is called now and then with the bytes packed so far.
func DirLayer(dir, layerFile string, progress func(bytes int64)) (v1.Layer, error) {
	root, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	rootDev := root.Sys().(*syscall.Stat_t).Dev
	out, err := os.Create(layerFile)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	defer out.Close()
	counter := &countingWriter{w: out, progress: progress}
	zw := gzip.NewWriter(counter)
	tw := tar.NewWriter(zw)
	links := map[[2]uint64]string{} // (device, inode) of files with several names -> first name
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: tarMode(fi.Mode()), Uid: int(st.Uid), Gid: int(st.Gid), ModTime: Epoch, Format: tar.FormatPAX}
		var body string
		switch {
		case fi.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case fi.Mode().IsRegular():
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok && st.Nlink > 1 {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			} else {
				if st.Nlink > 1 {
					links[key] = hdr.Name
				}
				hdr.Typeflag, hdr.Size, body = tar.TypeReg, fi.Size(), path
			}
		default: // device nodes, sockets, FIFOs
			return nil
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if body != "" {
			f, err := os.Open(body)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		if fi.IsDir() && st.Dev != rootDev {
			return filepath.SkipDir // a mount point: keep the directory, not what is mounted
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	return tarball.LayerFromFile(layerFile, tarball.WithMediaType(types.OCILayer))
}

// countingWriter reports the bytes written through it every 16 MiB.
type countingWriter struct {
	w        io.Writer
	n, last  int64
	progress func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && c.n-c.last >= 16<<20 {
		c.last = c.n
		c.progress(c.n)
	}
	return n, err
}
