package interop

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// Artifact types of the artifact scenario.
const (
	atThing     = "application/vnd.example.thing"
	atSBOM      = "application/spdx+json"
	atSignature = "application/vnd.example.signature"
)

// orasResult is the part of oras's JSON output (push, attach) the tests read.
type orasResult struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
}

// testArtifactReferrers pushes an OCI artifact of two files with oras and attaches two
// referrers of different artifact types (an SBOM and a signature). oras discover and
// regctl artifact list see both; the referrers API filtered by artifactType returns exactly
// one, saying it filtered; oras pull returns the artifact's and a referrer's files unchanged.
func testArtifactReferrers(t *testing.T, w *testservers.Wharf) {
	c := newClients(t, w, w.User, w.Password)
	const repo = "admin/artifact"
	files := map[string][]byte{
		"thing-a.txt": []byte("the first file of the thing\n"),
		"thing-b.bin": pseudoRandom("thing-b", 4096),
		"sbom.json":   []byte(`{"spdxVersion":"SPDX-2.3","name":"thing","packages":[{"name":"wharf-test","versionInfo":"1.0"}]}`),
		"thing.sig":   pseudoRandom("signature", 512),
	}
	for name, b := range files {
		writeFile(t, filepath.Join(c.dir, name), b)
	}

	var thing, sbom, sig orasResult
	decode(t, c.oras("push", "--format", "json", "--artifact-type", atThing, c.ref(repo+":v1"), "thing-a.txt", "thing-b.bin"), &thing)
	decode(t, c.oras("attach", "--format", "json", "--artifact-type", atSBOM, c.ref(repo+":v1"), "sbom.json"), &sbom)
	decode(t, c.oras("attach", "--format", "json", "--artifact-type", atSignature, c.ref(repo+":v1"), "thing.sig"), &sig)
	if thing.ArtifactType != atThing || sbom.ArtifactType != atSBOM || sig.ArtifactType != atSignature {
		t.Fatalf("oras reported artifact types %q, %q, %q", thing.ArtifactType, sbom.ArtifactType, sig.ArtifactType)
	}
	c.assertManifestIs(repo, "v1", thing.Digest)
	// Each referrer is stored as pushed, with the artifact as its subject.
	for _, r := range []orasResult{sbom, sig} {
		got := c.manifest(repo, r.Digest)
		var m manifestJSON
		decode(t, string(got.Body), &m)
		if digestOf(got.Body) != r.Digest || m.Subject == nil || m.Subject.Digest != thing.Digest || m.ArtifactType != r.ArtifactType {
			t.Errorf("referrer %s: stored manifest %s", r.Digest, got.Body)
		}
	}

	// oras discover lists both referrers.
	var discovered struct {
		Digest    string       `json:"digest"`
		Referrers []descriptor `json:"referrers"`
	}
	decode(t, c.oras("discover", "--format", "json", c.ref(repo+":v1")), &discovered)
	if discovered.Digest != thing.Digest {
		t.Errorf("oras discover: subject %s, want %s", discovered.Digest, thing.Digest)
	}
	assertReferrers(t, "oras discover", discovered.Referrers, sbom, sig)

	// The referrers API, unfiltered and filtered by artifactType.
	path := "/v2/" + repo + "/referrers/" + thing.Digest
	all := c.http(http.MethodGet, path, nil)
	var index manifestJSON
	decode(t, string(all.Body), &index)
	if all.Status != http.StatusOK || all.Header.Get("Content-Type") != mtOCIIndex || index.MediaType != mtOCIIndex {
		t.Errorf("GET %s: %d %s %s", path, all.Status, all.Header.Get("Content-Type"), all.Body)
	}
	if h := all.Header.Get("OCI-Filters-Applied"); h != "" {
		t.Errorf("GET %s without a filter: OCI-Filters-Applied %q", path, h)
	}
	assertReferrers(t, "referrers API", index.Manifests, sbom, sig)
	for _, want := range []orasResult{sbom, sig} {
		filtered := c.http(http.MethodGet, path+"?"+url.Values{"artifactType": {want.ArtifactType}}.Encode(), nil)
		var index manifestJSON
		decode(t, string(filtered.Body), &index)
		if filtered.Status != http.StatusOK || filtered.Header.Get("OCI-Filters-Applied") != "artifactType" {
			t.Errorf("referrers ?artifactType=%s: %d, OCI-Filters-Applied %q", want.ArtifactType, filtered.Status, filtered.Header.Get("OCI-Filters-Applied"))
		}
		assertReferrers(t, "referrers API ?artifactType="+want.ArtifactType, index.Manifests, want)
	}

	// regctl sees them too, and filters them the same way.
	var listed struct {
		Descriptors []descriptor `json:"descriptors"`
	}
	decode(t, c.regctl("artifact", "list", c.ref(repo+":v1"), "--format", "{{json .}}"), &listed)
	assertReferrers(t, "regctl artifact list", listed.Descriptors, sbom, sig)
	decode(t, c.regctl("artifact", "list", c.ref(repo+":v1"), "--filter-artifact-type", atSignature, "--format", "{{json .}}"), &listed)
	assertReferrers(t, "regctl artifact list --filter-artifact-type", listed.Descriptors, sig)

	// oras pull returns the files as pushed.
	pulls := []struct {
		ref   string
		files []string
	}{
		{repo + ":v1", []string{"thing-a.txt", "thing-b.bin"}},
		{repo + "@" + sbom.Digest, []string{"sbom.json"}},
		{repo + "@" + sig.Digest, []string{"thing.sig"}},
	}
	for _, p := range pulls {
		out := t.TempDir()
		c.oras("pull", "--output", out, c.ref(p.ref))
		entries, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, p.files) {
			t.Errorf("oras pull %s wrote %v, want %v", p.ref, names, p.files)
		}
		for _, name := range p.files {
			if got := readFile(t, filepath.Join(out, name)); !bytes.Equal(got, files[name]) {
				t.Errorf("oras pull %s: %s has %d bytes that differ from the %d pushed", p.ref, name, len(got), len(files[name]))
			}
		}
	}
}

// assertReferrers checks that a list of referrer descriptors names exactly the wanted
// manifests with their artifact types.
func assertReferrers(t testing.TB, what string, got []descriptor, want ...orasResult) {
	t.Helper()
	have := map[string]string{}
	for _, d := range got {
		have[d.Digest] = d.ArtifactType
	}
	ok := len(got) == len(want)
	for _, w := range want {
		ok = ok && have[w.Digest] == w.ArtifactType
	}
	if !ok {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

// decode unmarshals a client's JSON output, failing the test if it is not JSON.
func decode(t testing.TB, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
}
