package images

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteArchive writes images, keyed by their references ("localhost/wharf:1.0",
// "docker.io/library/postgres:15-bookworm"), into one docker-archive tarball, the format
// `podman load` (and `docker load`) reads with every reference kept. One image may appear under
// several references; its layers are stored once.
//
// The archive keeps each image's config and layers, so the image ID (the config digest) is
// the same after `podman load`; the manifest is not stored, so the manifest digest may differ.
func WriteArchive(w io.Writer, refs map[string]v1.Image) error {
	if len(refs) == 0 {
		return errors.New("image archive: no images to write")
	}
	m := make(map[name.Reference]v1.Image, len(refs))
	for ref, img := range refs {
		tag, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("image archive: reference %q: %w (give a fully qualified reference with a tag, e.g. localhost/wharf:1.0)", ref, err)
		}
		m[tag] = img
	}
	if err := tarball.MultiRefWrite(m, w); err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	return nil
}

// WriteArchiveFile writes the archive to path through a temporary file beside it, so that path
// holds either the whole archive or what it held before.
func WriteArchiveFile(path string, refs map[string]v1.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := WriteArchive(tmp, refs); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	return nil
}

// ReadArchive opens an archive written by WriteArchive (or `podman save`, `docker save`) and
// returns its images keyed by reference. The images read from the file when used, so the file
// must stay until they are.
func ReadArchive(path string) (map[string]v1.Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("image archive %s: %w (is it a docker-archive tarball made by `wharf bundle create` or `podman save`?)", path, err)
	}
	refs := map[string]v1.Image{}
	for _, entry := range manifest {
		for _, ref := range entry.RepoTags {
			tag, err := name.NewTag(ref, name.WeakValidation)
			if err != nil {
				return nil, fmt.Errorf("image archive %s: reference %q: %w", path, ref, err)
			}
			img, err := tarball.Image(opener, &tag)
			if err != nil {
				return nil, fmt.Errorf("image archive %s: image %s: %w", path, ref, err)
			}
			if _, err := img.ConfigFile(); err != nil {
				return nil, fmt.Errorf("image archive %s: image %s: %w", path, ref, err)
			}
			refs[ref] = img
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("image archive %s: it names no image", path)
	}
	return refs, nil
}

// Refs returns the references of images in sorted order.
func Refs(images map[string]v1.Image) []string {
	refs := make([]string, 0, len(images))
	for r := range images {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	return refs
}
