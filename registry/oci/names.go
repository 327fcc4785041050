// Package oci serves the OCI Distribution API (/v2/): blobs, uploads, manifests, tags,
// referrers and the catalog, with the spec's error codes. It keeps facts in the metadata store
// and bytes in blob storage, and asks the auth package who may do what.
package oci

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

var (
	nameComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	nameRE        = regexp.MustCompile(`^` + nameComponent + `(?:/` + nameComponent + `)*$`)
	tagRE         = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength bounds repository names, as most clients and registries do.
const maxNameLength = 255

// RepoName is a parsed repository name: the namespace (a user or organization) and the
// repository within it, which may itself contain slashes (org/team/app).
type RepoName struct {
	Namespace string
	Name      string
}

// String returns NAMESPACE/NAME.
func (n RepoName) String() string { return n.Namespace + "/" + n.Name }

// ParseRepoName validates a repository name of the distribution spec and splits it into
// namespace and repository. A name without a namespace is refused: every repository lives in
// a user's or organization's namespace.
func ParseRepoName(s string) (RepoName, error) {
	if len(s) > maxNameLength {
		return RepoName{}, fmt.Errorf("repository name is longer than %d characters", maxNameLength)
	}
	if !nameRE.MatchString(s) {
		return RepoName{}, fmt.Errorf("invalid repository name %q: use lowercase letters, digits and separators (. _ __ -) in slash-separated components", s)
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return RepoName{}, fmt.Errorf("repository name %q has no namespace: push to NAMESPACE/%s", s, s)
	}
	return RepoName{Namespace: ns, Name: name}, nil
}

// ValidTag reports whether s is a valid tag.
func ValidTag(s string) bool { return tagRE.MatchString(s) }

// ParseDigest validates a digest of a supported algorithm (sha256 or sha512).
func ParseDigest(s string) (digest.Digest, error) {
	algName, _, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("invalid digest %q: want ALGORITHM:HEX", s)
	}
	d := digest.Digest(s)
	if alg := digest.Algorithm(algName); alg != digest.SHA256 && alg != digest.SHA512 {
		return "", fmt.Errorf("unsupported digest algorithm %q: use sha256 or sha512", alg)
	}
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("invalid digest %q: %w", s, err)
	}
	return d, nil
}

// newHash returns the hash for a supported digest algorithm.
func newHash(alg digest.Algorithm) hash.Hash {
	if alg == digest.SHA512 {
		return sha512.New()
	}
	return sha256.New()
}

// Reference is a manifest reference: a tag or a digest.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

// ParseReference reads a manifest reference.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if !ValidTag(s) {
		return Reference{}, fmt.Errorf("invalid tag %q", s)
	}
	return Reference{Tag: s}, nil
}

// String returns the tag or digest.
func (r Reference) String() string {
	if r.Tag != "" {
		return r.Tag
	}
	return r.Digest.String()
}
