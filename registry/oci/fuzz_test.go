package oci

import (
	"encoding/json"
	"fmt"
	"mime"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/registry/storage"
)

// Fuzz tests of the parsers that read client input: manifests, repository names, references,
// digests, and the Range and Content-Range headers. Each seeds the fuzzer with real valid and
// invalid inputs, so that `go test` runs them as unit tests, and asserts only what the
// registry relies on: no panic, and for accepted input the invariants the callers need.

// mustNotPanic runs fn and turns a panic into a test failure that names the call, so that a
// panicking input fails its own test instead of ending the test binary.
func mustNotPanic(t *testing.T, call string, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", call, r)
		}
	}()
	fn()
}

const (
	seedDigest  = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	seedDigest2 = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
	seedSHA512  = "sha512:" + "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

var manifestSeeds = []struct{ contentType, body string }{
	{MediaTypeOCIManifest, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + seedDigest + `","size":7023},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + seedDigest2 + `","size":32654},
			{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"` + seedSHA512 + `","size":1,"urls":["https://example.com/l"]}],
		"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"artifactType":"application/vnd.example.sbom",
		"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},
		"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + seedDigest + `","size":100}}`},
	{MediaTypeDockerManifest, `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
		"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"` + seedDigest + `"},
		"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2479,"digest":"` + seedDigest2 + `"},
			{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","size":5,"digest":"` + seedDigest + `"}]}`},
	{MediaTypeOCIIndex, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + seedDigest + `","size":7143,"platform":{"architecture":"amd64","os":"linux"}},
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + seedDigest2 + `","size":7682,"platform":{"architecture":"arm64","os":"linux"}}]}`},
	{MediaTypeDockerManifestList, `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
		{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + seedDigest + `","size":7143}]}`},
	{MediaTypeOCIIndex + "; charset=utf-8", `{"schemaVersion":2,"manifests":[]}`},
	{"", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"` + seedDigest + `","size":1}}`},
	{"application/json", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`},
	// Invalid ones.
	{MediaTypeOCIManifest, `not json`},
	{MediaTypeOCIManifest, ``},
	{MediaTypeOCIManifest, `null`},
	{MediaTypeOCIManifest, `{"schemaVersion":1,"config":{"mediaType":"a/b","digest":"` + seedDigest + `","size":1}}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:zz","size":1}}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"md5:d41d8cd98f00b204e9800998ecf8427e","size":1}}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"","size":1}}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + seedDigest + `","size":-1}}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + seedDigest + `","size":2,"data":"e30="}}`},
	{MediaTypeOCIIndex, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`},
	{MediaTypeOCIIndex, `{"schemaVersion":2,"manifests":[],"layers":[]}`},
	{"application/vnd.example+json", `{"schemaVersion":2}`},
	{MediaTypeDockerManifest, `{"schemaVersion":2,"artifactType":"x/y","config":{"mediaType":"a/b","digest":"` + seedDigest + `","size":1},"layers":[]}`},
	{MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + seedDigest + `","size":1},"Layers":[{"mediaType":"a/b","digest":"` + seedDigest2 + `","size":1}]}`},
}

// FuzzParseManifest checks that ParseManifest never panics, and that what it accepts has a
// supported media type (the Content-Type's when that is supported), only valid digests in
// Blobs, Children and Subject, no duplicates, blobs only for images and children only for
// indexes (an image always has its config), annotations as a JSON object, and parses the same
// way again.
func FuzzParseManifest(f *testing.F) {
	for _, s := range manifestSeeds {
		f.Add(s.contentType, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		var p ParsedManifest
		var err error
		mustNotPanic(t, fmt.Sprintf("ParseManifest(%q, %q)", contentType, body), func() { p, err = ParseManifest(contentType, body) })
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		if !supported(p.MediaType) {
			t.Fatalf("accepted with media type %q", p.MediaType)
		}
		if mt, _, _ := mime.ParseMediaType(contentType); supported(mt) && p.MediaType != mt {
			t.Fatalf("accepted with media type %q, sent as %q", p.MediaType, mt)
		}
		if !json.Valid(body) {
			t.Fatal("accepted content that is not JSON")
		}
		for _, list := range [][]string{p.Blobs, p.Children} {
			for i, d := range list {
				if _, err := ParseDigest(d); err != nil {
					t.Fatalf("accepted reference %q: %v", d, err)
				}
				if slices.Contains(list[:i], d) {
					t.Fatalf("reference %s listed twice", d)
				}
			}
		}
		if p.Subject != "" {
			if _, err := ParseDigest(p.Subject); err != nil {
				t.Fatalf("accepted subject %q: %v", p.Subject, err)
			}
		}
		if IsIndex(p.MediaType) {
			if len(p.Blobs) != 0 {
				t.Fatalf("an index with blobs %v", p.Blobs)
			}
		} else if len(p.Children) != 0 || len(p.Blobs) == 0 {
			t.Fatalf("an image with children %v and blobs %v (it needs at least its config)", p.Children, p.Blobs)
		}
		if p.Annotations != "" {
			var m map[string]string
			if err := json.Unmarshal([]byte(p.Annotations), &m); err != nil || len(m) == 0 {
				t.Fatalf("annotations %q are not a non-empty JSON object: %v", p.Annotations, err)
			}
		}
		again, err := ParseManifest(contentType, body)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("parsing again gives %+v, %v; first %+v", again, err, p)
		}
	})
}

