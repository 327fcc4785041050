package airgap

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FormatVersion is the bundle format this package writes and reads.
const FormatVersion = 1

// Names of the bundle's own members.
const (
	// ManifestName is the bundle's first member: the manifest as JSON.
	ManifestName = "wharf-bundle.json"
	// SumsName is the bundle's last member: sha256sum lines for the manifest and every member.
	SumsName = "SHA256SUMS"
	// BinaryPath is where the wharf binary sits in a bundle.
	BinaryPath = "bin/wharf"
)

// Components are the images every Wharf installation needs, by component name: the registry
// (the wharf image), PostgreSQL and Redis.
var Components = []string{"registry", "postgres", "redis"}

// Kind says what a bundle member is.
type Kind string

// The kinds of bundle members.
const (
	KindImage  Kind = "image"  // a docker-archive of one image, for `podman load`
	KindBinary Kind = "binary" // the wharf binary
	KindVulnDB Kind = "vulndb" // vulnerability data for the scanner
	KindOther  Kind = "other"  // any other file
)

// FileKinds are the kinds an extra file (Create's Files) may have.
var FileKinds = []Kind{KindVulnDB, KindOther}

// Manifest describes a bundle: what made it, for which platform, and every member.
type Manifest struct {
	// Format is the bundle format version (FormatVersion).
	Format int `json:"format"`
	// WharfVersion is the version of the wharf that made the bundle.
	WharfVersion string `json:"wharfVersion"`
	// Created is when the bundle was made.
	Created time.Time `json:"created"`
	// Platform is the target platform, os/arch[/variant] (e.g. linux/amd64): the images and
	// the binary run there.
	Platform string `json:"platform"`
	// Members are the bundle's members in archive order.
	Members []Member `json:"members"`
}

// Member is one file in a bundle.
type Member struct {
	// Path is the member's name in the archive (images/postgres.tar, bin/wharf, ...).
	Path string `json:"path"`
	// Kind says what the member is.
	Kind Kind `json:"kind"`
	// Name is the component an image is for (registry, postgres, ...), "wharf" for the binary,
	// the file name for other files.
	Name string `json:"name"`
	// Ref is, for an image, the reference `podman load` gives it (the tag in its archive).
	Ref string `json:"ref,omitempty"`
	// ImageID is, for an image, the digest of its config: the image ID podman shows once loaded.
	ImageID string `json:"imageID,omitempty"`
	// Version is the member's version: an image's tag, the binary's version.
	Version string `json:"version,omitempty"`
	// Source is where the member came from: a registry reference with digest, a URL, a file.
	Source string `json:"source,omitempty"`
	// Size is the member's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the member's content.
	SHA256 string `json:"sha256"`
}

// Limits on what a reader accepts from an untrusted bundle.
const (
	maxManifestBytes = 1 << 20
	maxMembers       = 1000
	maxPathLen       = 200
)

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	fileRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// CheckComponentName reports whether name can name an image component: lower-case letters,
// digits, '.', '_' and '-', starting with a letter or digit.
func CheckComponentName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a component name: use lower-case letters, digits, '.', '_' and '-' (e.g. postgres)", name)
	}
	return nil
}

// ImagePath is where the image of a component sits in a bundle.
func ImagePath(component string) string { return "images/" + component + ".tar" }

// FilePath is where an extra file of a kind sits in a bundle.
func FilePath(kind Kind, name string) string { return "files/" + string(kind) + "/" + name }

// Image returns the image member of a component.
func (m Manifest) Image(component string) (Member, bool) {
	for _, mem := range m.Members {
		if mem.Kind == KindImage && mem.Name == component {
			return mem, true
		}
	}
	return Member{}, false
}

// Binary returns the wharf binary member.
func (m Manifest) Binary() (Member, bool) {
	for _, mem := range m.Members {
		if mem.Kind == KindBinary {
			return mem, true
		}
	}
	return Member{}, false
}

// Member returns the member with an archive path.
func (m Manifest) Member(p string) (Member, bool) {
	for _, mem := range m.Members {
		if mem.Path == p {
			return mem, true
		}
	}
	return Member{}, false
}

// Missing lists what a Wharf installation needs that the bundle lacks: the image of each
// component in components that has none, and the wharf binary. Each entry is a sentence.
func (m Manifest) Missing(components []string) []string {
	var out []string
	for _, c := range components {
		if _, ok := m.Image(c); !ok {
			out = append(out, fmt.Sprintf("no image for the %s component", c))
		}
	}
	if _, ok := m.Binary(); !ok {
		out = append(out, "no wharf binary")
	}
	return out
}

// TotalSize is the sum of the members' sizes.
func (m Manifest) TotalSize() int64 {
	var n int64
	for _, mem := range m.Members {
		n += mem.Size
	}
	return n
}

