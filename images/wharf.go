package images

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The wharf image's file system layout and account.
const (
	// WharfBinary is where the wharf binary lies in the image (the entrypoint).
	WharfBinary = "/usr/bin/wharf"
	// WharfDataDir is the data directory: the embedded database, local storage, the first
	// superuser's password, ACME certificates. Mount persistent storage here.
	WharfDataDir = "/var/lib/wharf"
	// WharfConfigDir is the config directory: config.yaml, ssl.cert, ssl.key, extra_ca_certs/.
	// Mount the host's config directory here; with none, wharf serves its embedded default.
	WharfConfigDir = "/etc/wharf"
	// WharfUID and WharfGID are the non-root user and group "wharf" that the image runs as and
	// that own WharfDataDir and WharfConfigDir.
	WharfUID, WharfGID = 1001, 1001
	// WharfPort is the port wharf serves HTTP, or HTTPS when the config directory holds
	// ssl.cert and ssl.key, on.
	WharfPort = 8080
	// WharfSource is the project's home, the image's org.opencontainers.image.source label.
	WharfSource = "https://github.com/wharf-registry/wharf"
)

// caBundles are where Linux distributions keep the system's CA certificates as one file (the
// places Go's crypto/x509 looks in).
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL 7+, CentOS
	"/etc/ssl/cert.pem",                                 // Alpine
}

// Wharf assembles the wharf image for linux/amd64 from a static wharf binary (as `make build`
// makes it, CGO_ENABLED=0), with no container engine and no base image: one layer holding the
// binary as /usr/bin/wharf, /etc/passwd and /etc/group with the user wharf (1001:1001), the build
// host's CA certificates as /etc/ssl/certs/ca-certificates.crt (so that outbound TLS works), /tmp,
// and the data and config directories /var/lib/wharf and /etc/wharf owned by wharf.
//
// The image runs `wharf serve` with those directories on 0.0.0.0:8080 as user 1001; the same
// image is the scanner (`wharf scanner serve`) and the builder (`wharf builder`) when run with
// that command instead. Every time in it is Epoch, so the same binary and version give the same
// digest.
func Wharf(binaryPath, version string) (v1.Image, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("read the wharf binary: %w (build it with `make build`)", err)
	}
	if err := checkStatic(bin); err != nil {
		return nil, fmt.Errorf("%s: %w", binaryPath, err)
	}
	if version == "" {
		return nil, errors.New("wharf image: the version is empty: pass the version the binary was built as")
	}
	cas, caPath, err := readCABundle()
	if err != nil {
		return nil, err
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("wharf image: %s is empty: reinstall the system's CA certificates", caPath)
	}
	uid, gid := WharfUID, WharfGID
	name := strconv.Itoa(uid)
	dir := fs.ModeDir | 0o755
	layer, err := NewLayer([]File{
		{Path: "/etc", Mode: dir},
		{Path: "/etc/passwd", Mode: 0o644, Body: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"wharf:x:" + name + ":" + strconv.Itoa(gid) + ":Wharf:" + WharfDataDir + ":/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Body: []byte("root:x:0:\nwharf:x:" + strconv.Itoa(gid) + ":\n")},
		{Path: "/etc/ssl", Mode: dir},
		{Path: "/etc/ssl/certs", Mode: dir},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Body: cas},
		{Path: WharfConfigDir, Mode: fs.ModeDir | 0o750, UID: uid, GID: gid},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/usr", Mode: dir},
		{Path: "/usr/bin", Mode: dir},
		{Path: WharfBinary, Mode: 0o755, Body: bin},
		{Path: "/var", Mode: dir},
		{Path: "/var/lib", Mode: dir},
		{Path: WharfDataDir, Mode: fs.ModeDir | 0o750, UID: uid, GID: gid},
	})
	if err != nil {
		return nil, fmt.Errorf("wharf image: %w", err)
	}
	reg := Defaults(version).Registry
	return Image(layer, v1.Config{
		User:         reg.User,
		Entrypoint:   []string{WharfBinary},
		Cmd:          reg.Args,
		Env:          []string{"PATH=/usr/bin", "HOME=" + WharfDataDir},
		WorkingDir:   WharfDataDir,
		ExposedPorts: map[string]struct{}{strconv.Itoa(WharfPort) + "/tcp": {}},
		Volumes:      map[string]struct{}{WharfDataDir: {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "wharf",
			"org.opencontainers.image.version":     version,
			"org.opencontainers.image.source":      WharfSource,
			"org.opencontainers.image.description": "Wharf container registry: `wharf serve` (the default), `wharf scanner serve`, `wharf builder`",
		},
	}, "wharf "+version)
}

// Image makes a linux/amd64 OCI image of one layer with the given run-time config, dated
// Epoch, so that the same layer and config give the same digest. createdBy describes the layer
// in the image's history.
func Image(layer v1.Layer, cfg v1.Config, createdBy string) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: Epoch}
	cf.Config = cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// checkStatic refuses a binary that is not a static linux/amd64 executable: one linked against
// the C library cannot start in an image that has none.
func checkStatic(bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not a Linux executable (%v): build it with `make build`", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("built for %s, the image is for amd64: build it with GOARCH=amd64 `make build`", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked, the image has no C library: build it with CGO_ENABLED=0 (`make build` does)")
		}
	}
	return nil
}

// readCABundle reads the build host's CA certificates.
func readCABundle() ([]byte, string, error) {
	for _, p := range caBundles {
		b, err := os.ReadFile(p)
		if err == nil {
			return b, p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, p, fmt.Errorf("wharf image: read the system's CA certificates: %w", err)
		}
	}
	return nil, "", fmt.Errorf("wharf image: none of %v exists: install the system's CA certificates (Debian: apt-get install ca-certificates)", caBundles)
}
