package api_test

import (
	"context"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestRepositoryUserPermissions(t *testing.T) {
	e, org := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "dave", "write")
	if _, _, err := e.auth.CreateRobot(context.Background(), org.ID, "acme+ci", "", "secret"); err != nil {
		t.Fatal(err)
	}
	dave, _ := e.store.UserByName(context.Background(), "dave")
	if _, _, err := e.auth.CreateRobot(context.Background(), dave.ID, "dave+bot", "", "secret2"); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/repository/acme/priv/permissions/user/"

	// Only admins of the repository manage its permissions.
	for _, tc := range []struct {
		who  string
		want int
	}{{"", 401}, {"bob", 403}, {"carol", 403}, {"dave", 403}, {rtToken(e, "alice", "repo:write"), 403}} {
		e.must(tc.want, "GET", base, tc.who, nil, nil)
		e.must(tc.want, "PUT", base+"carol", tc.who, map[string]any{"role": "read"}, nil)
		e.must(tc.want, "DELETE", base+"dave", tc.who, nil, nil)
	}
	e.must(403, "GET", "/api/v1/repository/acme/missing/permissions/user/", "carol", nil, nil)

	// Add, change, read, list.
	var perm map[string]any
	e.must(200, "PUT", base+"carol", "alice", map[string]any{"role": "read"}, &perm)
	if perm["name"] != "carol" || perm["role"] != "read" || perm["is_robot"] != false || perm["is_org_member"] != true || perm["avatar"] == nil {
		t.Fatalf("PUT answer %v", perm)
	}
	e.must(200, "PUT", base+"carol", "root", map[string]any{"role": "write"}, nil)
	e.must(200, "PUT", base+"acme+ci", "alice", map[string]any{"role": "read"}, nil)
	e.must(200, "GET", base+"carol", rtToken(e, "alice", "repo:admin"), nil, &perm)
	if perm["role"] != "write" {
		t.Fatalf("GET answer %v", perm)
	}
	var list struct {
		Permissions map[string]map[string]any `json:"permissions"`
	}
	e.must(200, "GET", base, "alice", nil, &list)
	if len(list.Permissions) != 3 || list.Permissions["dave"]["role"] != "write" || list.Permissions["dave"]["is_org_member"] != false ||
		list.Permissions["acme+ci"]["is_robot"] != true || list.Permissions["acme+ci"]["is_org_member"] != true {
		t.Fatalf("list %v", list.Permissions)
	}
	// carol's grant takes effect at once.
	e.must(200, "GET", "/api/v1/repository/acme/priv/tag/", "carol", nil, nil)

	// Refusals of bad input.
	for _, tc := range []struct {
		user string
		body any
	}{
		{"carol", map[string]any{"role": "owner"}},
		{"ghost", map[string]any{"role": "read"}},
		{"acme", map[string]any{"role": "read"}},
		{"dave+bot", map[string]any{"role": "read"}},
	} {
		e.must(400, "PUT", base+tc.user, "alice", tc.body, nil)
	}
	e.must(404, "GET", base+"bob", "alice", nil, nil)
	e.must(400, "DELETE", base+"bob", "alice", nil, nil)

	// Delete.
	e.must(204, "DELETE", base+"carol", "alice", nil, nil)
	e.must(403, "GET", "/api/v1/repository/acme/priv/tag/", "carol", nil, nil)

	add := e.logs("add_repo_permission")
	if len(add) != 2 || add[0].Performer != "alice" || rtMeta(t, add[0])["username"] != "carol" || rtMeta(t, add[0])["role"] != "read" ||
		add[0].Repository != "priv" || rtMeta(t, add[1])["username"] != "acme+ci" {
		t.Fatalf("add_repo_permission rows %+v", add)
	}
	m := rtLastLog(t, e, "change_repo_permission", 1, "root", "acme/priv")
	if m["username"] != "carol" || m["role"] != "write" || m["original_role"] != "read" {
		t.Fatalf("change_repo_permission %v", m)
	}
	m = rtLastLog(t, e, "delete_repo_permission", 1, "alice", "acme/priv")
	if m["username"] != "carol" {
		t.Fatalf("delete_repo_permission %v", m)
	}

	// In a user namespace there is no is_org_member.
	own := rtRepo(e, "dave", "own", false)
	_ = own
	perm = nil
	e.must(200, "PUT", "/api/v1/repository/dave/own/permissions/user/carol", "dave", map[string]any{"role": "read"}, &perm)
	if _, ok := perm["is_org_member"]; ok {
		t.Fatalf("is_org_member in a user namespace: %v", perm)
	}
	e.must(400, "PUT", "/api/v1/repository/dave/own/permissions/user/dave", "dave", map[string]any{"role": "read"}, nil)
	e.must(200, "PUT", "/api/v1/repository/dave/own/permissions/user/dave+bot", "dave", map[string]any{"role": "write"}, nil)
}

