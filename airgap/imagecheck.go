package airgap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// imageInfo is what checkImageArchive learns about an image archive.
type imageInfo struct {
	Tags     []string    // the archive's RepoTags: the names `podman load` gives the image
	ID       string      // sha256:HEX of the config: the image ID
	Platform v1.Platform // os/arch from the config (may be empty)
	Layers   int
}

// checkImageArchive checks that an image archive (a docker-archive, what `podman save` writes
// and `podman load` reads) holds exactly one image whose every layer's content matches the
// diff ID its config records. open must return the archive from its start on each call.
// Reading is counted into task.
func checkImageArchive(ctx context.Context, open tarball.Opener, task Task) (imageInfo, error) {
	var info imageInfo
	m, err := tarball.LoadManifest(open)
	if err != nil {
		return info, fmt.Errorf("not a docker-archive image (its manifest.json cannot be read: %v); save images with `podman save --format docker-archive -o FILE IMAGE:TAG`", err)
	}
	if len(m) != 1 {
		return info, fmt.Errorf("the archive holds %d images; each image goes in an archive of its own", len(m))
	}
	info.Tags = m[0].RepoTags
	img, err := tarball.Image(open, nil)
	if err != nil {
		return info, fmt.Errorf("read the image in the archive: %w", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return info, fmt.Errorf("read the image config: %w", err)
	}
	info.ID = id.String()
	cf, err := img.ConfigFile()
	if err != nil {
		return info, fmt.Errorf("parse the image config: %w", err)
	}
	info.Platform = v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	layers, err := img.Layers()
	if err != nil {
		return info, fmt.Errorf("read the image layers: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return info, fmt.Errorf("the archive has %d layers but the image config lists %d", len(layers), len(cf.RootFS.DiffIDs))
	}
	info.Layers = len(layers)
	for i, l := range layers {
		want := cf.RootFS.DiffIDs[i]
		got, err := layerDiffID(ctx, l, task)
		if err != nil {
			return info, fmt.Errorf("layer %d of %d (%s): %w", i+1, len(layers), want, err)
		}
		if got != want.String() {
			return info, fmt.Errorf("layer %d of %d is corrupt: its content hashes to %s, the image config says %s", i+1, len(layers), got, want)
		}
	}
	return info, nil
}

// layerDiffID hashes a layer's uncompressed content.
func layerDiffID(ctx context.Context, l v1.Layer, task Task) (string, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, progressReader{r: ctxReader{ctx: ctx, r: rc}, t: task}); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "", errors.New("the layer is cut short")
		}
		return "", fmt.Errorf("read the layer: %w", err)
	}
	return "sha256:" + hexSum(h.Sum(nil)), nil
}

// ctxReader stops reading once its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// platformMatches reports whether an image's platform from its config fits the target;
// an image whose config names no platform fits any.
func platformMatches(img v1.Platform, target *v1.Platform) bool {
	if img.OS == "" && img.Architecture == "" {
		return true
	}
	if img.OS != target.OS || img.Architecture != target.Architecture {
		return false
	}
	return img.Variant == "" || target.Variant == "" || img.Variant == target.Variant
}