// FuzzParseRepoName checks that ParseRepoName never panics and that an accepted name is
// exactly the input, lowercase, at most 255 characters, split into a non-empty namespace
// without slashes and a non-empty name, with no empty, "." or ".." path component (the name
// is used in paths and URLs).
func FuzzParseRepoName(f *testing.F) {
	for _, s := range []string{
		"admin/app", "org/team/app", "a/b", "my-org/my_app.v2", "a__b/c--d", "library/ubuntu",
		"justone", "Admin/app", "org//app", "org/app/", "/org/app", "org/-app", "org/app-", "org/a...b",
		"org/a___b", "org/a b", "org/a:b", "org/" + strings.Repeat("a", 251), "org/" + strings.Repeat("a", 250), "",
		"org/../app", "org/./app", "org/app%2f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var n RepoName
		var err error
		mustNotPanic(t, fmt.Sprintf("ParseRepoName(%q)", s), func() { n, err = ParseRepoName(s) })
		if err != nil {
			return
		}
		if n.String() != s {
			t.Fatalf("String() = %q, input %q", n.String(), s)
		}
		if n.Namespace == "" || n.Name == "" || strings.Contains(n.Namespace, "/") {
			t.Fatalf("parts %q and %q", n.Namespace, n.Name)
		}
		if len(s) > maxNameLength || strings.ToLower(s) != s {
			t.Fatalf("accepted %q", s)
		}
		for _, c := range strings.Split(s, "/") {
			if c == "" || c == "." || c == ".." {
				t.Fatalf("accepted %q with path component %q", s, c)
			}
		}
		if again, err := ParseRepoName(n.String()); err != nil || again != n {
			t.Fatalf("parsing String() again gives %+v, %v", again, err)
		}
	})
}

// FuzzParseDigest checks that ParseDigest never panics and that an accepted digest is exactly
// the input, of a supported algorithm with the right hex length, valid for go-digest, and
// maps to a clean storage path under blobs/.
func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{
		seedDigest, seedSHA512, "sha256:zz", "md5:d41d8cd98f00b204e9800998ecf8427e", seedDigest[:70],
		"sha256:" + strings.ToUpper(seedDigest[7:]), seedDigest + "0", "sha256:", ":", "", seedDigest[7:],
		"sha256+b64:abc", "sha384:" + strings.Repeat("a", 96), "SHA256:" + seedDigest[7:], "sha256:../../etc/passwd",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d digest.Digest
		var err error
		mustNotPanic(t, fmt.Sprintf("ParseDigest(%q)", s), func() { d, err = ParseDigest(s) })
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("String() = %q, input %q", d.String(), s)
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted %q: %v", s, err)
		}
		want := map[string]int{"sha256": 64, "sha512": 128}[string(d.Algorithm())]
		if want == 0 || len(d.Encoded()) != want {
			t.Fatalf("accepted %q: algorithm %q with %d hex digits", s, d.Algorithm(), len(d.Encoded()))
		}
		p := storage.BlobPath(s)
		if path.Clean(p) != p || !strings.HasPrefix(p, "blobs/") {
			t.Fatalf("accepted %q maps to storage path %q", s, p)
		}
	})
}