func TestRepositoryTeamPermissions(t *testing.T) {
	e, org := rtWorld(t)
	priv := rtRepo(e, "acme", "priv", false)
	rtGrant(e, priv, "dave", "write")
	rtTeam(e, org, "ops", store.TeamMember, "dave")
	other := e.user("erin")
	_ = other
	rtOrg(e, "globex", "erin")
	rtTeam(e, store.Namespace{ID: rtNSID(t, e, "globex")}, "spies", store.TeamMember)
	base := "/api/v1/repository/acme/priv/permissions/team/"

	for _, tc := range []struct {
		who  string
		want int
	}{{"", 401}, {"bob", 403}, {"dave", 403}} {
		e.must(tc.want, "GET", base, tc.who, nil, nil)
		e.must(tc.want, "PUT", base+"readers", tc.who, map[string]any{"role": "read"}, nil)
		e.must(tc.want, "DELETE", base+"readers", tc.who, nil, nil)
	}

	var perm map[string]any
	e.must(200, "PUT", base+"readers", "alice", map[string]any{"role": "read"}, &perm)
	if perm["name"] != "readers" || perm["role"] != "read" || perm["avatar"] == nil {
		t.Fatalf("PUT answer %v", perm)
	}
	// carol is in readers: she may read now.
	e.must(200, "GET", "/api/v1/repository/acme/priv", "carol", nil, nil)
	e.must(200, "PUT", base+"readers", "alice", map[string]any{"role": "admin"}, nil)
	e.must(200, "GET", base+"readers", "carol", nil, &perm)
	if perm["role"] != "admin" {
		t.Fatalf("GET answer %v", perm)
	}
	var list struct {
		Permissions map[string]map[string]any `json:"permissions"`
	}
	e.must(200, "GET", base, "alice", nil, &list)
	if len(list.Permissions) != 1 || list.Permissions["readers"]["role"] != "admin" {
		t.Fatalf("list %v", list.Permissions)
	}
	e.must(400, "PUT", base+"readers", "alice", map[string]any{"role": "boss"}, nil)
	e.must(400, "PUT", base+"spies", "alice", map[string]any{"role": "read"}, nil)
	e.must(400, "PUT", base+"nope", "alice", map[string]any{"role": "read"}, nil)
	e.must(404, "GET", base+"ops", "alice", nil, nil)
	e.must(400, "DELETE", base+"ops", "alice", nil, nil)
	rtRepo(e, "dave", "own", false)
	e.must(400, "PUT", "/api/v1/repository/dave/own/permissions/team/ops", "dave", map[string]any{"role": "read"}, nil)

	e.must(204, "DELETE", base+"readers", "root", nil, nil)
	e.must(403, "GET", "/api/v1/repository/acme/priv", "carol", nil, nil)

	m := rtLastLog(t, e, "add_repo_permission", 1, "alice", "acme/priv")
	if m["team"] != "readers" || m["role"] != "read" {
		t.Fatalf("add_repo_permission %v", m)
	}
	m = rtLastLog(t, e, "change_repo_permission", 1, "alice", "acme/priv")
	if m["team"] != "readers" || m["role"] != "admin" || m["original_role"] != "read" {
		t.Fatalf("change_repo_permission %v", m)
	}
	m = rtLastLog(t, e, "delete_repo_permission", 1, "root", "acme/priv")
	if m["team"] != "readers" {
		t.Fatalf("delete_repo_permission %v", m)
	}
}

func rtNSID(t *testing.T, e *env, name string) int64 {
	t.Helper()
	ns, err := e.store.Namespace(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ns.ID
}
