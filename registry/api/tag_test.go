package api_test

import (
	"fmt"
	"testing"
	"time"
)

type rtTagList struct {
	Tags []struct {
		Name           string `json:"name"`
		Reversion      *bool  `json:"reversion"`
		StartTS        int64  `json:"start_ts"`
		EndTS          *int64 `json:"end_ts"`
		ManifestDigest string `json:"manifest_digest"`
		IsManifestList *bool  `json:"is_manifest_list"`
		Size           int64  `json:"size"`
		LastModified   string `json:"last_modified"`
		Expiration     string `json:"expiration"`
	} `json:"tags"`
	Page          int  `json:"page"`
	HasAdditional bool `json:"has_additional"`
}

func TestListRepoTags(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "dave", "read")
	pub := rtRepo(e, "acme", "pub", true)
	m1 := rtManifest(e, priv, "1", "latest")
	m2 := rtManifest(e, priv, "2", "latest", "v2")
	rtManifest(e, pub, "p", "latest")
	path := "/api/v1/repository/acme/priv/tag/"

	e.must(401, "GET", path, "", nil, nil)
	e.must(403, "GET", path, "bob", nil, nil)
	e.must(403, "GET", "/api/v1/repository/acme/missing/tag/", "carol", nil, nil)
	e.must(200, "GET", "/api/v1/repository/acme/pub/tag/", "", nil, nil)
	e.must(200, "GET", path, "root", nil, nil)

	var out rtTagList
	e.must(200, "GET", path, "dave", nil, &out)
	if len(out.Tags) != 3 || out.Page != 1 || out.HasAdditional {
		t.Fatalf("list %+v", out)
	}
	byDigest := map[string]int{}
	for _, tg := range out.Tags {
		if tg.Reversion == nil || tg.IsManifestList == nil || *tg.IsManifestList || tg.Size != 357 || tg.LastModified == "" || tg.StartTS == 0 {
			t.Errorf("tag %+v", tg)
		}
		if tg.EndTS != nil {
			byDigest["ended "+tg.ManifestDigest]++
			if tg.Expiration == "" {
				t.Errorf("ended tag without expiration: %+v", tg)
			}
		} else {
			byDigest[tg.ManifestDigest]++
		}
	}
	if byDigest["ended "+m1.Digest] != 1 || byDigest[m2.Digest] != 2 {
		t.Fatalf("tags by digest %v", byDigest)
	}
	out = rtTagList{}
	e.must(200, "GET", path+"?onlyActiveTags=true", "dave", nil, &out)
	if len(out.Tags) != 2 {
		t.Fatalf("active tags %+v", out.Tags)
	}
	out = rtTagList{}
	e.must(200, "GET", path+"?specificTag=latest", "dave", nil, &out)
	if len(out.Tags) != 2 || out.Tags[0].ManifestDigest != m2.Digest || out.Tags[1].ManifestDigest != m1.Digest {
		t.Fatalf("latest history %+v", out.Tags)
	}
	out = rtTagList{}
	e.must(200, "GET", path+"?limit=2&page=1", "dave", nil, &out)
	if len(out.Tags) != 2 || !out.HasAdditional {
		t.Fatalf("page 1 %+v", out)
	}
	out = rtTagList{}
	e.must(200, "GET", path+"?limit=2&page=2", "dave", nil, &out)
	if len(out.Tags) != 1 || out.HasAdditional || out.Page != 2 {
		t.Fatalf("page 2 %+v", out)
	}
	e.must(400, "GET", path+"?limit=many", "dave", nil, nil)
}

