package api_test

import (
	"context"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestPrototypes(t *testing.T) {
	e, org := rtWorld(t)
	rtTeam(e, org, "ops", store.TeamMember)
	base := "/api/v1/organization/acme/prototypes"
	teamRule := map[string]any{"role": "write", "delegate": map[string]any{"name": "ops", "kind": "team"}}
	userRule := map[string]any{"role": "read", "delegate": map[string]any{"name": "dave", "kind": "user"},
		"activating_user": map[string]any{"name": "bob"}}

	// Organization admins (and superusers) only.
	for _, tc := range []struct {
		who  string
		want int
	}{{"", 401}, {"bob", 403}, {"carol", 403}, {"dave", 403}, {rtToken(e, "alice", "repo:admin"), 403}} {
		e.must(tc.want, "GET", base, tc.who, nil, nil)
		e.must(tc.want, "POST", base, tc.who, teamRule, nil)
	}
	e.must(403, "GET", "/api/v1/organization/ghost/prototypes", "dave", nil, nil)

	var team, user map[string]any
	e.must(200, "POST", base, "alice", teamRule, &team)
	e.must(200, "POST", base, rtToken(e, "root", "org:admin", "super:user"), userRule, &user)
	if team["role"] != "write" || team["id"] == "" || team["activating_user"] != nil {
		t.Fatalf("team rule %v", team)
	}
	if d := team["delegate"].(map[string]any); d["name"] != "ops" || d["kind"] != "team" {
		t.Fatalf("team delegate %v", d)
	}
	if d := user["delegate"].(map[string]any); d["name"] != "dave" || d["kind"] != "user" || d["is_robot"] != false || d["is_org_member"] != false {
		t.Fatalf("user delegate %v", d)
	}
	if au := user["activating_user"].(map[string]any); au["name"] != "bob" || au["is_org_member"] != true {
		t.Fatalf("activating user %v", au)
	}
	var list struct {
		Prototypes []map[string]any `json:"prototypes"`
	}
	e.must(200, "GET", base, "alice", nil, &list)
	if len(list.Prototypes) != 2 || list.Prototypes[0]["id"] != team["id"] || list.Prototypes[1]["id"] != user["id"] {
		t.Fatalf("list %v", list.Prototypes)
	}

	// Bad input.
	for _, body := range []map[string]any{
		{"role": "owner", "delegate": map[string]any{"name": "ops", "kind": "team"}},
		{"role": "read", "delegate": map[string]any{"name": "nope", "kind": "team"}},
		{"role": "read", "delegate": map[string]any{"name": "ghost", "kind": "user"}},
		{"role": "read", "delegate": map[string]any{"name": "ops", "kind": "robot"}},
		{"role": "read"},
		{"role": "read", "delegate": map[string]any{"name": "ops", "kind": "team"}, "activating_user": map[string]any{"name": "ghost"}},
	} {
		e.must(400, "POST", base, "alice", body, nil)
	}

	// Repositories created afterwards get the delegates' roles: bob (a creator) activates
	// both rules, alice (an admin) only the team one.
	e.must(201, "POST", "/api/v1/repository", "bob", map[string]any{"namespace": "acme", "repository": "byb", "visibility": "private", "description": ""}, nil)
	e.must(201, "POST", "/api/v1/repository", "alice", map[string]any{"namespace": "acme", "repository": "bya", "visibility": "private", "description": ""}, nil)
	var perms struct {
		Permissions map[string]map[string]any `json:"permissions"`
	}
	e.must(200, "GET", "/api/v1/repository/acme/byb/permissions/user/", "alice", nil, &perms)
	if len(perms.Permissions) != 2 || perms.Permissions["dave"]["role"] != "read" || perms.Permissions["bob"]["role"] != "admin" {
		t.Fatalf("acme/byb user permissions %v", perms.Permissions)
	}
	perms.Permissions = nil
	e.must(200, "GET", "/api/v1/repository/acme/byb/permissions/team/", "alice", nil, &perms)
	if len(perms.Permissions) != 1 || perms.Permissions["ops"]["role"] != "write" {
		t.Fatalf("acme/byb team permissions %v", perms.Permissions)
	}
	perms.Permissions = nil
	e.must(200, "GET", "/api/v1/repository/acme/bya/permissions/user/", "alice", nil, &perms)
	if len(perms.Permissions) != 0 {
		t.Fatalf("acme/bya user permissions %v", perms.Permissions)
	}
	e.must(200, "GET", "/api/v1/repository/acme/byb", "dave", nil, nil)

	// Update and delete.
	id := team["id"].(string)
	e.must(403, "PUT", base+"/"+id, "bob", map[string]any{"role": "admin"}, nil)
	e.must(400, "PUT", base+"/"+id, "alice", map[string]any{"role": "root"}, nil)
	e.must(404, "PUT", base+"/no-such-id", "alice", map[string]any{"role": "admin"}, nil)
	var upd map[string]any
	e.must(200, "PUT", base+"/"+id, "alice", map[string]any{"role": "admin"}, &upd)
	if upd["role"] != "admin" || upd["id"] != id {
		t.Fatalf("update %v", upd)
	}
	e.must(403, "DELETE", base+"/"+id, "carol", nil, nil)
	e.must(204, "DELETE", base+"/"+id, "alice", nil, nil)
	e.must(404, "DELETE", base+"/"+id, "alice", nil, nil)
	// Another organization's prototype is not reachable through acme.
	rtOrg(e, "globex", "dave")
	var foreign map[string]any
	e.must(200, "POST", "/api/v1/organization/globex/prototypes", "dave", map[string]any{"role": "read",
		"delegate": map[string]any{"name": "carol", "kind": "user"}}, &foreign)
	e.must(404, "DELETE", base+"/"+foreign["id"].(string), "alice", nil, nil)
	if ps, _ := e.store.Prototypes(context.Background(), org.ID); len(ps) != 1 {
		t.Fatalf("%d prototypes left", len(ps))
	}

	rows := e.logs("create_prototype_permission")
	if len(rows) != 3 || rows[0].Performer != "alice" || rows[0].Account != "acme" || rows[1].Performer != "root" {
		t.Fatalf("create_prototype_permission rows %+v", rows)
	}
	if m := rtMeta(t, rows[0]); m["delegate_team"] != "ops" || m["role"] != "write" || m["prototypeid"] != id {
		t.Fatalf("create metadata %v", m)
	}
	if m := rtMeta(t, rows[1]); m["delegate_user"] != "dave" || m["activating_username"] != "bob" {
		t.Fatalf("create metadata %v", m)
	}
	m := rtLastLog(t, e, "modify_prototype_permission", 1, "alice", "")
	if m["role"] != "admin" || m["original_role"] != "write" {
		t.Fatalf("modify metadata %v", m)
	}
	m = rtLastLog(t, e, "delete_prototype_permission", 1, "alice", "")
	if m["prototypeid"] != id || m["delegate_team"] != "ops" {
		t.Fatalf("delete metadata %v", m)
	}
}
