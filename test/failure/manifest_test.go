package failure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMalformedManifests pushes manifests that must be refused — not JSON, the wrong
// schemaVersion, descriptors with invalid digests, sizes or media types, unknown or
// mismatched media types, an index shaped like an image and the reverse, references to blobs
// that were never pushed (or only into another repository), an index whose child is missing,
// content that does not match the digest it is pushed by, and manifests larger than 4 MiB —
// and checks each status and OCI error code, that MANIFEST_BLOB_UNKNOWN names the missing
// digest, and that afterwards no tag was created or moved and the manifest is not visible by
// digest. A manifest of exactly 4 MiB is accepted.
func TestMalformedManifests(t *testing.T) {
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		repo := "admin/manifests"
		other := "admin/manifests-other"
		good := r.pushImage(t, rng, repo, "good")
		cfgBytes := []byte(`{"architecture":"amd64","os":"linux"}`)
		cfg := descriptor{mtOCIConfig, r.pushBlob(t, repo, cfgBytes), int64(len(cfgBytes))}
		layerBytes := randomBytes(rng, 1000)
		layer := descriptor{mtOCILayer, r.pushBlob(t, repo, layerBytes), int64(len(layerBytes))}
		neverPushed := descriptor{mtOCILayer, sha256Digest([]byte("never pushed")), 12}
		elsewhereBytes := []byte("only in another repository")
		elsewhere := descriptor{mtOCILayer, r.pushBlob(t, other, elsewhereBytes), int64(len(elsewhereBytes))}
		missingChild := descriptor{mtOCIManifest, sha256Digest(imageManifest(neverPushed)), 300}

		// manifest writes an image manifest with fields replaced (nil drops a field).
		manifest := func(fields map[string]any) []byte {
			m := map[string]any{"schemaVersion": 2, "mediaType": mtOCIManifest, "config": cfg, "layers": []descriptor{layer}}
			for k, v := range fields {
				if v == nil {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			b, _ := json.Marshal(m)
			return b
		}
		withDigest := func(d descriptor, dg string) descriptor { d.Digest = dg; return d }

		cases := []struct {
			name        string
			contentType string
			body        []byte
			// byDigest pushes by this digest instead of a tag.
			byDigest string
			status   int
			code     string
			// missing is the digest MANIFEST_BLOB_UNKNOWN must name.
			missing string
		}{
			{"not-json", mtOCIManifest, []byte("this is not JSON"), "", 400, "MANIFEST_INVALID", ""},
			{"truncated-json", mtOCIManifest, manifest(nil)[:40], "", 400, "MANIFEST_INVALID", ""},
			{"empty-body", mtOCIManifest, []byte{}, "", 400, "MANIFEST_INVALID", ""},
			{"json-null", mtOCIManifest, []byte("null"), "", 400, "MANIFEST_INVALID", ""},
			{"json-array", mtOCIManifest, []byte("[]"), "", 400, "MANIFEST_INVALID", ""},
			{"two-json-values", mtOCIManifest, append(manifest(nil), manifest(nil)...), "", 400, "MANIFEST_INVALID", ""},
			{"schema-version-1", mtOCIManifest, manifest(map[string]any{"schemaVersion": 1}), "", 400, "MANIFEST_INVALID", ""},
			{"schema-version-3", mtOCIManifest, manifest(map[string]any{"schemaVersion": 3}), "", 400, "MANIFEST_INVALID", ""},
			{"schema-version-missing", mtOCIManifest, manifest(map[string]any{"schemaVersion": nil}), "", 400, "MANIFEST_INVALID", ""},
			{"schema-version-string", mtOCIManifest, manifest(map[string]any{"schemaVersion": "2"}), "", 400, "MANIFEST_INVALID", ""},
			{"config-missing", mtOCIManifest, manifest(map[string]any{"config": nil}), "", 400, "MANIFEST_INVALID", ""},
			{"config-digest-bad-hex", mtOCIManifest, manifest(map[string]any{"config": withDigest(cfg, "sha256:zz")}), "", 400, "MANIFEST_INVALID", ""},
			{"config-digest-md5", mtOCIManifest, manifest(map[string]any{"config": withDigest(cfg, "md5:d41d8cd98f00b204e9800998ecf8427e")}), "", 400, "MANIFEST_INVALID", ""},
			{"config-digest-short", mtOCIManifest, manifest(map[string]any{"config": withDigest(cfg, cfg.Digest[:40])}), "", 400, "MANIFEST_INVALID", ""},
			{"config-digest-uppercase", mtOCIManifest, manifest(map[string]any{"config": withDigest(cfg, "sha256:"+strings.ToUpper(cfg.Digest[7:]))}), "", 400, "MANIFEST_INVALID", ""},
			{"config-media-type-missing", mtOCIManifest, manifest(map[string]any{"config": descriptor{"", cfg.Digest, cfg.Size}}), "", 400, "MANIFEST_INVALID", ""},
			{"layer-digest-empty", mtOCIManifest, manifest(map[string]any{"layers": []descriptor{withDigest(layer, "")}}), "", 400, "MANIFEST_INVALID", ""},
			{"layer-negative-size", mtOCIManifest, manifest(map[string]any{"layers": []descriptor{{mtOCILayer, layer.Digest, -1}}}), "", 400, "MANIFEST_INVALID", ""},
			{"layer-data-mismatch", mtOCIManifest, manifest(map[string]any{"layers": []any{map[string]any{
				"mediaType": mtOCILayer, "digest": layer.Digest, "size": 5, "data": "aGVsbG8="}}}), "", 400, "MANIFEST_INVALID", ""},
			{"layers-not-a-list", mtOCIManifest, manifest(map[string]any{"layers": "all of them"}), "", 400, "MANIFEST_INVALID", ""},
			{"unknown-media-type", "application/vnd.example.thing+json", manifest(map[string]any{"mediaType": nil}), "", 400, "MANIFEST_INVALID", ""},
			{"unknown-media-type-in-body", "application/vnd.example.thing+json", manifest(map[string]any{"mediaType": "application/vnd.example.thing+json"}), "", 400, "MANIFEST_INVALID", ""},
			{"no-media-type-at-all", "", manifest(map[string]any{"mediaType": nil}), "", 400, "MANIFEST_INVALID", ""},
			{"media-type-mismatch", mtOCIIndex, manifest(nil), "", 400, "MANIFEST_INVALID", ""},
			{"index-with-layers", mtOCIIndex, manifest(map[string]any{"mediaType": mtOCIIndex, "manifests": []descriptor{good}}), "", 400, "MANIFEST_INVALID", ""},
			{"image-with-manifests", mtOCIManifest, manifest(map[string]any{"manifests": []descriptor{good}}), "", 400, "MANIFEST_INVALID", ""},
			{"index-child-digest-invalid", mtOCIIndex, indexManifest(withDigest(good, "sha256:zz")), "", 400, "MANIFEST_INVALID", ""},
			{"missing-config-blob", mtOCIManifest, manifest(map[string]any{"config": withDigest(cfg, neverPushed.Digest)}), "", 400, "MANIFEST_BLOB_UNKNOWN", neverPushed.Digest},
			{"missing-layer-blob", mtOCIManifest, manifest(map[string]any{"layers": []descriptor{layer, neverPushed}}), "", 400, "MANIFEST_BLOB_UNKNOWN", neverPushed.Digest},
			{"blob-only-in-other-repo", mtOCIManifest, manifest(map[string]any{"layers": []descriptor{elsewhere}}), "", 400, "MANIFEST_BLOB_UNKNOWN", elsewhere.Digest},
			{"missing-blob-by-digest", mtOCIManifest, manifest(map[string]any{"layers": []descriptor{neverPushed}}),
				sha256Digest(manifest(map[string]any{"layers": []descriptor{neverPushed}})), 400, "MANIFEST_BLOB_UNKNOWN", neverPushed.Digest},
			{"index-missing-child", mtOCIIndex, indexManifest(good, missingChild), "", 400, "MANIFEST_BLOB_UNKNOWN", missingChild.Digest},
			{"content-does-not-match-digest", mtOCIManifest, manifest(nil), sha256Digest([]byte("other content")), 400, "DIGEST_INVALID", ""},
			// Ambiguous manifests: JSON parsers disagree on repeated keys and on keys that differ
			// only in case (Go's encoding/json takes the last and matches case-insensitively; other
			// clients take the first or match exactly). The registry must not check one reading
			// while clients pull another: here clients see a layer that was never pushed.
			{"duplicate-key-hides-layer", mtOCIManifest, []byte(strings.Replace(string(manifest(map[string]any{"layers": []descriptor{}})),
				`"layers":[]`, `"layers":[`+string(mustJSON(neverPushed))+`],"layers":[]`, 1)), "", 400, "MANIFEST_INVALID|MANIFEST_BLOB_UNKNOWN", ""},
			{"case-variant-key-hides-layer", mtOCIManifest, []byte(strings.TrimSuffix(string(manifest(map[string]any{"layers": []descriptor{neverPushed}})), "}") +
				`,"LAYERS":[]}`), "", 400, "MANIFEST_INVALID|MANIFEST_BLOB_UNKNOWN", ""},
			{"case-variant-key-hides-child", mtOCIIndex, []byte(strings.TrimSuffix(string(indexManifest(good, missingChild)), "}") +
				`,"Manifests":[` + string(mustJSON(good)) + `]}`), "", 400, "MANIFEST_INVALID|MANIFEST_BLOB_UNKNOWN", ""},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tag := fmt.Sprintf("bad-%d", i)
				tagsBefore := r.tags(t, repo)
				ref := tag
				if tc.byDigest != "" {
					ref = tc.byDigest + "?tag=" + tag
				}
				resp := r.putManifest(t, repo, ref, tc.contentType, tc.body)
				if resp.status < 300 {
					// Wrongly accepted: undo it, so that the next cases start from the same state.
					defer r.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+resp.header.Get("Docker-Content-Digest"), request{})
				}
				var e ociError
				if codes := strings.Split(tc.code, "|"); len(codes) > 1 {
					if resp.status != tc.status {
						t.Errorf("%s: status %d, want %d with one of %v", resp, resp.status, tc.status, codes)
					} else {
						e = expectErrorIn(t, resp, codes...)
					}
				} else {
					e = expectError(t, resp, tc.status, tc.code)
				}
				if tc.missing != "" && !bytes.Contains(e.Detail, []byte(tc.missing)) {
					t.Errorf("%s: the detail does not name the missing digest %s", resp, tc.missing)
				}
				r.expectNothingNew(t, repo, tagsBefore, good, tag, tc.body)
			})
		}

		t.Run("oversized", func(t *testing.T) {
			tagsBefore := r.tags(t, repo)
			big := manifest(map[string]any{"annotations": map[string]string{"padding": strings.Repeat("x", 4<<20)}})
			for _, transfer := range []string{"content-length", "chunked"} {
				hdr := map[string]string{"Content-Type": mtOCIManifest}
				body := big
				if transfer == "chunked" {
					hdr["Transfer-Encoding"] = "chunked"
					body = chunkEncode(big, true)
				} else {
					hdr["Content-Length"] = strconv.Itoa(len(big))
				}
				resp := r.rawExchange(t, http.MethodPut, "/v2/"+repo+"/manifests/oversized", hdr, body, true)
				expectError(t, resp, http.StatusRequestEntityTooLarge, "MANIFEST_INVALID")
				r.expectNothingNew(t, repo, tagsBefore, good, "oversized", big)
			}
		})

		t.Run("exactly-4MiB", func(t *testing.T) {
			m := manifest(map[string]any{"annotations": map[string]string{"padding": ""}})
			m = manifest(map[string]any{"annotations": map[string]string{"padding": strings.Repeat("x", 4<<20-len(m))}})
			if len(m) != 4<<20 {
				t.Fatalf("built a %d-byte manifest", len(m))
			}
			expectStatus(t, r.putManifest(t, repo, "four-mib", mtOCIManifest, m), http.StatusCreated)
			resp := r.do(t, http.MethodGet, "/v2/"+repo+"/manifests/four-mib", request{})
			expectStatus(t, resp, http.StatusOK)
			if !bytes.Equal(resp.body, m) {
				t.Errorf("GET four-mib returned %d bytes, want the %d pushed", len(resp.body), len(m))
			}
			expectStatus(t, r.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/four-mib", request{}), http.StatusAccepted)
		})
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// expectNothingNew checks that a refused manifest push left the repository as it was: the
// same tags, the good tag still at its manifest, no manifest at the refused tag, and no
// manifest by the refused content's digest.
func (r *registry) expectNothingNew(t testing.TB, repo string, tagsBefore []string, good descriptor, tag string, body []byte) {
	t.Helper()
	if got := r.tags(t, repo); !slices.Equal(got, tagsBefore) {
		t.Errorf("tags after a refused push = %v, want %v", got, tagsBefore)
	}
	resp := r.do(t, http.MethodHead, "/v2/"+repo+"/manifests/good", request{})
	if resp.status != http.StatusOK || resp.header.Get("Docker-Content-Digest") != good.Digest {
		t.Errorf("%s (digest %s): the good tag moved or vanished", resp, resp.header.Get("Docker-Content-Digest"))
	}
	r.expectManifestAbsent(t, repo, tag)
	r.expectManifestAbsent(t, repo, sha256Digest(body))
}

// TestInvalidNamesAndReferences sends requests with invalid repository names (uppercase,
// illegal separators, too long, no namespace), invalid tags and invalid digests (bad hex,
// wrong length, unsupported algorithms, no algorithm) to every endpoint that takes them, and
// checks the 400 and the OCI code: NAME_INVALID for names, MANIFEST_INVALID for tags,
// DIGEST_INVALID for digests. Nothing is created by any of them, and an upload session
// survives a PUT whose digest parameter is invalid.
func TestInvalidNamesAndReferences(t *testing.T) {
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		repo := "admin/names"
		good := r.pushImage(t, rng, repo, "latest")
		blob := r.pushBlob(t, repo, []byte("a blob"))
		loc := r.startUpload(t, repo)
		const bad = "sha256:zz"
		md5 := "md5:d41d8cd98f00b204e9800998ecf8427e"
		short := good.Digest[:len(good.Digest)-1]
		long := "admin/" + strings.Repeat("a", 250)
		cases := []struct {
			name, method, path string
			body               []byte
			code               string
		}{
			{"name-uppercase-namespace", "GET", "/v2/Admin/names/tags/list", nil, "NAME_INVALID"},
			{"name-uppercase-repository", "GET", "/v2/admin/Names/tags/list", nil, "NAME_INVALID"},
			{"name-without-namespace", "GET", "/v2/justone/tags/list", nil, "NAME_INVALID"},
			{"name-without-namespace-manifest", "GET", "/v2/justone/manifests/latest", nil, "NAME_INVALID"},
			{"name-without-namespace-upload", "POST", "/v2/justone/blobs/uploads/", nil, "NAME_INVALID"},
			{"name-without-namespace-put", "PUT", "/v2/justone/manifests/latest", imageManifest(good), "NAME_INVALID"},
			{"name-double-dot", "GET", "/v2/admin/na..mes/tags/list", nil, "NAME_INVALID"},
			{"name-leading-dash", "GET", "/v2/admin/-names/tags/list", nil, "NAME_INVALID"},
			{"name-trailing-separator", "GET", "/v2/admin/names-/tags/list", nil, "NAME_INVALID"},
			{"name-triple-underscore", "GET", "/v2/admin/na___mes/tags/list", nil, "NAME_INVALID"},
			{"name-with-space", "GET", "/v2/admin/na%20mes/tags/list", nil, "NAME_INVALID"},
			{"name-with-colon", "GET", "/v2/admin/na:mes/tags/list", nil, "NAME_INVALID"},
			{"name-too-long", "GET", "/v2/" + long + "/tags/list", nil, "NAME_INVALID"},
			{"name-uppercase-push", "PUT", "/v2/admin/Names/manifests/latest", imageManifest(good), "NAME_INVALID"},
			{"name-uppercase-blob", "GET", "/v2/admin/Names/blobs/" + blob, nil, "NAME_INVALID"},
			{"name-uppercase-mount", "POST", "/v2/admin/Copy/blobs/uploads/?mount=" + blob + "&from=admin/names", nil, "NAME_INVALID"},

			{"tag-leading-dash", "PUT", "/v2/" + repo + "/manifests/-latest", []byte("{}"), "MANIFEST_INVALID"},
			{"tag-leading-dot", "PUT", "/v2/" + repo + "/manifests/.latest", []byte("{}"), "MANIFEST_INVALID"},
			{"tag-too-long", "PUT", "/v2/" + repo + "/manifests/" + strings.Repeat("t", 129), []byte("{}"), "MANIFEST_INVALID"},
			{"tag-illegal-char", "PUT", "/v2/" + repo + "/manifests/la%21test", []byte("{}"), "MANIFEST_INVALID"},
			{"tag-query-invalid", "PUT", "/v2/" + repo + "/manifests/" + good.Digest + "?tag=bad%21tag", nil, "MANIFEST_INVALID"},
			{"tag-get-invalid", "GET", "/v2/" + repo + "/manifests/-latest", nil, "MANIFEST_INVALID"},

			{"blob-digest-bad-hex", "GET", "/v2/" + repo + "/blobs/" + bad, nil, "DIGEST_INVALID"},
			{"blob-digest-md5", "GET", "/v2/" + repo + "/blobs/" + md5, nil, "DIGEST_INVALID"},
			{"blob-digest-short", "GET", "/v2/" + repo + "/blobs/" + short, nil, "DIGEST_INVALID"},
			{"blob-digest-no-algorithm", "GET", "/v2/" + repo + "/blobs/" + good.Digest[7:], nil, "DIGEST_INVALID"},
			{"blob-digest-uppercase", "GET", "/v2/" + repo + "/blobs/sha256:" + strings.ToUpper(blob[7:]), nil, "DIGEST_INVALID"},
			{"blob-delete-bad-digest", "DELETE", "/v2/" + repo + "/blobs/" + bad, nil, "DIGEST_INVALID"},
			{"blob-delete-no-algorithm", "DELETE", "/v2/" + repo + "/blobs/" + blob[7:], nil, "DIGEST_INVALID"},
			{"upload-post-digest-no-algorithm", "POST", "/v2/" + repo + "/blobs/uploads/?digest=" + blob[7:], []byte("x"), "DIGEST_INVALID"},
			{"upload-mount-no-algorithm", "POST", "/v2/" + repo + "/blobs/uploads/?mount=" + blob[7:] + "&from=admin/names", nil, "DIGEST_INVALID"},
			{"upload-put-digest-no-algorithm", "PUT", loc + "?digest=" + blob[7:], nil, "DIGEST_INVALID"},
			{"referrers-no-algorithm", "GET", "/v2/" + repo + "/referrers/" + good.Digest[7:], nil, "DIGEST_INVALID"},
			{"upload-post-bad-digest", "POST", "/v2/" + repo + "/blobs/uploads/?digest=" + bad, []byte("x"), "DIGEST_INVALID"},
			{"upload-post-md5", "POST", "/v2/" + repo + "/blobs/uploads/?digest=" + md5, []byte("x"), "DIGEST_INVALID"},
			{"upload-mount-bad-digest", "POST", "/v2/" + repo + "/blobs/uploads/?mount=" + bad + "&from=admin/names", nil, "DIGEST_INVALID"},
			{"upload-put-bad-digest", "PUT", loc + "?digest=" + bad, nil, "DIGEST_INVALID"},
			{"upload-put-md5", "PUT", loc + "?digest=" + md5, nil, "DIGEST_INVALID"},
			{"upload-put-no-digest", "PUT", loc, nil, "DIGEST_INVALID"},
			{"manifest-put-bad-digest", "PUT", "/v2/" + repo + "/manifests/" + bad, imageManifest(good), "DIGEST_INVALID"},
			{"manifest-put-md5", "PUT", "/v2/" + repo + "/manifests/" + md5, imageManifest(good), "DIGEST_INVALID"},
			{"manifest-get-bad-digest", "GET", "/v2/" + repo + "/manifests/" + bad, nil, "DIGEST_INVALID"},
			{"manifest-get-md5", "GET", "/v2/" + repo + "/manifests/" + md5, nil, "DIGEST_INVALID"},
			{"manifest-delete-bad-digest", "DELETE", "/v2/" + repo + "/manifests/" + bad, nil, "DIGEST_INVALID"},
			{"referrers-bad-digest", "GET", "/v2/" + repo + "/referrers/" + bad, nil, "DIGEST_INVALID"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := request{body: tc.body, header: map[string]string{"Content-Type": mtOCIManifest}}
				expectError(t, r.do(t, tc.method, tc.path, req), http.StatusBadRequest, tc.code)
				if tc.method == http.MethodGet && !strings.Contains(tc.path, "/referrers/") {
					expectError(t, r.do(t, http.MethodHead, tc.path, req), http.StatusBadRequest, tc.code)
				}
			})
		}
		t.Run("nothing-created", func(t *testing.T) {
			catalog := r.catalog(t)
			for _, name := range catalog {
				if name != strings.ToLower(name) || !strings.Contains(name, "/") || strings.Contains(name, "justone") {
					t.Errorf("catalog lists %q after refused requests", name)
				}
			}
			if got := r.tags(t, repo); !slices.Equal(got, []string{"latest"}) {
				t.Errorf("tags = %v, want [latest]", got)
			}
			if off, resp := r.uploadOffset(t, loc); resp.status != http.StatusNoContent || off != 0 {
				t.Errorf("%s: the upload session did not survive PUTs with invalid digests", resp)
			}
		})
	})
}