// Validate checks a manifest read from a bundle: the format, the platform, and that every
// member has a safe, unique path matching its kind and name, a known kind, a size and a
// well-formed SHA-256.
func (m Manifest) Validate() error {
	if m.Format != FormatVersion {
		if m.Format > FormatVersion {
			return fmt.Errorf("bundle format %d is newer than this wharf reads (format %d): use the wharf version that made the bundle (%s) or newer", m.Format, FormatVersion, m.WharfVersion)
		}
		return fmt.Errorf("bundle format %d is not one this wharf reads (format %d)", m.Format, FormatVersion)
	}
	if _, err := ParsePlatform(m.Platform); err != nil {
		return err
	}
	if len(m.Members) == 0 {
		return errors.New("the manifest lists no members")
	}
	if len(m.Members) > maxMembers {
		return fmt.Errorf("the manifest lists %d members, more than %d", len(m.Members), maxMembers)
	}
	paths := map[string]bool{}
	images := map[string]bool{}
	binaries := 0
	for i, mem := range m.Members {
		where := fmt.Sprintf("manifest member %d (%s)", i+1, mem.Path)
		if err := CheckMemberPath(mem.Path); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if mem.Path == ManifestName || mem.Path == SumsName {
			return fmt.Errorf("%s: the name is reserved for the bundle itself", where)
		}
		if paths[mem.Path] {
			return fmt.Errorf("%s: listed twice", where)
		}
		paths[mem.Path] = true
		if mem.Size < 0 {
			return fmt.Errorf("%s: negative size %d", where, mem.Size)
		}
		if !sha256RE.MatchString(mem.SHA256) {
			return fmt.Errorf("%s: sha256 %q is not 64 lower-case hex digits", where, mem.SHA256)
		}
		switch mem.Kind {
		case KindImage:
			if err := CheckComponentName(mem.Name); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			if images[mem.Name] {
				return fmt.Errorf("%s: a second image for component %s", where, mem.Name)
			}
			images[mem.Name] = true
			if mem.Path != ImagePath(mem.Name) {
				return fmt.Errorf("%s: the image of %s must be at %s", where, mem.Name, ImagePath(mem.Name))
			}
			if mem.Ref == "" {
				return fmt.Errorf("%s: an image needs its reference (ref)", where)
			}
			if !strings.HasPrefix(mem.ImageID, "sha256:") || !sha256RE.MatchString(strings.TrimPrefix(mem.ImageID, "sha256:")) {
				return fmt.Errorf("%s: imageID %q is not sha256:HEX", where, mem.ImageID)
			}
		case KindBinary:
			binaries++
			if binaries > 1 {
				return fmt.Errorf("%s: a second wharf binary", where)
			}
			if mem.Path != BinaryPath {
				return fmt.Errorf("%s: the wharf binary must be at %s", where, BinaryPath)
			}
		case KindVulnDB, KindOther:
			if !fileRE.MatchString(mem.Name) || mem.Path != FilePath(mem.Kind, mem.Name) {
				return fmt.Errorf("%s: a %s file must be at %s with a plain file name", where, mem.Kind, FilePath(mem.Kind, "NAME"))
			}
		default:
			return fmt.Errorf("%s: unknown kind %q (known: image, binary, vulndb, other)", where, mem.Kind)
		}
	}
	return nil
}

// CheckMemberPath reports whether p is a safe member path: relative, clean, inside the
// bundle, plain characters only.
func CheckMemberPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case len(p) > maxPathLen:
		return fmt.Errorf("path longer than %d characters", maxPathLen)
	case strings.HasPrefix(p, "/"):
		return errors.New("absolute path: members must stay inside the bundle")
	case strings.Contains(p, "\\"):
		return errors.New("backslash in path: members must use plain relative paths")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return errors.New("path climbs out of the bundle (..)")
		}
	}
	if path.Clean(p) != p || strings.HasPrefix(p, "./") || p == "." {
		return errors.New("path is not clean (., // or trailing /)")
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-/", r)) {
			return fmt.Errorf("path has the character %q: only letters, digits and . _ + - / are allowed", r)
		}
	}
	return nil
}

// ParsePlatform parses a target platform, os/arch[/variant], e.g. linux/amd64.
func ParsePlatform(s string) (*v1.Platform, error) {
	if strings.Count(s, "/") < 1 || strings.Count(s, "/") > 2 || strings.ContainsAny(s, " :") {
		return nil, fmt.Errorf("platform %q is not os/arch[/variant] (e.g. linux/amd64)", s)
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("platform %q is not os/arch[/variant] (e.g. linux/amd64)", s)
	}
	return p, nil
}

// hexSum formats a hash sum as lower-case hex.
func hexSum(b []byte) string { return hex.EncodeToString(b) }
