package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func TestAcctUserRobots(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.user("bob")
	ctx := context.Background()

	var robot map[string]any
	e.must(http.StatusCreated, "PUT", "/api/v1/user/robots/ci", "alice", map[string]any{"description": "CI pushes"}, acctFresh(&robot))
	acctKeys(t, "robot", robot, "name", "description", "created", "last_accessed", "token", "unstructured_metadata")
	token, _ := robot["token"].(string)
	if robot["name"] != "alice+ci" || robot["description"] != "CI pushes" || len(token) != 64 || robot["last_accessed"] != nil {
		t.Errorf("created robot: %v", robot)
	}
	row, meta := acctOneLog(e, "create_robot")
	if row.Performer != "alice" || row.Account != "alice" || meta["robot"] != "ci" || meta["description"] != "CI pushes" {
		t.Errorf("create_robot: %+v %v", row, meta)
	}
	// No body at all is fine.
	e.must(http.StatusCreated, "PUT", "/api/v1/user/robots/deployer", "alice", nil, nil)

	for name, tc := range map[string]struct {
		who    as
		path   string
		body   any
		status int
	}{
		"exists":      {"alice", "/api/v1/user/robots/ci", nil, http.StatusBadRequest},
		"bad name":    {"alice", "/api/v1/user/robots/Bad", nil, http.StatusBadRequest},
		"plus":        {"alice", "/api/v1/user/robots/a+b", nil, http.StatusBadRequest},
		"short":       {"alice", "/api/v1/user/robots/x", nil, http.StatusBadRequest},
		"long desc":   {"alice", "/api/v1/user/robots/verbose", map[string]any{"description": string(make([]byte, 256))}, http.StatusBadRequest},
		"bad json":    {"alice", "/api/v1/user/robots/broken", "not an object", http.StatusBadRequest},
		"anonymous":   {"", "/api/v1/user/robots/anon", nil, http.StatusUnauthorized},
		"token scope": {acctToken(e, alice, auth.ScopeUserRead), "/api/v1/user/robots/scoped", nil, http.StatusForbidden},
	} {
		if st := e.call("PUT", tc.path, tc.who, tc.body, nil); st != tc.status {
			t.Errorf("%s: status %d, want %d", name, st, tc.status)
		}
	}
	if n := len(e.logs("create_robot")); n != 2 {
		t.Errorf("%d create_robot rows, want 2", n)
	}

	var list struct {
		Robots []map[string]any `json:"robots"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/robots", "alice", nil, acctFresh(&list))
	if len(list.Robots) != 2 || list.Robots[0]["name"] != "alice+ci" || list.Robots[0]["token"] != token {
		t.Errorf("list: %v", list.Robots)
	}
	if _, ok := list.Robots[0]["repositories"]; ok {
		t.Errorf("permissions without ?permissions: %v", list.Robots[0])
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/robots?token=false&permissions=true&limit=1", "alice", nil, acctFresh(&list))
	if len(list.Robots) != 1 || list.Robots[0]["token"] != nil || list.Robots[0]["repositories"] == nil {
		t.Errorf("list without tokens: %v", list.Robots)
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/robots", "bob", nil, acctFresh(&list))
	if len(list.Robots) != 0 {
		t.Errorf("bob sees robots: %v", list.Robots)
	}
	e.must(http.StatusBadRequest, "GET", "/api/v1/user/robots?limit=-1", "alice", nil, nil)

	e.must(http.StatusOK, "GET", "/api/v1/user/robots/ci", "alice", nil, acctFresh(&robot))
	if robot["token"] != token || robot["name"] != "alice+ci" {
		t.Errorf("robot: %v", robot)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/user/robots/ci", "bob", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/user/robots/nope", "alice", nil, nil)

	// Permissions.
	repo := acctRepo(e, "alice", "app", false)
	rb, err := e.store.Account(ctx, "alice+ci")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetUserPermission(ctx, repo.ID, rb.ID, store.RoleWrite); err != nil {
		t.Fatal(err)
	}
	var perms struct {
		Permissions []map[string]any `json:"permissions"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/robots/ci/permissions", "alice", nil, acctFresh(&perms))
	if len(perms.Permissions) != 1 || perms.Permissions[0]["role"] != "write" ||
		perms.Permissions[0]["repository"].(map[string]any)["name"] != "app" || perms.Permissions[0]["repository"].(map[string]any)["is_public"] != false {
		t.Errorf("permissions: %v", perms)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/user/robots/ci/permissions", "bob", nil, nil)

	// Regenerate.
	e.must(http.StatusNotFound, "POST", "/api/v1/user/robots/ci/regenerate", "bob", nil, nil)
	acctNoLog(e, "regenerate_robot_token")
	e.must(http.StatusOK, "POST", "/api/v1/user/robots/ci/regenerate", "alice", nil, acctFresh(&robot))
	if nt, _ := robot["token"].(string); nt == token || len(nt) != 64 {
		t.Errorf("regenerated token: %v", robot)
	}
	row, meta = acctOneLog(e, "regenerate_robot_token")
	if row.Performer != "alice" || meta["robot"] != "ci" {
		t.Errorf("regenerate_robot_token: %+v %v", row, meta)
	}

	// Delete.
	e.must(http.StatusNotFound, "DELETE", "/api/v1/user/robots/ci", "bob", nil, nil)
	acctNoLog(e, "delete_robot")
	e.must(http.StatusNoContent, "DELETE", "/api/v1/user/robots/ci", "alice", nil, nil)
	row, meta = acctOneLog(e, "delete_robot")
	if row.Performer != "alice" || row.Account != "alice" || meta["robot"] != "ci" {
		t.Errorf("delete_robot: %+v %v", row, meta)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/user/robots/ci", "alice", nil, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/user/robots/ci", "alice", nil, nil)
}

func TestAcctOrgRobots(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	e.user("carol")
	e.user("root")
	ctx := context.Background()
	org := acctOrg(e, "acme", alice)
	devs := acctTeam(e, org, "devs", store.TeamMember, bob)

	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/acme/robots/ci", "bob", nil, nil)
	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/acme/robots/ci", "carol", nil, nil)
	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/acme/robots/ci", acctToken(e, alice, auth.ScopeUserAdmin), nil, nil)
	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/ghost/robots/ci", "alice", nil, nil)
	e.must(http.StatusNotFound, "PUT", "/api/v1/organization/ghost/robots/ci", "root", nil, nil)
	acctNoLog(e, "create_robot")

	var robot map[string]any
	e.must(http.StatusCreated, "PUT", "/api/v1/organization/acme/robots/ci", "alice", map[string]any{"description": "builds"}, acctFresh(&robot))
	token, _ := robot["token"].(string)
	if robot["name"] != "acme+ci" || len(token) != 64 {
		t.Errorf("created: %v", robot)
	}
	row, meta := acctOneLog(e, "create_robot")
	if row.Performer != "alice" || row.Account != "acme" || meta["robot"] != "ci" {
		t.Errorf("create_robot: %+v %v", row, meta)
	}
	e.must(http.StatusCreated, "PUT", "/api/v1/organization/acme/robots/rootbot", acctToken(e, alice, auth.ScopeOrgAdmin), nil, nil)
	e.must(http.StatusCreated, "PUT", "/api/v1/organization/acme/robots/viaroot", "root", nil, nil)
	e.must(http.StatusBadRequest, "PUT", "/api/v1/organization/acme/robots/ci", "alice", nil, nil)

	rb, err := e.store.Account(ctx, "acme+ci")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddTeamMember(ctx, devs.ID, rb.ID); err != nil {
		t.Fatal(err)
	}
	repo := acctRepo(e, "acme", "app", true)
	if err := e.store.SetUserPermission(ctx, repo.ID, rb.ID, store.RoleRead); err != nil {
		t.Fatal(err)
	}

	// Members list robots without tokens; admins with them; outsiders not at all.
	var list struct {
		Robots []map[string]any `json:"robots"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/robots?permissions=true", "alice", nil, acctFresh(&list))
	if len(list.Robots) != 3 || list.Robots[0]["name"] != "acme+ci" || list.Robots[0]["token"] != token {
		t.Fatalf("admin list: %v", list.Robots)
	}
	teams := list.Robots[0]["teams"].([]any)
	repos := list.Robots[0]["repositories"].([]any)
	if len(teams) != 1 || teams[0].(map[string]any)["name"] != "devs" || len(repos) != 1 || repos[0] != "app" {
		t.Errorf("robot teams and repositories: %v", list.Robots[0])
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/robots?permissions=true", "bob", nil, acctFresh(&list))
	if len(list.Robots) != 3 || list.Robots[0]["token"] != nil || list.Robots[0]["teams"] != nil {
		t.Errorf("member list: %v", list.Robots)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/robots", "carol", nil, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/v1/organization/acme/robots", "", nil, nil)
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/robots", "root", nil, acctFresh(&list))
	if list.Robots[0]["token"] != token {
		t.Errorf("superuser list: %v", list.Robots)
	}

	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/robots/ci", "alice", nil, acctFresh(&robot))
	if robot["token"] != token || robot["description"] != "builds" {
		t.Errorf("robot: %v", robot)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/robots/ci", "bob", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/robots/nope", "alice", nil, nil)

	var perms struct {
		Permissions []map[string]any `json:"permissions"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/robots/ci/permissions", "alice", nil, acctFresh(&perms))
	if len(perms.Permissions) != 1 || perms.Permissions[0]["role"] != "read" || perms.Permissions[0]["repository"].(map[string]any)["is_public"] != true {
		t.Errorf("permissions: %v", perms)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/robots/ci/permissions", "bob", nil, nil)

	e.must(http.StatusForbidden, "POST", "/api/v1/organization/acme/robots/ci/regenerate", "bob", nil, nil)
	acctNoLog(e, "regenerate_robot_token")
	e.must(http.StatusOK, "POST", "/api/v1/organization/acme/robots/ci/regenerate", "root", nil, acctFresh(&robot))
	if robot["token"] == token {
		t.Errorf("token not regenerated: %v", robot)
	}
	row, meta = acctOneLog(e, "regenerate_robot_token")
	if row.Performer != "root" || row.Account != "acme" || meta["robot"] != "ci" {
		t.Errorf("regenerate_robot_token: %+v %v", row, meta)
	}

	e.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme/robots/ci", "bob", nil, nil)
	acctNoLog(e, "delete_robot")
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme/robots/ci", "alice", nil, nil)
	row, meta = acctOneLog(e, "delete_robot")
	if row.Performer != "alice" || row.Account != "acme" || meta["robot"] != "ci" {
		t.Errorf("delete_robot: %+v %v", row, meta)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/robots/ci", "alice", nil, nil)
	if members, err := e.store.TeamMembers(ctx, devs.ID); err != nil || len(members) != 1 {
		t.Errorf("deleted robot still in team: %v %v", members, err)
	}

	// A user's robot is not reachable as an organization's.
	e.must(http.StatusCreated, "PUT", "/api/v1/user/robots/mine", "alice", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/robots/mine", "alice", nil, nil)
}

// TestAcctRobotTokenLogin checks end to end that a robot's token is its password, and that
// regenerating the token or deleting the robot locks the old token out at once.
func TestAcctRobotTokenLogin(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	ctx := context.Background()
	var robot map[string]any
	e.must(http.StatusCreated, "PUT", "/api/v1/user/robots/ci", "alice", nil, acctFresh(&robot))
	oldToken := robot["token"].(string)

	id, err := e.auth.Login(ctx, "alice+ci", oldToken, auth.LoginContext{Registry: true})
	if err != nil || id.User == nil || id.User.Name != "alice+ci" || !id.Robot() {
		t.Fatalf("robot login: %+v %v", id, err)
	}
	// Robots cannot use the REST API itself.
	e.must(http.StatusForbidden, "GET", "/api/v1/user/", "basic:alice+ci:"+oldToken, nil, nil)

	// The database holds the token encrypted, never in clear.
	rb, err := e.store.Account(ctx, "alice+ci")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.RobotToken(ctx, rb.ID)
	if err != nil || strings.Contains(stored, oldToken) || len(stored) <= len(oldToken) {
		t.Errorf("stored robot token %q (%v) holds the token %q in clear", stored, err, oldToken)
	}

	e.must(http.StatusOK, "POST", "/api/v1/user/robots/ci/regenerate", "alice", nil, acctFresh(&robot))
	newToken := robot["token"].(string)
	if _, err := e.auth.Login(ctx, "alice+ci", oldToken, auth.LoginContext{Registry: true}); err == nil {
		t.Error("the old token still logs in after regenerate")
	}
	if _, err := e.auth.Login(ctx, "alice+ci", newToken, auth.LoginContext{Registry: true}); err != nil {
		t.Errorf("the new token: %v", err)
	}

	e.must(http.StatusNoContent, "DELETE", "/api/v1/user/robots/ci", "alice", nil, nil)
	if _, err := e.auth.Login(ctx, "alice+ci", newToken, auth.LoginContext{Registry: true}); err == nil {
		t.Error("a deleted robot still logs in")
	}
}
