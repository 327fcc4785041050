package indexer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// image presents the layers to index as a go-containerregistry image for scalibr's layer
// scanner. Each blob is read once: the scanner squashes the layers from the top one down,
// calling Uncompressed once per layer, and image checks that order, since the hides each
// layer's filter applies are those the layers above it recorded.
type image struct {
	ctx    context.Context
	layers []*layer

	mu    sync.Mutex
	next  int    // index of the layer expected to be read next
	above *hides // what the layers read so far hide from those below
	err   error  // the first layer error
}

var _ v1.Image = (*image)(nil)

func newImage(ctx context.Context, layers []Layer) *image {
	img := &image{ctx: ctx, next: len(layers) - 1, above: newHides()}
	for i, l := range layers {
		img.layers = append(img.layers, &layer{img: img, index: i, l: l, hash: layerHash(i, l.Digest)})
	}
	return img
}

// layerHash is the layer's digest as a v1.Hash, or a stand-in derived from it when it does
// not parse (scalibr only uses it to label the layer).
func layerHash(i int, d string) v1.Hash {
	if h, err := v1.NewHash(d); err == nil {
		return h
	}
	sum := sha256.Sum256([]byte(strconv.Itoa(i) + "\x00" + d))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// fail records the first layer error and returns it.
func (img *image) fail(err error) error {
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.err == nil {
		img.err = err
	}
	return err
}

// layerErr returns the first layer error, if any.
func (img *image) layerErr() error {
	img.mu.Lock()
	defer img.mu.Unlock()
	return img.err
}

func (img *image) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(img.layers))
	for i, l := range img.layers {
		out[i] = l
	}
	return out, nil
}

// ConfigFile has one history entry per layer, so that scalibr's chain layers are the layers
// in order (and it does not warn about a missing history).
func (img *image) ConfigFile() (*v1.ConfigFile, error) {
	cfg := &v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
	for _, l := range img.layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.hash)
		cfg.History = append(cfg.History, v1.History{})
	}
	return cfg, nil
}

func (img *image) RawConfigFile() ([]byte, error) {
	cfg, _ := img.ConfigFile()
	return json.Marshal(cfg)
}

func (img *image) ConfigName() (v1.Hash, error) {
	b, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(b))
	return h, err
}

func (img *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (img *image) Manifest() (*v1.Manifest, error) {
	m := &v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	for _, l := range img.layers {
		mt, _ := l.MediaType()
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Size: l.l.Size, Digest: l.hash})
	}
	return m, nil
}

func (img *image) RawManifest() ([]byte, error) {
	m, _ := img.Manifest()
	return json.Marshal(m)
}

func (img *image) Size() (int64, error) {
	b, err := img.RawManifest()
	return int64(len(b)), err
}

func (img *image) Digest() (v1.Hash, error) {
	b, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(b))
	return h, err
}

func (img *image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range img.layers {
		if l.hash == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer %s", h)
}

func (img *image) LayerByDiffID(h v1.Hash) (v1.Layer, error) { return img.LayerByDigest(h) }

// layer is one Layer as a v1.Layer. Its DiffID is its digest: scalibr only uses diff IDs to
// label layers, and computing the real one would read the blob a second time.
type layer struct {
	img   *image
	index int
	l     Layer
	hash  v1.Hash
}

var _ v1.Layer = (*layer)(nil)

func (l *layer) Digest() (v1.Hash, error) { return l.hash, nil }
func (l *layer) DiffID() (v1.Hash, error) { return l.hash, nil }
func (l *layer) Size() (int64, error)     { return l.l.Size, nil }

func (l *layer) MediaType() (types.MediaType, error) {
	if l.l.MediaType == "" {
		return types.OCILayer, nil
	}
	return types.MediaType(l.l.MediaType), nil
}

func (l *layer) Compressed() (io.ReadCloser, error) {
	rc, err := l.l.Open(l.img.ctx)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.l.Digest, err)
	}
	return rc, nil
}

// Uncompressed opens the blob and returns its archive as filterTar rewrites it, produced by
// a goroutine that reads, decompresses and verifies the blob.
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	img := l.img
	img.mu.Lock()
	if l.index != img.next {
		img.mu.Unlock()
		return nil, img.fail(fmt.Errorf("layer %s: read out of order (layer %d, expected %d)", l.l.Digest, l.index, img.next))
	}
	above := img.above
	img.mu.Unlock()

	raw, err := l.Compressed()
	if err != nil {
		return nil, img.fail(err)
	}
	pw := newPipe()
	s := &stream{pr: pw, raw: raw, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer s.closeRaw()
		own := newHides()
		if err := copyLayer(raw, l.l.Digest, pw, above, own); err != nil {
			if !s.closed.Load() {
				err = img.fail(fmt.Errorf("layer %s: %w", l.l.Digest, err))
			}
			_ = pw.CloseWithError(err)
			return
		}
		// Publish this layer's hides before the reader sees the end of the archive, so that
		// they are in place when the layer below is opened.
		img.mu.Lock()
		img.above.merge(own)
		img.next--
		img.mu.Unlock()
		if err := pw.Close(); err != nil && !s.closed.Load() {
			_ = img.fail(fmt.Errorf("layer %s: %w", l.l.Digest, err))
		}
	}()
	return s, nil
}

// copyLayer decompresses and filters the blob read from raw into w, and checks the blob
// against its digest.
func copyLayer(raw io.Reader, dgst string, w io.Writer, above, own *hides) error {
	v := newVerifier(dgst)
	src := &errReader{r: io.TeeReader(raw, v)}
	plain, what, release, err := decompress(src)
	if err != nil {
		return err
	}
	defer release()
	body := &errReader{r: plain, what: what}
	tw := tar.NewWriter(w)
	err = filterTar(tar.NewReader(body), body, tw, above, own)
	if errors.Is(err, errNotTar) {
		// Not a filesystem layer: index it as an empty one.
		clear(own.gone)
		clear(own.below)
		err = nil
	}
	if err != nil {
		return err
	}
	// Read to the end, so that the decompressor checks its trailer and the digest is whole.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return body.err
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return err
	}
	if err := v.check(); err != nil {
		return err
	}
	return tw.Close()
}

// stream is the reading end of a layer's filtered archive.
type stream struct {
	pr      *pipe
	raw     io.ReadCloser
	rawOnce sync.Once
	closed  atomic.Bool // the reader closed the stream
	done    chan struct{}
}

func (s *stream) Read(p []byte) (int, error) { return s.pr.Read(p) }

func (s *stream) closeRaw() { s.rawOnce.Do(func() { _ = s.raw.Close() }) }

// Close stops the producing goroutine (closing the blob unblocks a pending read) and waits
// for it.
func (s *stream) Close() error {
	s.closed.Store(true)
	s.pr.CloseRead()
	s.closeRaw()
	<-s.done
	return nil
}
