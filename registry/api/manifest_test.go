package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestGetRepoManifest(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "carol", "read")
	m := rtManifest(e, priv, "1", "latest")
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` +
		m.Digest + `","size":10}]}`)
	idx, err := e.store.PutManifest(context.Background(), store.ManifestPut{RepositoryID: priv.ID, Digest: rtDigest(index),
		MediaType: "application/vnd.oci.image.index.v1+json", Content: index, Children: []string{m.Digest}})
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/repository/acme/priv/manifest/"

	e.must(401, "GET", path+m.Digest, "", nil, nil)
	e.must(403, "GET", path+m.Digest, "bob", nil, nil)
	e.must(403, "GET", "/api/v1/repository/acme/missing/manifest/"+m.Digest, "carol", nil, nil)
	e.must(400, "GET", path+"latest", "carol", nil, nil)
	e.must(404, "GET", path+rtDigest([]byte("absent")), "carol", nil, nil)

	var out struct {
		Digest          string  `json:"digest"`
		IsManifestList  bool    `json:"is_manifest_list"`
		ManifestData    string  `json:"manifest_data"`
		ConfigMediaType *string `json:"config_media_type"`
		Layers          []struct {
			Index          int    `json:"index"`
			CompressedSize int64  `json:"compressed_size"`
			BlobDigest     string `json:"blob_digest"`
			IsRemote       bool   `json:"is_remote"`
		} `json:"layers"`
		LayersCompressedSize int64 `json:"layers_compressed_size"`
	}
	e.must(200, "GET", path+m.Digest, "carol", nil, &out)
	if out.Digest != m.Digest || out.IsManifestList || out.ManifestData != string(m.Content) || out.ConfigMediaType == nil ||
		*out.ConfigMediaType != "application/vnd.oci.image.config.v1+json" || len(out.Layers) != 2 ||
		out.Layers[1].Index != 1 || out.Layers[1].CompressedSize != 250 || !strings.HasPrefix(out.Layers[0].BlobDigest, "sha256:") ||
		out.LayersCompressedSize != 350 {
		t.Fatalf("manifest %+v", out)
	}
	var list map[string]any
	e.must(200, "GET", path+idx.Digest, "root", nil, &list)
	if list["is_manifest_list"] != true || list["layers"] != nil || list["manifest_data"] != string(index) {
		t.Fatalf("index %v", list)
	}
}

func TestManifestLabels(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "carol", "read")
	rtGrant(e, priv, "dave", "write")
	m := rtManifest(e, priv, "1", "latest")
	if _, err := e.store.AddLabel(context.Background(), store.Label{UUID: "from-config", ManifestID: m.ID,
		Key: "org.opencontainers.image.title", Value: "demo", MediaType: "text/plain", Source: "manifest"}); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/repository/acme/priv/manifest/" + m.Digest + "/labels"
	label := map[string]any{"key": "owner", "value": "team-a", "media_type": "text/plain"}

	// Who may.
	e.must(401, "POST", base, "", label, nil)
	e.must(403, "POST", base, "carol", label, nil)
	e.must(403, "POST", base, "bob", label, nil)
	e.must(403, "POST", "/api/v1/repository/acme/missing/manifest/"+m.Digest+"/labels", "carol", label, nil)
	e.must(403, "GET", base, "bob", nil, nil)

	// Add.
	var created struct {
		Label map[string]any `json:"label"`
	}
	e.must(201, "POST", base, "dave", label, &created)
	id, _ := created.Label["id"].(string)
	if id == "" || created.Label["key"] != "owner" || created.Label["value"] != "team-a" || created.Label["source_type"] != "api" ||
		created.Label["media_type"] != "text/plain" {
		t.Fatalf("created %v", created)
	}
	created.Label = nil
	e.must(201, "POST", base, "alice", map[string]any{"key": "build.info", "value": `{"n": 1}`, "media_type": nil}, &created)
	if created.Label["media_type"] != "application/json" {
		t.Fatalf("inferred media type %v", created.Label)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+base, strings.NewReader(`{"key":"loc","value":"x","media_type":"text/plain"}`))
	req.SetBasicAuth("dave", "dave-password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 201 || !strings.Contains(loc, "/labels/") {
		t.Fatalf("POST: %d, Location %q", resp.StatusCode, loc)
	}

	// Bad input.
	for _, body := range []map[string]any{
		{"key": "", "value": "x", "media_type": "text/plain"},
		{"key": "Upper", "value": "x", "media_type": "text/plain"},
		{"key": "a..b", "value": "x", "media_type": "text/plain"},
		{"key": "ends-", "value": "x", "media_type": "text/plain"},
		{"key": "io.quay.expires-after", "value": "1d", "media_type": "text/plain"},
		{"key": "org.opencontainers.image.title", "value": "x", "media_type": "text/plain"},
		{"key": "ok", "value": "x", "media_type": "image/png"},
		{"key": "ok", "media_type": "text/plain"},
	} {
		e.must(400, "POST", base, "dave", body, nil)
	}

	// List, filter, get.
	var labels struct {
		Labels []map[string]any `json:"labels"`
	}
	e.must(200, "GET", base, "carol", nil, &labels)
	if len(labels.Labels) != 4 || labels.Labels[0]["source_type"] != "manifest" {
		t.Fatalf("labels %v", labels.Labels)
	}
	labels.Labels = nil
	e.must(200, "GET", base+"?filter=own", "carol", nil, &labels)
	if len(labels.Labels) != 1 || labels.Labels[0]["id"] != id {
		t.Fatalf("filtered labels %v", labels.Labels)
	}
	var one map[string]any
	e.must(200, "GET", base+"/"+id, "carol", nil, &one)
	if one["key"] != "owner" || one["value"] != "team-a" {
		t.Fatalf("label %v", one)
	}
	e.must(404, "GET", base+"/no-such-label", "carol", nil, nil)
	e.must(403, "GET", base+"/"+id, "bob", nil, nil)

	// Delete.
	e.must(403, "DELETE", base+"/"+id, "carol", nil, nil)
	e.must(204, "DELETE", base+"/"+id, "dave", nil, nil)
	e.must(404, "DELETE", base+"/"+id, "dave", nil, nil)
	e.must(404, "GET", base+"/"+id, "carol", nil, nil)

	rows := e.logs("manifest_label_add")
	if len(rows) != 3 || rows[0].Performer != "dave" || rows[1].Performer != "alice" || rows[0].Repository != "priv" {
		t.Fatalf("manifest_label_add rows %+v", rows)
	}
	if m0 := rtMeta(t, rows[0]); m0["id"] != id || m0["key"] != "owner" || m0["value"] != "team-a" || m0["manifest_digest"] != m.Digest ||
		m0["media_type"] != "text/plain" {
		t.Fatalf("add metadata %v", m0)
	}
	md := rtLastLog(t, e, "manifest_label_delete", 1, "dave", "acme/priv")
	if md["id"] != id || md["key"] != "owner" || md["manifest_digest"] != m.Digest {
		t.Fatalf("delete metadata %v", md)
	}
}
