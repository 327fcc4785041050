package interop

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Media types of the images the tests build.
const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mtOCILayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	refNameKey       = "org.opencontainers.image.ref.name"
	fixedCreated     = "2024-01-02T03:04:05Z"
)

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
}

// platform is the platform of an index entry.
type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// manifestJSON is the union of the manifest and index fields the tests read.
type manifestJSON struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	ArtifactType  string       `json:"artifactType,omitempty"`
	Config        *descriptor  `json:"config,omitempty"`
	Layers        []descriptor `json:"layers,omitempty"`
	Manifests     []descriptor `json:"manifests,omitempty"`
	Subject       *descriptor  `json:"subject,omitempty"`
}

// digestOf returns the sha256 digest of b in its string form.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// descOf describes content b of the given media type.
func descOf(mediaType string, b []byte) descriptor {
	return descriptor{MediaType: mediaType, Digest: digestOf(b), Size: int64(len(b))}
}

// testImage is a single-platform image built in memory: every byte that a push sends and a
// pull must return.
type testImage struct {
	Manifest  []byte
	MediaType string
	Digest    string
	Config    []byte
	// Layers are the compressed layer blobs; LayerTars the same layers uncompressed.
	Layers    [][]byte
	LayerTars [][]byte
	// Blobs maps digest to content for the config and every layer.
	Blobs map[string][]byte
}

// Desc describes the image's manifest.
func (img testImage) Desc() descriptor {
	return descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: int64(len(img.Manifest))}
}

// imageSpec says what image to build.
type imageSpec struct {
	// Seed makes the content unique: images with different seeds share no blob.
	Seed string
	// OS and Arch default to linux/amd64.
	OS, Arch string
	// Docker builds a Docker schema 2 image instead of an OCI image.
	Docker bool
	// Layers is the number of layers (default 1).
	Layers int
}