// FuzzParseReference checks that ParseReference never panics, that an accepted reference is
// either a valid tag or a valid digest (never both) whose String() is the input, and that
// every valid tag is accepted as a tag.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"latest", "v1.2.3", "_private", "A-Tag_1.0", strings.Repeat("t", 128), strings.Repeat("t", 129),
		"-latest", ".latest", "la!test", "", seedDigest, seedSHA512, "sha256:zz", "md5:abc", "latest:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r Reference
		var err error
		mustNotPanic(t, fmt.Sprintf("ParseReference(%q)", s), func() { r, err = ParseReference(s) })
		if err != nil {
			if ValidTag(s) {
				t.Fatalf("valid tag %q refused: %v", s, err)
			}
			return
		}
		if (r.Tag == "") == (r.Digest == "") {
			t.Fatalf("%q parsed to tag %q and digest %q", s, r.Tag, r.Digest)
		}
		if r.String() != s {
			t.Fatalf("String() = %q, input %q", r.String(), s)
		}
		if r.Tag != "" && (!ValidTag(r.Tag) || strings.Contains(r.Tag, ":")) {
			t.Fatalf("accepted tag %q", r.Tag)
		}
		if r.Digest != "" {
			if _, err := ParseDigest(string(r.Digest)); err != nil {
				t.Fatalf("accepted digest %q: %v", r.Digest, err)
			}
		}
	})
}

// FuzzParseRange checks parseRange (the Range header of blob GETs) for every blob size: it
// never panics; an accepted range lies inside the blob (0 <= start, 0 <= length, start+length
// <= size); a request without a range covers the whole blob; and a partial answer (206) covers
// at least one byte, since its Content-Range is bytes START-(START+LENGTH-1)/SIZE.
func FuzzParseRange(f *testing.F) {
	for _, s := range []struct {
		header string
		size   int64
	}{
		{"", 100}, {"bytes=0-9", 100}, {"bytes=10-", 100}, {"bytes=-10", 100}, {"bytes=-200", 100},
		{"bytes=90-200", 100}, {"bytes=100-", 100}, {"bytes=5-4", 100}, {"bytes=0-0,5-6", 100},
		{"bytes=-0", 100}, {"bytes= 1-2", 100}, {"items=0-9", 100}, {"bytes=0-9223372036854775807", 100},
		{"bytes=-9223372036854775807", 100}, {"bytes=0-", 0}, {"bytes=-1", 0}, {"", 0}, {"bytes=abc", 1},
	} {
		f.Add(s.header, s.size)
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			return // blob sizes are never negative
		}
		var start, length int64
		var partial bool
		var err error
		mustNotPanic(t, fmt.Sprintf("parseRange(%q, %d)", header, size), func() { start, length, partial, err = parseRange(header, size) })
		if err != nil {
			return
		}
		if start < 0 || length < 0 || start > size || length > size-start {
			t.Fatalf("parseRange(%q, %d) = start %d, length %d: outside the blob", header, size, start, length)
		}
		if !partial && (start != 0 || length != size) {
			t.Fatalf("parseRange(%q, %d) = start %d, length %d, not partial: want the whole blob", header, size, start, length)
		}
		if partial && length == 0 {
			t.Fatalf("parseRange(%q, %d) = an empty partial range (Content-Range bytes %d-%d/%d): want an error (416)",
				header, size, start, start-1, size)
		}
	})
}

// FuzzParseContentRange checks parseContentRange (the Content-Range of upload chunks): it
// never panics, and an accepted range has 0 <= start <= end and a length end-start+1 that is
// positive (the callers compare it with byte counts).
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"0-999", "1000-1999", "bytes 0-999/1000", "bytes 0-999/*", " 5-5 ", "0-0", "999-0", "-1-5", "a-b", "",
		"5", "5-", "-5", "0-9223372036854775807", "9223372036854775807-9223372036854775807", "+1-+2", "0x10-0x20",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var start, end int64
		var err error
		mustNotPanic(t, fmt.Sprintf("parseContentRange(%q)", v), func() { start, end, err = parseContentRange(v) })
		if err != nil {
			return
		}
		if start < 0 || end < start {
			t.Fatalf("parseContentRange(%q) = %d, %d", v, start, end)
		}
		if end-start+1 <= 0 {
			t.Fatalf("parseContentRange(%q) = %d-%d, whose length end-start+1 overflows to %d", v, start, end, end-start+1)
		}
	})
}