func TestChangeTag(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "carol", "read")
	rtGrant(e, priv, "dave", "write")
	m1 := rtManifest(e, priv, "1", "latest")
	m2 := rtManifest(e, priv, "2")
	other := rtRepo(e, "acme", "other", false)
	foreign := rtManifest(e, other, "x")
	path := "/api/v1/repository/acme/priv/tag/"

	// Who may.
	move := map[string]any{"manifest_digest": m2.Digest}
	e.must(401, "PUT", path+"v2", "", move, nil)
	e.must(403, "PUT", path+"v2", "bob", move, nil)
	e.must(403, "PUT", path+"v2", "carol", move, nil)
	e.must(403, "PUT", "/api/v1/repository/acme/missing/tag/v2", "carol", move, nil)
	e.must(403, "PUT", path+"v2", rtToken(e, "dave", "repo:read"), move, nil)

	// Create, then move.
	var answer any
	e.must(201, "PUT", path+"v2", "dave", move, &answer)
	if answer != "Updated" {
		t.Fatalf("answer %v", answer)
	}
	e.must(201, "PUT", path+"latest", rtToken(e, "dave", "repo:write"), move, nil)
	var out rtTagList
	e.must(200, "GET", path+"?onlyActiveTags=true", "dave", nil, &out)
	for _, tg := range out.Tags {
		if tg.ManifestDigest != m2.Digest {
			t.Fatalf("tag %s at %s", tg.Name, tg.ManifestDigest)
		}
	}
	m := rtLastLog(t, e, "create_tag", 1, "dave", "acme/priv")
	if m["tag"] != "v2" || m["manifest_digest"] != m2.Digest || m["original_manifest_digest"] != nil {
		t.Fatalf("create_tag %v", m)
	}
	m = rtLastLog(t, e, "move_tag", 1, "dave", "acme/priv")
	if m["tag"] != "latest" || m["manifest_digest"] != m2.Digest || m["original_manifest_digest"] != m1.Digest {
		t.Fatalf("move_tag %v", m)
	}

	// Bad input.
	e.must(404, "PUT", path+"v3", "dave", map[string]any{"manifest_digest": foreign.Digest}, nil)
	e.must(400, "PUT", path+"v3", "dave", map[string]any{"manifest_digest": "sha256:nothex"}, nil)
	e.must(400, "PUT", path+".bad", "dave", move, nil)
	e.must(400, "PUT", path+"v3", "dave", map[string]any{}, nil)
	e.must(400, "PUT", path+"v2", "dave", map[string]any{"expiration": "tomorrow"}, nil)
	e.must(400, "PUT", path+"v2", "dave", map[string]any{"expiration": time.Now().Add(-time.Hour).Unix()}, nil)
	e.must(404, "PUT", path+"nosuch", "dave", map[string]any{"expiration": time.Now().Add(time.Hour).Unix()}, nil)

	// Expiration: set, shown, cleared.
	at := time.Now().Add(48 * time.Hour).Unix()
	e.must(201, "PUT", path+"v2", "dave", map[string]any{"expiration": at}, nil)
	out = rtTagList{}
	e.must(200, "GET", path+"?specificTag=v2", "dave", nil, &out)
	if len(out.Tags) != 1 || out.Tags[0].EndTS == nil || *out.Tags[0].EndTS != at || out.Tags[0].Expiration == "" {
		t.Fatalf("expiring tag %+v", out.Tags)
	}
	e.must(201, "PUT", path+"v2", "alice", map[string]any{"expiration": nil}, nil)
	out = rtTagList{}
	e.must(200, "GET", path+"?specificTag=v2", "dave", nil, &out)
	if out.Tags[0].EndTS != nil || out.Tags[0].Expiration != "" {
		t.Fatalf("tag after clearing %+v", out.Tags)
	}
	// Clearing an expiration that is not set logs nothing.
	e.must(201, "PUT", path+"v2", "alice", map[string]any{"expiration": nil}, nil)
	rows := e.logs("change_tag_expiration")
	if len(rows) != 2 || rows[0].Performer != "dave" || rows[1].Performer != "alice" {
		t.Fatalf("change_tag_expiration rows %+v", rows)
	}
	if m := rtMeta(t, rows[0]); m["tag"] != "v2" || m["expiration_date"] != float64(at) || m["old_expiration_date"] != nil {
		t.Fatalf("set metadata %v", m)
	}
	if m := rtMeta(t, rows[1]); m["expiration_date"] != nil || m["old_expiration_date"] != float64(at) {
		t.Fatalf("clear metadata %v", m)
	}
}

func TestDeleteAndRestoreTag(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "carol", "read")
	rtGrant(e, priv, "dave", "write")
	m1 := rtManifest(e, priv, "1", "latest")
	m2 := rtManifest(e, priv, "2", "latest")
	path := "/api/v1/repository/acme/priv/tag/latest"

	e.must(401, "DELETE", path, "", nil, nil)
	e.must(403, "DELETE", path, "carol", nil, nil)
	e.must(403, "DELETE", "/api/v1/repository/acme/missing/tag/latest", "carol", nil, nil)
	e.must(204, "DELETE", path, "dave", nil, nil)
	e.must(404, "DELETE", path, "dave", nil, nil)
	m := rtLastLog(t, e, "delete_tag", 1, "dave", "acme/priv")
	if m["tag"] != "latest" || m["manifest_digest"] != m2.Digest {
		t.Fatalf("delete_tag %v", m)
	}

	restore := func(d string) map[string]any { return map[string]any{"manifest_digest": d} }
	e.must(401, "POST", path+"/restore", "", restore(m1.Digest), nil)
	e.must(403, "POST", path+"/restore", "carol", restore(m1.Digest), nil)
	e.must(400, "POST", path+"/restore", "dave", map[string]any{}, nil)
	e.must(400, "POST", path+"/restore", "dave", restore("latest"), nil)
	e.must(404, "POST", path+"/restore", "dave", restore(rtDigest([]byte("never pushed"))), nil)
	var out map[string]any
	e.must(200, "POST", path+"/restore", "dave", restore(m1.Digest), &out)
	if len(out) != 0 {
		t.Fatalf("restore answer %v", out)
	}
	var list rtTagList
	e.must(200, "GET", "/api/v1/repository/acme/priv/tag/?onlyActiveTags=true", "carol", nil, &list)
	if len(list.Tags) != 1 || list.Tags[0].ManifestDigest != m1.Digest || list.Tags[0].Reversion == nil || !*list.Tags[0].Reversion {
		t.Fatalf("after restore %+v", list.Tags)
	}
	// In the history only the restored lifetime is a reversion.
	e.must(200, "GET", "/api/v1/repository/acme/priv/tag/?specificTag=latest", "carol", nil, &list)
	var reversions []bool
	for _, tg := range list.Tags {
		reversions = append(reversions, *tg.Reversion)
	}
	if fmt.Sprint(reversions) != "[true false false]" {
		t.Fatalf("history reversions %v, want [true false false] (restored, moved, first push)", reversions)
	}
	m = rtLastLog(t, e, "revert_tag", 1, "dave", "acme/priv")
	if m["tag"] != "latest" || m["manifest_digest"] != m1.Digest {
		t.Fatalf("revert_tag %v", m)
	}
}
