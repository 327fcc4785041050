package airgap

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/cache"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerCache keeps pulled compressed layers in a directory, one file per digest, so a pull
// that was interrupted fetches only what it lacks when run again. Unlike
// go-containerregistry's filesystem cache, a layer enters the cache only once it was read to
// the end and its digest matched: an interrupted download never leaves a partial layer behind
// that a later run would take for a whole one.
type layerCache struct{ dir string }

var _ cache.Cache = layerCache{}

func (c layerCache) path(h v1.Hash) string {
	return filepath.Join(c.dir, h.Algorithm+"-"+h.Hex)
}

// Put returns the layer wrapped so that reading its compressed content to the end stores it.
func (c layerCache) Put(l v1.Layer) (v1.Layer, error) {
	return &teeLayer{Layer: l, c: c}, nil
}

// Get returns a cached layer, or cache.ErrNotFound.
func (c layerCache) Get(h v1.Hash) (v1.Layer, error) {
	fi, err := os.Stat(c.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, cache.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return partial.CompressedToLayer(&cachedLayer{path: c.path(h), digest: h, size: fi.Size()})
}

// Delete removes a cached layer.
func (c layerCache) Delete(h v1.Hash) error {
	err := os.Remove(c.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return cache.ErrNotFound
	}
	return err
}

// cachedLayer is a layer file in the cache.
type cachedLayer struct {
	path   string
	digest v1.Hash
	size   int64
}

func (l *cachedLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *cachedLayer) Size() (int64, error)                { return l.size, nil }
func (l *cachedLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (l *cachedLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

// teeLayer stores its compressed content in the cache as it is read.
type teeLayer struct {
	v1.Layer
	c layerCache
}

func (l *teeLayer) Compressed() (io.ReadCloser, error) {
	d, err := l.Layer.Digest()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(l.c.dir, 0o700); err != nil {
		rc.Close()
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	tmp, err := os.CreateTemp(l.c.dir, d.Hex+".part-*")
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return &teeReader{rc: rc, tmp: tmp, h: sha256.New(), want: d, dest: l.c.path(d)}, nil
}

// teeReader copies a layer into a temporary file and moves it into the cache when the whole
// layer was read and matched its digest.
type teeReader struct {
	rc       io.ReadCloser
	tmp      *os.File
	h        hash.Hash
	want     v1.Hash
	dest     string
	complete bool
	werr     error
}

func (t *teeReader) Read(b []byte) (int, error) {
	n, err := t.rc.Read(b)
	if n > 0 && t.werr == nil {
		_, t.werr = t.tmp.Write(b[:n])
		t.h.Write(b[:n])
	}
	if errors.Is(err, io.EOF) {
		t.complete = true
	}
	return n, err
}

func (t *teeReader) Close() error {
	err := t.rc.Close()
	keep := t.complete && t.werr == nil && "sha256:"+hexSum(t.h.Sum(nil)) == t.want.String()
	if cerr := t.tmp.Close(); cerr != nil {
		keep = false
	}
	if keep {
		if os.Rename(t.tmp.Name(), t.dest) == nil {
			return err
		}
	}
	os.Remove(t.tmp.Name())
	return err
}