// newImage builds a small image with real gzip'd tar layers of a few KB each and a config
// whose diff_ids match them.
func newImage(t testing.TB, spec imageSpec) testImage {
	t.Helper()
	if spec.OS == "" {
		spec.OS = "linux"
	}
	if spec.Arch == "" {
		spec.Arch = "amd64"
	}
	if spec.Layers == 0 {
		spec.Layers = 1
	}
	img := testImage{Blobs: map[string][]byte{}}
	var diffIDs []string
	for i := 0; i < spec.Layers; i++ {
		files := map[string][]byte{
			fmt.Sprintf("etc/%s-%d.conf", spec.Seed, i):           []byte(fmt.Sprintf("seed=%s layer=%d platform=%s/%s\n", spec.Seed, i, spec.OS, spec.Arch)),
			fmt.Sprintf("usr/share/%s/data-%d.bin", spec.Seed, i): pseudoRandom(spec.Seed+spec.Arch+fmt.Sprint(i), 3000+100*i),
		}
		raw := tarOf(t, files)
		gz := gzipOf(t, raw)
		img.LayerTars = append(img.LayerTars, raw)
		img.Layers = append(img.Layers, gz)
		img.Blobs[digestOf(gz)] = gz
		diffIDs = append(diffIDs, digestOf(raw))
	}
	config := map[string]any{
		"created":      fixedCreated,
		"architecture": spec.Arch,
		"os":           spec.OS,
		"config": map[string]any{
			"Env":    []string{"PATH=/usr/bin:/bin", "WHARF_TEST_SEED=" + spec.Seed},
			"Cmd":    []string{"/bin/sh"},
			"Labels": map[string]string{"org.example.seed": spec.Seed},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": []map[string]string{{"created": fixedCreated, "created_by": "wharf interop test " + spec.Seed}},
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	img.Config = cfg
	img.Blobs[digestOf(cfg)] = cfg
	configType, layerType := mtOCIConfig, mtOCILayerGzip
	img.MediaType = mtOCIManifest
	if spec.Docker {
		configType, layerType, img.MediaType = mtDockerConfig, mtDockerLayer, mtDockerManifest
	}
	m := manifestJSON{SchemaVersion: 2, MediaType: img.MediaType, Config: ptr(descOf(configType, cfg))}
	for _, l := range img.Layers {
		m.Layers = append(m.Layers, descOf(layerType, l))
	}
	img.Manifest = mustJSON(t, m)
	img.Digest = digestOf(img.Manifest)
	return img
}

// testIndex is a multi-platform OCI index with its images.
type testIndex struct {
	Manifest []byte
	Digest   string
	Images   []testImage
}

// newIndex builds an OCI index of one image per platform ("linux/amd64", ...).
func newIndex(t testing.TB, seed string, platforms ...string) testIndex {
	t.Helper()
	idx := testIndex{}
	m := manifestJSON{SchemaVersion: 2, MediaType: mtOCIIndex}
	for _, p := range platforms {
		osName, arch, _ := strings.Cut(p, "/")
		img := newImage(t, imageSpec{Seed: seed, OS: osName, Arch: arch})
		idx.Images = append(idx.Images, img)
		d := img.Desc()
		d.Platform = &platform{OS: osName, Architecture: arch}
		m.Manifests = append(m.Manifests, d)
	}
	idx.Manifest = mustJSON(t, m)
	idx.Digest = digestOf(idx.Manifest)
	return idx
}

// Blobs returns every blob and manifest of the index, by digest, the index included.
func (idx testIndex) Blobs() map[string][]byte {
	all := map[string][]byte{idx.Digest: idx.Manifest}
	for _, img := range idx.Images {
		all[img.Digest] = img.Manifest
		for d, b := range img.Blobs {
			all[d] = b
		}
	}
	return all
}

// Image returns the index's image for a platform such as "linux/arm64".
func (idx testIndex) Image(t testing.TB, p string) testImage {
	t.Helper()
	for _, img := range idx.Images {
		var cfg struct{ OS, Architecture string }
		if err := json.Unmarshal(img.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.OS+"/"+cfg.Architecture == p {
			return img
		}
	}
	t.Fatalf("the index has no %s image", p)
	return testImage{}
}

// writeLayout writes an OCI image layout in dir whose index.json names top as tag; blobs must
// hold every blob and manifest that top reaches (top's own content included).
func writeLayout(t testing.TB, dir, tag string, top descriptor, blobs map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for d, b := range blobs {
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	top.Annotations = map[string]string{refNameKey: tag}
	index := manifestJSON{SchemaVersion: 2, MediaType: mtOCIIndex, Manifests: []descriptor{top}}
	writeFile(t, filepath.Join(dir, "index.json"), mustJSON(t, index))
	writeFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
}

// imageLayout writes img as an OCI layout with the tag in a new directory and returns it.
func imageLayout(t testing.TB, img testImage, tag string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, dir, tag, img.Desc(), img.AllBlobs())
	return dir
}

// AllBlobs returns the image's manifest, config and layers by digest.
func (img testImage) AllBlobs() map[string][]byte {
	all := map[string][]byte{img.Digest: img.Manifest}
	for d, b := range img.Blobs {
		all[d] = b
	}
	return all
}

// readLayout reads an OCI layout: the descriptors of index.json and every blob by digest.
func readLayout(t testing.TB, dir string) ([]descriptor, map[string][]byte) {
	t.Helper()
	var index manifestJSON
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "index.json")), &index); err != nil {
		t.Fatalf("index.json of %s: %v", dir, err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{}
	for _, e := range entries {
		b := readFile(t, filepath.Join(dir, "blobs", "sha256", e.Name()))
		if d := digestOf(b); d != "sha256:"+e.Name() {
			t.Fatalf("layout %s: blob %s has digest %s", dir, e.Name(), d)
		}
		blobs["sha256:"+e.Name()] = b
	}
	return index.Manifests, blobs
}

// dockerArchive writes img as a `docker save` tarball (manifest.json, config, gzip'd layers)
// tagged repoTag and returns its path.
func dockerArchive(t testing.TB, img testImage, repoTag string) string {
	t.Helper()
	files := map[string][]byte{}
	cfgName := strings.TrimPrefix(digestOf(img.Config), "sha256:") + ".json"
	files[cfgName] = img.Config
	var layers []string
	for _, l := range img.Layers {
		name := strings.TrimPrefix(digestOf(l), "sha256:") + "/layer.tar.gz"
		files[name] = l
		layers = append(layers, name)
	}
	files["manifest.json"] = mustJSON(t, []map[string]any{{"Config": cfgName, "RepoTags": []string{repoTag}, "Layers": layers}})
	path := filepath.Join(t.TempDir(), "image.tar")
	writeFile(t, path, tarOf(t, files))
	return path
}

// tarOf returns a tar archive of the files (directories implied), sorted, with fixed times.
func tarOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
			Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipOf compresses b deterministically.
func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gunzip decompresses b.
func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out.Bytes()
}

// pseudoRandom returns n deterministic bytes that compress poorly, derived from seed.
func pseudoRandom(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	block := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// untar returns the regular files of a tar archive by name.
func untar(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		files[hdr.Name] = data
	}
}
