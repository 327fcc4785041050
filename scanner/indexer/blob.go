package indexer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	_ "crypto/sha256" // digest algorithms for go-digest
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// Magic numbers of the compressions a layer blob may use.
var (
	gzipMagic  = []byte{0x1f, 0x8b}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	bzip2Magic = []byte("BZh")
)

// errNotTar reports a blob whose (decompressed) content is not a tar archive.
var errNotTar = errors.New("not a tar archive")

// decompress returns the uncompressed content of a blob, choosing the decompressor by the
// blob's magic bytes (gzip, zstd, bzip2; anything else is read as it is), the compression's
// name ("" for none), and a function that releases the decompressor.
func decompress(r io.Reader) (io.Reader, string, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", nil, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, "gzip", func() { _ = zr.Close() }, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, "", nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, "zstd", zr.Close, nil
	case bytes.HasPrefix(head, bzip2Magic) && len(head) == 4 && head[3] >= '1' && head[3] <= '9':
		return bzip2.NewReader(br), "bzip2", func() {}, nil
	}
	return br, "", func() {}, nil
}

// errReader remembers the first error other than io.EOF its reader returned, prefixed with
// what it reads (e.g. "gzip"), so that a decompression or transport failure is not mistaken
// for a malformed archive.
type errReader struct {
	r    io.Reader
	what string
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
		if e.what != "" {
			e.err = fmt.Errorf("%s: %w", e.what, err)
		}
	}
	return n, err
}

// hides is what the layers above the one being read hide from it: regular whiteouts hide a
// path and everything below it (gone), opaque directories and non-directories everything
// strictly below them (below). Paths are clean and relative ("" is the root).
type hides struct {
	gone  map[string]struct{}
	below map[string]struct{}
}

func newHides() *hides {
	return &hides{gone: map[string]struct{}{}, below: map[string]struct{}{}}
}

// hidden reports whether an entry at p in a lower layer is hidden.
func (h *hides) hidden(p string) bool {
	if len(h.gone) == 0 && len(h.below) == 0 {
		return false
	}
	if _, ok := h.gone[p]; ok {
		return true
	}
	for dir := p; dir != ""; {
		if i := strings.LastIndexByte(dir, '/'); i >= 0 {
			dir = dir[:i]
		} else {
			dir = ""
		}
		if _, ok := h.below[dir]; ok {
			return true
		}
		if _, ok := h.gone[dir]; ok && dir != "" {
			return true
		}
	}
	return false
}

// merge adds o's hides to h.
func (h *hides) merge(o *hides) {
	for p := range o.gone {
		h.gone[p] = struct{}{}
	}
	for p := range o.below {
		h.below[p] = struct{}{}
	}
}

// cleanName turns a tar entry name into a clean relative path; "" is the root.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// Whiteout names (OCI image spec, "Representing Changes").
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// filterTar copies the layer archive read from tr to tw for scalibr's layer scanner, which
// squashes the layers itself but handles neither opaque whiteouts, nor directories
// re-created above a whiteout, nor hard links (it takes their archive-rooted target as
// relative to the link). It
//   - drops the entries that upper layers hide (above), and records in own what this layer
//     hides from the layers below it;
//   - drops whiteout entries, having recorded them, and entries other than regular files,
//     directories, symbolic and hard links (devices, FIFOs);
//   - writes names clean, hard links and symbolic links with absolute targets inside the root,
//     and only the header fields scalibr reads.
//
// A stream whose first header cannot be read, although its reader did not fail, is errNotTar.
func filterTar(tr *tar.Reader, src *errReader, tw *tar.Writer, above, own *hides) error {
	for first := true; ; first = false {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if src.err != nil {
				return src.err
			}
			if first {
				return errNotTar
			}
			return fmt.Errorf("read tar: %w", err)
		}
		name := cleanName(hdr.Name)
		if name == "" {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if strings.HasPrefix(base, whiteoutPrefix) {
			switch {
			case base == whiteoutOpaque:
				own.below[dir] = struct{}{}
			case strings.HasPrefix(base, whiteoutMeta):
				// Other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply.
			case len(base) > len(whiteoutPrefix):
				own.gone[path.Join(dir, base[len(whiteoutPrefix):])] = struct{}{}
			}
			continue
		}
		if above.hidden(name) {
			continue
		}
		out := &tar.Header{Name: name, Mode: hdr.Mode & 0o7777, ModTime: hdr.ModTime.Truncate(1e9)}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
			out.Typeflag, out.Size = tar.TypeReg, hdr.Size
		case tar.TypeDir:
			out.Typeflag = tar.TypeDir
		case tar.TypeSymlink:
			if hdr.Linkname == "" {
				continue
			}
			out.Typeflag, out.Linkname = tar.TypeSymlink, path.Join("/", dir, hdr.Linkname)
			if path.IsAbs(hdr.Linkname) {
				out.Linkname = path.Clean(hdr.Linkname)
			}
		case tar.TypeLink:
			target := cleanName(hdr.Linkname)
			if target == "" || target == name {
				continue
			}
			out.Typeflag, out.Linkname = tar.TypeLink, "/"+target
		default:
			continue
		}
		if out.Typeflag != tar.TypeDir {
			own.below[name] = struct{}{}
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if out.Typeflag == tar.TypeReg && out.Size > 0 {
			if _, err := io.Copy(tw, tr); err != nil {
				if src.err != nil {
					return src.err
				}
				return fmt.Errorf("read tar: %s: %w", name, err)
			}
		}
	}
}

// verifier checks a blob against its digest as it is read; a digest that does not parse
// (or names an algorithm this binary lacks) is not checked.
type verifier struct {
	want digest.Digest
	v    digest.Verifier
}

func newVerifier(d string) *verifier {
	dg, err := digest.Parse(d)
	if err != nil || !dg.Algorithm().Available() {
		return &verifier{}
	}
	return &verifier{want: dg, v: dg.Verifier()}
}

func (v *verifier) Write(p []byte) (int, error) {
	if v.v == nil {
		return len(p), nil
	}
	return v.v.Write(p)
}

func (v *verifier) check() error {
	if v.v == nil || v.v.Verified() {
		return nil
	}
	return fmt.Errorf("content does not match digest %s", v.want)
}
