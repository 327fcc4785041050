package airgap

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/cache"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageSource produces the image of one component for a bundle.
type ImageSource interface {
	// Name is the component the image is for (registry, postgres, redis, ...).
	Name() string
	// Ref is the reference the image carries in its archive: the name `podman load` gives it.
	Ref() string
	// WriteArchive writes the image to w as a docker-archive, what `podman load` reads.
	WriteArchive(ctx context.Context, w io.Writer) error
}

// Optional interfaces an ImageSource may implement.
type (
	// archiveSizer knows its archive's size before writing it (for progress).
	archiveSizer interface {
		ArchiveSize(ctx context.Context) (int64, error)
	}
	// archiveFile is an archive already on disk: Create reads it in place.
	archiveFile interface {
		ArchivePath() string
	}
	// originer says where the image came from (a reference with digest, a file).
	originer interface {
		Origin() string
	}
)

// NormalizeRef writes an image reference the way podman names images: registry, repository
// and tag in full (postgres:16 is docker.io/library/postgres:16). A reference without a tag
// gets "latest"; a digest is kept after the tag.
func NormalizeRef(ref string) (string, error) {
	tagPart, digest, hasDigest := strings.Cut(ref, "@")
	t, err := name.NewTag(tagPart, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("%q is not an image reference (REGISTRY/REPOSITORY:TAG): %w", ref, err)
	}
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	out := reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
	if hasDigest {
		if t.TagStr() == name.DefaultTag && !strings.HasSuffix(tagPart, ":"+name.DefaultTag) {
			return "", fmt.Errorf("%q pins a digest but names no tag: write REPOSITORY:TAG@DIGEST, the tag names the image once loaded", ref)
		}
		if _, err := v1.NewHash(digest); err != nil {
			return "", fmt.Errorf("%q has a malformed digest: %w", ref, err)
		}
		out += "@" + digest
	}
	return out, nil
}

// RemoteOptions configure images pulled from a registry.
type RemoteOptions struct {
	// Platform is the os/arch[/variant] to pull from a multi-platform image (default linux/amd64).
	Platform string
	// Insecure lists registries (host or host:port) reached over plain HTTP or TLS without
	// certificate verification.
	Insecure []string
	// CacheDir keeps pulled layers, verified, so a pull that was interrupted and is run again
	// fetches only the layers it lacks. Empty: no cache.
	CacheDir string
	// Keychain finds credentials (default: authn.DefaultKeychain, which reads the logins of
	// `podman login` and `docker login`).
	Keychain authn.Keychain
	// Transport is the HTTP transport (default: go-containerregistry's).
	Transport http.RoundTripper
	// UserAgent names the client to registries.
	UserAgent string
}

// remoteImage is an image pulled from a registry.
type remoteImage struct {
	component string
	ref       string // normalized tag reference, what the archive carries
	pull      name.Reference
	opts      []remote.Option
	cacheDir  string
	img       v1.Image
	origin    string
}

// NewRemoteImage returns the image of component pulled from a registry by ref:
// REGISTRY/REPOSITORY:TAG, or REGISTRY/REPOSITORY:TAG@sha256:DIGEST to pin the content (the
// tag names the image once loaded). Nothing is fetched until the image is written.
func NewRemoteImage(component, ref string, opts RemoteOptions) (ImageSource, error) {
	if err := CheckComponentName(component); err != nil {
		return nil, err
	}
	norm, err := NormalizeRef(ref)
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", component, err)
	}
	tagPart, digest, pinned := strings.Cut(norm, "@")
	probe, err := name.NewTag(tagPart, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", component, err)
	}
	insecure := false
	for _, h := range opts.Insecure {
		if h == probe.RegistryStr() {
			insecure = true
		}
	}
	var nameOpts []name.Option
	if insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	var pull name.Reference
	if pinned {
		pull, err = name.NewDigest(probe.Repository.Name()+"@"+digest, nameOpts...)
	} else {
		pull, err = name.NewTag(tagPart, nameOpts...)
	}
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", component, err)
	}
	platform := opts.Platform
	if platform == "" {
		platform = "linux/amd64"
	}
	p, err := ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	tr := opts.Transport
	if tr == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		if insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user named this registry insecure
		}
		tr = t
	}
	ropts := []remote.Option{remote.WithPlatform(*p), remote.WithAuthFromKeychain(kc), remote.WithTransport(tr)}
	if opts.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(opts.UserAgent))
	}
	return &remoteImage{component: component, ref: tagPart, pull: pull, opts: ropts, cacheDir: opts.CacheDir}, nil
}

