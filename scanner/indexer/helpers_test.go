package indexer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
)

// file is one entry of a test layer.
type file struct {
	name string
	body string
	mode int64 // 0: 0644 for files, 0755 for directories
	typ  byte  // 0: a regular file
	link string
}

func dir(name string) file                  { return file{name: name, typ: tar.TypeDir} }
func symlink(name, to string) file          { return file{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) file         { return file{name: name, typ: tar.TypeLink, link: to} }
func exe(name, body string) file            { return file{name: name, body: body, mode: 0o755} }
func whiteout(dir, name string) file        { return file{name: dir + "/.wh." + name} }
func opaque(dir string) file                { return file{name: dir + "/.wh..wh..opq"} }
func text(name, body string) file           { return file{name: name, body: body} }
func lines(ls ...string) string             { return strings.Join(ls, "\n") + "\n" }
func blobDigest(b []byte) string            { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
func layerOf(b []byte) indexer.Layer        { return blobLayer(b, blobDigest(b)) }
func tarOf(t testing.TB, fs ...file) []byte { return archive(t, fs) }

// archive makes a tar archive of the files.
func archive(t testing.TB, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Linkname: f.link, ModTime: time.Unix(1700000000, 0)}
		switch f.typ {
		case 0:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		case tar.TypeDir:
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		default:
			h.Mode = 0o777
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, f.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compression of a test blob.
type compression int

const (
	plain compression = iota
	gzipped
	zstded
)

func compress(t testing.TB, c compression, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case plain:
		return b
	case gzipped:
		w = gzip.NewWriter(&buf)
	case zstded:
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blobLayer is a layer whose blob is b, opened from memory.
func blobLayer(b []byte, digest string) indexer.Layer {
	return indexer.Layer{
		Digest: digest,
		Size:   int64(len(b)),
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		},
	}
}

// mkLayer builds a layer of the files, compressed with c.
func mkLayer(t testing.TB, c compression, files ...file) indexer.Layer {
	t.Helper()
	return layerOf(compress(t, c, archive(t, files)))
}

// row is one package in one environment, flattened for comparison. Layer is the index of
// the layer that introduced it.
type row struct {
	Ecosystem, Name, Version, Arch string
	SrcName, SrcVersion            string
	DB                             string
	Layer                          int
	OS                             bool // the environment names the distribution
}

func (r row) String() string {
	return fmt.Sprintf("%s %s %s arch=%s src=%s/%s db=%s layer=%d os=%v",
		r.Ecosystem, r.Name, r.Version, r.Arch, r.SrcName, r.SrcVersion, r.DB, r.Layer, r.OS)
}

// rows flattens an index report, checking its internal references on the way.
func rows(t *testing.T, ir *report.IndexReport, layers []indexer.Layer) []row {
	t.Helper()
	var out []row
	for id, p := range ir.Packages {
		if p.ID != id {
			t.Errorf("package %q has ID %q", id, p.ID)
		}
		if p.Kind != report.KindBinary {
			t.Errorf("package %s: kind %q", p.Name, p.Kind)
		}
		envs := ir.Environments[id]
		if len(envs) == 0 {
			t.Errorf("package %s (%s) has no environment", id, p.Name)
		}
		for _, env := range envs {
			r := row{Name: p.Name, Version: p.Version, Arch: p.Arch, DB: env.PackageDB, Layer: -1}
			r.Ecosystem = ir.Ecosystem(env)
			if r.Ecosystem == "" {
				t.Errorf("package %s: no ecosystem repository in %v", p.Name, env.RepositoryIDs)
			}
			if p.Source != nil {
				if p.Source.Kind != report.KindSource {
					t.Errorf("package %s: source kind %q", p.Name, p.Source.Kind)
				}
				r.SrcName, r.SrcVersion = p.Source.Name, p.Source.Version
			}
			for i, l := range layers {
				if l.Digest == env.IntroducedIn {
					r.Layer = i
				}
			}
			if env.DistributionID != "" {
				if ir.Distributions[env.DistributionID] == nil {
					t.Errorf("package %s: unknown distribution %q", p.Name, env.DistributionID)
				}
				r.OS = true
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b row) int { return strings.Compare(a.String(), b.String()) })
	return out
}
