package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestTakeOwnership(t *testing.T) {
	e := newEnv(t)
	e.user("root")
	alice := e.user("alice")
	e.user("bob")
	adminOrg(e, "acme", alice)

	e.must(403, "POST", "/api/v1/superuser/takeownership/acme", "bob", nil, nil)
	e.must(404, "POST", "/api/v1/superuser/takeownership/nobody", "root", nil, nil)
	e.must(400, "POST", "/api/v1/superuser/takeownership/alice", "root", nil, nil)
	var out struct {
		Namespace string `json:"namespace"`
	}
	e.must(200, "POST", "/api/v1/superuser/takeownership/acme", "root", nil, &out)
	if out.Namespace != "acme" {
		t.Fatalf("answer: %+v", out)
	}
	var me struct {
		Organizations []struct {
			Name       string `json:"name"`
			IsOrgAdmin bool   `json:"is_org_admin"`
		} `json:"organizations"`
	}
	e.must(200, "GET", "/api/v1/user/", "root", nil, &me)
	if len(me.Organizations) != 1 || me.Organizations[0].Name != "acme" || !me.Organizations[0].IsOrgAdmin {
		t.Fatalf("root's organizations: %+v", me)
	}
	// Again: nothing changes, nothing more is logged.
	e.must(200, "POST", "/api/v1/superuser/takeownership/acme", "root", nil, nil)
	if rows := e.logs("take_ownership"); len(rows) != 1 || rows[0].Account != "acme" || rows[0].Performer != "root" {
		t.Fatalf("take_ownership rows: %+v", rows)
	}
}

func TestRegistrySizeAndCounts(t *testing.T) {
	e := newEnv(t)
	e.user("root")
	alice := e.user("alice")
	ctx := context.Background()
	repo := adminRepo(e, "alice", "app", alice)
	for _, d := range []string{"sha256:aa", "sha256:bb"} {
		b, err := e.store.ReserveBlob(ctx, d, 100, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.LinkBlob(ctx, repo.ID, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.PutManifest(ctx, store.ManifestPut{RepositoryID: repo.ID, Digest: "sha256:m", MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte(`{}`), Blobs: []string{"sha256:aa", "sha256:bb"}, Tags: []string{"latest"}}); err != nil {
		t.Fatal(err)
	}

	e.must(403, "GET", "/api/v1/superuser/registrysize/", "alice", nil, nil)
	e.must(403, "GET", "/api/v1/superuser/counts", "alice", nil, nil)
	var size struct {
		SizeBytes int64 `json:"size_bytes"`
		LastRan   int64 `json:"last_ran"`
		Queued    bool  `json:"queued"`
		Running   bool  `json:"running"`
	}
	e.must(200, "GET", "/api/v1/superuser/registrysize/", "root", nil, &size)
	if size.SizeBytes != 200 || size.LastRan == 0 || size.Queued || size.Running {
		t.Fatalf("registry size: %+v", size)
	}
	var counts map[string]int64
	e.must(200, "GET", "/api/v1/superuser/counts", "root", nil, &counts)
	want := map[string]int64{"users": 2, "organizations": 0, "robots": 0, "repositories": 1, "tags": 1, "manifests": 1, "blobs": 2, "size_bytes": 200}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("counts[%s] = %d, want %d (%v)", k, counts[k], v, counts)
		}
	}
}
