package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

// rt* helpers set up repository fixtures for the repository, permission, prototype, tag and
// manifest tests.

// rtOrg creates organization name owned by owner (a member of its "owners" team).
func rtOrg(e *env, name, owner string) store.Namespace {
	e.t.Helper()
	u, err := e.store.UserByName(context.Background(), owner)
	if err != nil {
		e.t.Fatal(err)
	}
	org, err := e.store.CreateOrganization(context.Background(), name, name+"@example.test", u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return org
}

// rtTeam creates a team of an organization with members.
func rtTeam(e *env, org store.Namespace, name, role string, members ...string) store.Team {
	e.t.Helper()
	ctx := context.Background()
	t, err := e.store.PutTeam(ctx, org.ID, name, role, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		u, err := e.store.Account(ctx, m)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.store.AddTeamMember(ctx, t.ID, u.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return t
}

// rtRepo creates NAMESPACE/NAME.
func rtRepo(e *env, ns, name string, public bool) store.Repository {
	e.t.Helper()
	r, err := e.store.CreateRepository(context.Background(), store.NewRepository{Namespace: ns, Name: name, Public: public})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// rtGrant gives an account a role on a repository.
func rtGrant(e *env, repo store.Repository, who, role string) {
	e.t.Helper()
	u, err := e.store.Account(context.Background(), who)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.SetUserPermission(context.Background(), repo.ID, u.ID, role); err != nil {
		e.t.Fatal(err)
	}
}

func rtDigest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// rtManifest stores an OCI image manifest (config and two layers, linked to the repository)
// whose content varies with seed, and points tags at it.
func rtManifest(e *env, repo store.Repository, seed string, tags ...string) store.Manifest {
	e.t.Helper()
	ctx := context.Background()
	config := rtDigest([]byte("config " + seed))
	layers := []string{rtDigest([]byte("layer1 " + seed)), rtDigest([]byte("layer2 " + seed))}
	sizes := map[string]int64{config: 7, layers[0]: 100, layers[1]: 250}
	for _, d := range append([]string{config}, layers...) {
		b, err := e.store.ReserveBlob(ctx, d, sizes[d], time.Second)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.store.LinkBlob(ctx, repo.ID, b.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	content := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":7},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":100},`+
		`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":250}]}`, config, layers[0], layers[1]))
	m, err := e.store.PutManifest(ctx, store.ManifestPut{RepositoryID: repo.ID, Digest: rtDigest(content),
		MediaType: "application/vnd.oci.image.manifest.v1+json", Content: content, Blobs: append([]string{config}, layers...), Tags: tags})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// rtMeta decodes an audit row's metadata.
func rtMeta(t *testing.T, l store.LogEntry) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(l.Metadata), &m); err != nil {
		t.Fatalf("metadata %q: %v", l.Metadata, err)
	}
	return m
}

// rtLastLog returns the only audit row of a kind, checking who performed it on which
// repository.
func rtLastLog(t *testing.T, e *env, kind string, n int, performer, repo string) map[string]any {
	t.Helper()
	rows := e.logs(kind)
	if len(rows) != n {
		t.Fatalf("%d %s rows, want %d: %+v", len(rows), kind, n, rows)
	}
	if n == 0 {
		return nil
	}
	l := rows[len(rows)-1]
	if l.Performer != performer || (repo != "" && l.Account+"/"+l.Repository != repo) {
		t.Fatalf("%s row by %q on %s/%s, want %q on %s", kind, l.Performer, l.Account, l.Repository, performer, repo)
	}
	return rtMeta(t, l)
}

// rtToken issues an OAuth token with scopes for a user.
func rtToken(e *env, user string, scopes ...string) string {
	e.t.Helper()
	u, err := e.store.UserByName(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.auth.IssueOAuthToken(context.Background(), u, 0, scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return "bearer:" + tok
}

// rtWorld is the common cast: alice owns org "acme" (and her namespace), bob is a creator in
// acme, carol is a plain member, dave an outsider, root a superuser.
func rtWorld(t *testing.T) (*env, store.Namespace) {
	e := newEnv(t)
	for _, u := range []string{"alice", "bob", "carol", "dave", "root"} {
		e.user(u)
	}
	org := rtOrg(e, "acme", "alice")
	rtTeam(e, org, "creators", store.TeamCreator, "bob")
	rtTeam(e, org, "readers", store.TeamMember, "carol")
	return e, org
}

func TestCreateRepository(t *testing.T) {
	e, _ := rtWorld(t)
	rtRepo(e, "acme", "taken", false)
	body := func(ns, name, vis string) map[string]any {
		return map[string]any{"namespace": ns, "repository": name, "visibility": vis, "description": "d", "repo_kind": "image"}
	}
	cases := []struct {
		name string
		who  string
		body any
		want int
	}{
		{"own namespace", "dave", body("dave", "app", "private"), 201},
		{"own namespace by default", "carol", map[string]any{"repository": "x", "visibility": "public", "description": ""}, 201},
		{"org admin", "alice", body("acme", "web", "public"), 201},
		{"org creator", "bob", body("acme", "bobs", "private"), 201},
		{"nested name", "alice", body("acme", "team/app", "private"), 201},
		{"superuser anywhere", "root", body("dave", "fromroot", "private"), 201},
		{"org member without creator role", "carol", body("acme", "nope", "private"), 403},
		{"outsider", "dave", body("acme", "nope", "private"), 403},
		{"other user's namespace", "bob", body("dave", "nope", "private"), 403},
		{"missing namespace", "dave", body("ghost", "nope", "private"), 403},
		{"anonymous", "", body("acme", "nope", "private"), 401},
		{"existing", "alice", body("acme", "taken", "private"), 400},
		{"existing, outsider", "dave", body("acme", "taken", "private"), 403},
		{"bad visibility", "alice", body("acme", "v", "secret"), 400},
		{"upper case name", "alice", body("acme", "App", "private"), 400},
		{"bad separator", "alice", body("acme", "a..b", "private"), 400},
		{"empty name", "alice", body("acme", "", "private"), 400},
		{"application kind", "alice", map[string]any{"namespace": "acme", "repository": "k", "visibility": "private", "repo_kind": "application"}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			if got := e.call("POST", "/api/v1/repository", tc.who, tc.body, &out); got != tc.want {
				t.Fatalf("status %d, want %d: %v", got, tc.want, out)
			}
			if tc.want == 201 && (out["kind"] != "image" || out["name"] == "" || out["namespace"] == "") {
				t.Fatalf("answer %v", out)
			}
		})
	}
	// The creator who is not an organization admin administers the new repository.
	r, err := e.store.Repository(context.Background(), "acme", "bobs")
	if err != nil {
		t.Fatal(err)
	}
	perms, _ := e.store.UserPermissions(context.Background(), r.ID)
	if len(perms) != 1 || perms[0].Account.Name != "bob" || perms[0].Role != "admin" {
		t.Fatalf("permissions of acme/bobs: %+v", perms)
	}
	web, _ := e.store.Repository(context.Background(), "acme", "web")
	if !web.Public || web.Description != "d" {
		t.Fatalf("acme/web = %+v", web)
	}
	rows := e.logs("create_repo")
	if len(rows) != 6 {
		t.Fatalf("%d create_repo rows, want 6", len(rows))
	}
	if m := rtMeta(t, rows[0]); rows[0].Performer != "dave" || rows[0].Account != "dave" || rows[0].Repository != "app" ||
		m["repo"] != "app" || m["namespace"] != "dave" {
		t.Fatalf("create_repo row %+v", rows[0])
	}
	// OAuth tokens need repo:create.
	e.must(403, "POST", "/api/v1/repository", rtToken(e, "alice", "repo:admin"), body("acme", "tok1", "private"), nil)
	e.must(201, "POST", "/api/v1/repository", rtToken(e, "alice", "repo:create"), body("acme", "tok2", "private"), nil)
}

func TestListRepositories(t *testing.T) {
	e, org := rtWorld(t)
	pub := rtRepo(e, "acme", "public", true)
	rtRepo(e, "acme", "private", false)
	shared := rtRepo(e, "acme", "shared", false)
	rtGrant(e, shared, "dave", "read")
	rtRepo(e, "dave", "mine", false)
	rtManifest(e, pub, "1", "latest")
	_ = org

	names := func(who, query string) []string {
		t.Helper()
		var out struct {
			Repositories []map[string]any `json:"repositories"`
			NextPage     string           `json:"next_page"`
		}
		e.must(200, "GET", "/api/v1/repository"+query, who, nil, &out)
		var got []string
		for _, r := range out.Repositories {
			got = append(got, r["namespace"].(string)+"/"+r["name"].(string))
		}
		return got
	}
	cases := []struct {
		who, query string
		want       string
	}{
		{"dave", "?namespace=acme", "acme/shared"},
		{"dave", "?namespace=acme&public=true", "acme/public acme/shared"},
		{"dave", "?public=true", "acme/public acme/shared dave/mine"},
		{"alice", "?namespace=acme", "acme/public acme/private acme/shared"},
		{"carol", "?namespace=acme", ""},
		{"", "?namespace=acme", ""},
		{"", "?namespace=acme&public=true", "acme/public"},
		{"root", "?namespace=acme", "acme/public acme/private acme/shared"},
		{"dave", "?starred=true", ""},
		{"dave", "?namespace=acme&repo_kind=application", ""},
	}
	for _, tc := range cases {
		if got := strings.Join(names(tc.who, tc.query), " "); got != tc.want {
			t.Errorf("%q lists %s: %q, want %q", tc.who, tc.query, got, tc.want)
		}
	}
	e.must(400, "GET", "/api/v1/repository", "dave", nil, nil)
	e.must(400, "GET", "/api/v1/repository?starred=true", "", nil, nil)
	e.must(400, "GET", "/api/v1/repository?namespace=acme&next_page=!!", "dave", nil, nil)

	// Shape, with last_modified and popularity on request.
	var out struct {
		Repositories []map[string]any `json:"repositories"`
	}
	e.must(200, "GET", "/api/v1/repository?namespace=acme&public=true&last_modified=true&popularity=true", "alice", nil, &out)
	first := out.Repositories[0]
	for _, k := range []string{"namespace", "name", "description", "is_public", "kind", "state", "is_starred", "last_modified", "popularity"} {
		if _, ok := first[k]; !ok {
			t.Errorf("repository entry lacks %q: %v", k, first)
		}
	}
	if first["is_public"] != true || first["kind"] != "image" || first["state"] != "NORMAL" || first["last_modified"] == nil {
		t.Errorf("entry %v", first)
	}
	if out.Repositories[1]["last_modified"] != nil {
		t.Errorf("untagged repository has last_modified %v", out.Repositories[1]["last_modified"])
	}

	// Paging: 100 per page with an opaque next_page.
	for i := range 150 {
		rtRepo(e, "dave", fmt.Sprintf("r%03d", i), false)
	}
	var page struct {
		Repositories []map[string]any `json:"repositories"`
		NextPage     string           `json:"next_page"`
	}
	e.must(200, "GET", "/api/v1/repository?namespace=dave", "dave", nil, &page)
	if len(page.Repositories) != 100 || page.NextPage == "" {
		t.Fatalf("first page: %d repositories, next_page %q", len(page.Repositories), page.NextPage)
	}
	var page2 struct {
		Repositories []map[string]any `json:"repositories"`
		NextPage     *string          `json:"next_page"`
	}
	e.must(200, "GET", "/api/v1/repository?namespace=dave&next_page="+page.NextPage, "dave", nil, &page2)
	if len(page2.Repositories) != 51 || page2.NextPage != nil {
		t.Fatalf("second page: %d repositories, next_page %v", len(page2.Repositories), page2.NextPage)
	}
}

func TestGetRepository(t *testing.T) {
	e, org := rtWorld(t)
	pub := rtRepo(e, "acme", "pub", true)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "dave", "write")
	rtManifest(e, priv, "1", "v1", "latest")
	team := rtTeam(e, org, "ops", store.TeamMember, "carol")
	if err := e.store.SetTeamPermission(context.Background(), priv.ID, team.ID, "read"); err != nil {
		t.Fatal(err)
	}
	_ = pub
	cases := []struct {
		who, path string
		want      int
		write     bool
		admin     bool
	}{
		{"", "acme/pub", 200, false, false},
		{"dave", "acme/pub", 200, false, false},
		{"alice", "acme/pub", 200, true, true},
		{"", "acme/priv", 401, false, false},
		{"bob", "acme/priv", 403, false, false},
		{"carol", "acme/missing", 403, false, false},
		{"bob", "nobody/missing", 403, false, false},
		{"carol", "acme/priv", 200, false, false},
		{"dave", "acme/priv", 200, true, false},
		{"alice", "acme/priv", 200, true, true},
		{"root", "acme/priv", 200, true, true},
		{"root", "acme/missing", 404, false, false},
	}
	for _, tc := range cases {
		var out map[string]any
		if got := e.call("GET", "/api/v1/repository/"+tc.path, tc.who, nil, &out); got != tc.want {
			t.Errorf("GET %s as %q: %d, want %d: %v", tc.path, tc.who, got, tc.want, out)
			continue
		}
		if tc.want != 200 {
			continue
		}
		if out["can_write"] != tc.write || out["can_admin"] != tc.admin {
			t.Errorf("GET %s as %q: can_write %v can_admin %v", tc.path, tc.who, out["can_write"], out["can_admin"])
		}
	}
	// No leak: an outsider is refused alike on a private and on a missing repository.
	var privErr, missErr map[string]any
	e.must(403, "GET", "/api/v1/repository/acme/priv", "bob", nil, &privErr)
	e.must(403, "GET", "/api/v1/repository/dave/missing", "bob", nil, &missErr)
	if privErr["error_type"] != missErr["error_type"] || privErr["title"] != missErr["title"] {
		t.Errorf("private %v vs missing %v", privErr, missErr)
	}
	var out map[string]any
	e.must(200, "GET", "/api/v1/repository/acme/priv", "dave", nil, &out)
	for k, v := range map[string]any{"namespace": "acme", "name": "priv", "kind": "image", "is_public": false,
		"is_organization": true, "is_starred": false, "state": "NORMAL", "trust_enabled": false, "status_token": ""} {
		if out[k] != v {
			t.Errorf("%s = %v, want %v", k, out[k], v)
		}
	}
	tags, _ := out["tags"].(map[string]any)
	latest, _ := tags["latest"].(map[string]any)
	if len(tags) != 2 || latest["manifest_digest"] == nil || latest["size"] != float64(357) || latest["last_modified"] == nil {
		t.Errorf("tags = %v", out["tags"])
	}
	if out["tag_expiration_s"] != float64(14*24*3600) {
		t.Errorf("tag_expiration_s = %v, want two weeks (Quay's default)", out["tag_expiration_s"])
	}
	out = nil
	e.must(200, "GET", "/api/v1/repository/acme/priv?includeTags=false", "dave", nil, &out)
	if _, ok := out["tags"]; ok {
		t.Error("tags despite includeTags=false")
	}
}

func TestUpdateRepository(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "carol", "read")
	rtGrant(e, priv, "dave", "write")
	rtRepo(e, "acme", "pub", true)
	d := map[string]any{"description": "new words"}
	e.must(401, "PUT", "/api/v1/repository/acme/priv", "", d, nil)
	e.must(403, "PUT", "/api/v1/repository/acme/priv", "bob", d, nil)
	e.must(403, "PUT", "/api/v1/repository/acme/missing", "carol", d, nil)
	e.must(403, "PUT", "/api/v1/repository/acme/pub", "bob", d, nil)
	e.must(403, "PUT", "/api/v1/repository/acme/priv", "carol", d, nil)
	e.must(403, "PUT", "/api/v1/repository/acme/priv", rtToken(e, "alice", "repo:read"), d, nil)
	e.must(400, "PUT", "/api/v1/repository/acme/priv", "dave", map[string]any{}, nil)
	var out map[string]any
	e.must(200, "PUT", "/api/v1/repository/acme/priv", "dave", d, &out)
	if out["success"] != true {
		t.Fatalf("answer %v", out)
	}
	r, _ := e.store.Repository(context.Background(), "acme", "priv")
	if r.Description != "new words" {
		t.Fatalf("description %q", r.Description)
	}
	m := rtLastLog(t, e, "set_repo_description", 1, "dave", "acme/priv")
	if m["description"] != "new words" || m["repo"] != "priv" || m["namespace"] != "acme" {
		t.Fatalf("metadata %v", m)
	}
}

func TestChangeVisibility(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "dave", "write")
	path := "/api/v1/repository/acme/priv/changevisibility"
	pub := map[string]any{"visibility": "public"}
	e.must(401, "POST", path, "", pub, nil)
	e.must(403, "POST", path, "bob", pub, nil)
	e.must(403, "POST", "/api/v1/repository/acme/missing/changevisibility", "carol", pub, nil)
	e.must(403, "POST", path, "dave", pub, nil)
	e.must(400, "POST", path, "alice", map[string]any{"visibility": "open"}, nil)
	var out map[string]any
	e.must(200, "POST", path, "alice", pub, &out)
	if out["success"] != true {
		t.Fatalf("answer %v", out)
	}
	e.must(200, "GET", "/api/v1/repository/acme/priv", "", nil, nil)
	e.must(200, "POST", path, "root", map[string]any{"visibility": "private"}, nil)
	e.must(401, "GET", "/api/v1/repository/acme/priv", "", nil, nil)
	rows := e.logs("change_repo_visibility")
	if len(rows) != 2 || rows[0].Performer != "alice" || rtMeta(t, rows[0])["visibility"] != "public" ||
		rows[1].Performer != "root" || rtMeta(t, rows[1])["visibility"] != "private" || rows[1].Repository != "priv" {
		t.Fatalf("change_repo_visibility rows %+v", rows)
	}
}

func TestDeleteRepository(t *testing.T) {
	e, _ := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "dave", "write")
	rtManifest(e, priv, "1", "latest")
	rtRepo(e, "dave", "own", false)
	e.must(401, "DELETE", "/api/v1/repository/acme/priv", "", nil, nil)
	e.must(403, "DELETE", "/api/v1/repository/acme/priv", "bob", nil, nil)
	e.must(403, "DELETE", "/api/v1/repository/acme/missing", "carol", nil, nil)
	e.must(403, "DELETE", "/api/v1/repository/acme/priv", "dave", nil, nil)
	e.must(403, "DELETE", "/api/v1/repository/acme/priv", rtToken(e, "alice", "repo:write"), nil, nil)
	if got := e.call("DELETE", "/api/v1/repository/acme/priv", "alice", nil, nil); got != http.StatusNoContent {
		t.Fatalf("delete: %d", got)
	}
	if _, err := e.store.Repository(context.Background(), "acme", "priv"); err == nil {
		t.Fatal("repository still there")
	}
	e.must(404, "DELETE", "/api/v1/repository/acme/priv", "alice", nil, nil)
	e.must(204, "DELETE", "/api/v1/repository/dave/own", "root", nil, nil)
	rows := e.logs("delete_repo")
	if len(rows) != 2 || rows[0].Performer != "alice" || rtMeta(t, rows[0])["repo"] != "priv" || rows[1].Performer != "root" {
		t.Fatalf("delete_repo rows %+v", rows)
	}
}

func TestRepositoryRoutesInDiscovery(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	e.must(200, "GET", "/api/v1/discovery", "", nil, &doc)
	for path, ops := range map[string]map[string]string{
		"/api/v1/repository":                                                      {"get": "listRepos", "post": "createRepo"},
		"/api/v1/repository/{repository}":                                         {"get": "getRepo", "put": "updateRepo", "delete": "deleteRepository"},
		"/api/v1/repository/{repository}/changevisibility":                        {"post": "changeRepoVisibility"},
		"/api/v1/repository/{repository}/tag/":                                    {"get": "listRepoTags"},
		"/api/v1/repository/{repository}/tag/{tag}":                               {"put": "changeTag", "delete": "deleteFullTag"},
		"/api/v1/repository/{repository}/tag/{tag}/restore":                       {"post": "restoreTag"},
		"/api/v1/repository/{repository}/permissions/user/{username}":             {"get": "getUserPermissions", "put": "changeUserPermissions", "delete": "deleteUserPermissions"},
		"/api/v1/organization/{orgname}/prototypes":                               {"get": "getOrganizationPrototypePermissions", "post": "createOrganizationPrototypePermission"},
		"/api/v1/repository/{repository}/manifest/{manifestref}/labels/{labelid}": {"get": "getManifestLabel", "delete": "deleteManifestLabel"},
	} {
		for method, op := range ops {
			if got := doc.Paths[path][method].OperationID; got != op {
				t.Errorf("%s %s: operationId %q, want %q", method, path, got, op)
			}
		}
	}
}
