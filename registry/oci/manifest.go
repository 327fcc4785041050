package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
)

// Manifest media types the registry accepts.
const (
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxManifestSize is the largest manifest accepted (the spec asks registries for at least 4 MiB).
const MaxManifestSize = 4 << 20

// Descriptor is a content descriptor in a manifest.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	Platform     json.RawMessage   `json:"platform,omitempty"`
}

// rawManifest is the union of the fields of every accepted manifest format.
type rawManifest struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// ParsedManifest is what the registry needs to know of a manifest to store it.
type ParsedManifest struct {
	MediaType string
	// ArtifactType is the manifest's artifactType, or for an image manifest without one, its
	// config media type (as the referrers API reports it).
	ArtifactType string
	// Subject is the digest of the manifest this one refers to, if any.
	Subject string
	// Blobs are the digests that must already be in the repository (config and layers).
	Blobs []string
	// Children are the manifests an index lists, which must already be in the repository.
	Children []string
	// Annotations is the manifest's annotations as JSON, "" when none.
	Annotations string
}

// IsIndex reports whether the media type is an index or manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeOCIIndex || mediaType == MediaTypeDockerManifestList
}

// nondistributable reports layers that registries must not require (foreign layers).
func nondistributable(mediaType string) bool {
	return strings.HasPrefix(mediaType, "application/vnd.oci.image.layer.nondistributable.") ||
		mediaType == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" ||
		mediaType == "application/vnd.docker.image.rootfs.foreign.diff.tar"
}

// ParseManifest validates manifest content pushed with the given Content-Type and returns its
// references. Errors say what is wrong, for the MANIFEST_INVALID message.
func ParseManifest(contentType string, content []byte) (ParsedManifest, error) {
	var raw rawManifest
	if !json.Valid(content) {
		return ParsedManifest{}, fmt.Errorf("manifest is not valid JSON")
	}
	if err := checkKeys(json.NewDecoder(bytes.NewReader(content))); err != nil {
		return ParsedManifest{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(content))
	if err := dec.Decode(&raw); err != nil {
		return ParsedManifest{}, fmt.Errorf("manifest does not have the fields of an image manifest or index: %v", err)
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case raw.MediaType != "" && mt != "" && raw.MediaType != mt && supported(mt):
		return ParsedManifest{}, fmt.Errorf("manifest mediaType %q does not match Content-Type %q", raw.MediaType, mt)
	case !supported(mt) && supported(raw.MediaType):
		mt = raw.MediaType
	case !supported(mt):
		if mt == "" {
			return ParsedManifest{}, fmt.Errorf("manifest has no media type: send it with a Content-Type header")
		}
		return ParsedManifest{}, fmt.Errorf("unsupported manifest media type %q", mt)
	}
	if raw.SchemaVersion == nil || *raw.SchemaVersion != 2 {
		return ParsedManifest{}, fmt.Errorf("schemaVersion must be 2")
	}
	p := ParsedManifest{MediaType: mt, ArtifactType: raw.ArtifactType}
	if raw.Subject != nil {
		if err := checkDescriptor("subject", *raw.Subject); err != nil {
			return ParsedManifest{}, err
		}
		p.Subject = raw.Subject.Digest
	}
	if len(raw.Annotations) > 0 {
		b, _ := json.Marshal(raw.Annotations)
		p.Annotations = string(b)
	}
	if IsIndex(mt) {
		if raw.Config != nil || raw.Layers != nil {
			return ParsedManifest{}, fmt.Errorf("an index has manifests, not config or layers")
		}
		if raw.Manifests == nil {
			return ParsedManifest{}, fmt.Errorf("an index needs a manifests list")
		}
		for i, d := range raw.Manifests {
			if err := checkDescriptor(fmt.Sprintf("manifests[%d]", i), d); err != nil {
				return ParsedManifest{}, err
			}
			p.Children = appendUnique(p.Children, d.Digest)
		}
		return p, nil
	}
	if raw.Manifests != nil {
		return ParsedManifest{}, fmt.Errorf("an image manifest has config and layers, not manifests")
	}
	if raw.Config == nil {
		return ParsedManifest{}, fmt.Errorf("an image manifest needs a config descriptor")
	}
	if err := checkDescriptor("config", *raw.Config); err != nil {
		return ParsedManifest{}, err
	}
	if mt == MediaTypeDockerManifest && raw.ArtifactType != "" {
		return ParsedManifest{}, fmt.Errorf("Docker image manifests have no artifactType")
	}
	if p.ArtifactType == "" && mt == MediaTypeOCIManifest {
		p.ArtifactType = raw.Config.MediaType
	}
	p.Blobs = appendUnique(p.Blobs, raw.Config.Digest)
	if raw.Layers == nil && mt == MediaTypeDockerManifest {
		return ParsedManifest{}, fmt.Errorf("a Docker image manifest needs a layers list")
	}
	for i, d := range raw.Layers {
		if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), d); err != nil {
			return ParsedManifest{}, err
		}
		if nondistributable(d.MediaType) {
			continue
		}
		p.Blobs = appendUnique(p.Blobs, d.Digest)
	}
	return p, nil
}

// fieldNames are the manifest and descriptor fields the registry reads. encoding/json matches
// them case-insensitively and lets a repeated key win, so a manifest could show strict
// clients one list of layers and the registry another; checkKeys refuses such manifests.
var fieldNames = map[string]bool{"schemaversion": true, "mediatype": true, "artifacttype": true, "config": true,
	"layers": true, "manifests": true, "subject": true, "annotations": true, "digest": true, "size": true,
	"urls": true, "data": true, "platform": true}

// checkKeys reads one JSON value and refuses objects that repeat a key, or that spell a field
// the registry reads in two ways.
func checkKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("manifest is not valid JSON: %v", err)
			}
			key := kt.(string)
			folded := strings.ToLower(key)
			if seen[key] || (fieldNames[folded] && seen["\x00"+folded]) {
				return fmt.Errorf("manifest repeats the key %q", key)
			}
			seen[key] = true
			if fieldNames[folded] {
				seen["\x00"+folded] = true
			}
			if err := checkKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := checkKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	if err != nil {
		return fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	return nil
}

func supported(mt string) bool {
	switch mt {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList:
		return true
	}
	return false
}

func checkDescriptor(where string, d Descriptor) error {
	if d.MediaType == "" {
		return fmt.Errorf("%s: mediaType is missing", where)
	}
	if _, _, err := mime.ParseMediaType(d.MediaType); err != nil {
		return fmt.Errorf("%s: invalid mediaType %q", where, d.MediaType)
	}
	dg, err := ParseDigest(d.Digest)
	if err != nil {
		return fmt.Errorf("%s: %v", where, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size", where)
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			return fmt.Errorf("%s: data is %d bytes but size says %d", where, len(d.Data), d.Size)
		}
		if dg.Algorithm().FromBytes(d.Data) != dg {
			return fmt.Errorf("%s: data does not match digest %s", where, dg)
		}
	}
	return nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// referrerDescriptor describes a stored manifest as an entry of a referrers index.
func referrerDescriptor(mediaType, dg, artifactType, annotations string, size int64) Descriptor {
	d := Descriptor{MediaType: mediaType, Digest: dg, Size: size, ArtifactType: artifactType}
	if annotations != "" {
		json.Unmarshal([]byte(annotations), &d.Annotations)
	}
	return d
}