func (r *remoteImage) Name() string   { return r.component }
func (r *remoteImage) Ref() string    { return r.ref }
func (r *remoteImage) Origin() string { return r.origin }

// resolve fetches the image's manifest and config (once).
func (r *remoteImage) resolve(ctx context.Context) (v1.Image, error) {
	if r.img != nil {
		return r.img, nil
	}
	img, err := remote.Image(r.pull, append(r.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w (check the reference, that this host reaches the registry, and `podman login` for a private one)", r.pull, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r.pull, err)
	}
	r.origin = r.pull.Context().Name() + "@" + d.String()
	if r.cacheDir != "" {
		img = cache.Image(img, layerCache{dir: r.cacheDir})
	}
	r.img = img
	return img, nil
}

func (r *remoteImage) tag() (name.Tag, error) { return name.NewTag(r.ref, name.WeakValidation) }

func (r *remoteImage) ArchiveSize(ctx context.Context) (int64, error) {
	img, err := r.resolve(ctx)
	if err != nil {
		return 0, err
	}
	t, err := r.tag()
	if err != nil {
		return 0, err
	}
	return tarball.CalculateSize(map[name.Reference]v1.Image{t: img})
}

func (r *remoteImage) WriteArchive(ctx context.Context, w io.Writer) error {
	img, err := r.resolve(ctx)
	if err != nil {
		return err
	}
	t, err := r.tag()
	if err != nil {
		return err
	}
	if err := tarball.Write(t, img, w); err != nil {
		return fmt.Errorf("pull %s: %w", r.pull, err)
	}
	return nil
}

// archiveImage is a docker-archive file on disk (from `podman save`).
type archiveImage struct {
	component, path, ref string
}

// NewArchiveImage returns the image of component from a docker-archive file (what `podman save
// --format docker-archive` writes). The archive must hold one image with a tag; the tag names
// the image once loaded.
func NewArchiveImage(component, path string) (ImageSource, error) {
	if err := CheckComponentName(component); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("image archive for %s: %w", component, err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return nil, fmt.Errorf("image archive %s for %s is not a docker-archive (%v): save it with `podman save --format docker-archive -o FILE IMAGE:TAG`", path, component, err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("image archive %s for %s holds %d images; save one image per archive", path, component, len(m))
	}
	if len(m[0].RepoTags) == 0 {
		return nil, fmt.Errorf("image archive %s for %s has no tag, so the image would have no name once loaded: save it by name with `podman save --format docker-archive -o FILE IMAGE:TAG`", path, component)
	}
	ref, err := NormalizeRef(m[0].RepoTags[0])
	if err != nil {
		return nil, fmt.Errorf("image archive %s for %s: %w", path, component, err)
	}
	return &archiveImage{component: component, path: path, ref: ref}, nil
}

func (a *archiveImage) Name() string        { return a.component }
func (a *archiveImage) Ref() string         { return a.ref }
func (a *archiveImage) ArchivePath() string { return a.path }
func (a *archiveImage) Origin() string      { return "file " + a.path }

func (a *archiveImage) WriteArchive(ctx context.Context, w io.Writer) error {
	f, err := os.Open(a.path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, ctxReader{ctx: ctx, r: f})
	return err
}

// builtImage is an image assembled in this process (the wharf image from the binary).
type builtImage struct {
	component, ref, origin string
	img                    v1.Image
}

// NewImage returns the image of component from an image built in this process, such as the
// wharf image assembled from the binary; ref is the name it is loaded under and origin says
// how it was made.
func NewImage(component, ref, origin string, img v1.Image) (ImageSource, error) {
	if err := CheckComponentName(component); err != nil {
		return nil, err
	}
	norm, err := NormalizeRef(ref)
	if err != nil || strings.Contains(norm, "@") {
		return nil, fmt.Errorf("image for %s: %q must be REGISTRY/REPOSITORY:TAG", component, ref)
	}
	return &builtImage{component: component, ref: norm, origin: origin, img: img}, nil
}

func (b *builtImage) Name() string   { return b.component }
func (b *builtImage) Ref() string    { return b.ref }
func (b *builtImage) Origin() string { return b.origin }

func (b *builtImage) ArchiveSize(context.Context) (int64, error) {
	t, err := name.NewTag(b.ref, name.WeakValidation)
	if err != nil {
		return 0, err
	}
	return tarball.CalculateSize(map[name.Reference]v1.Image{t: b.img})
}

func (b *builtImage) WriteArchive(_ context.Context, w io.Writer) error {
	t, err := name.NewTag(b.ref, name.WeakValidation)
	if err != nil {
		return err
	}
	return tarball.Write(t, b.img, w)
}
