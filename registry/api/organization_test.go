package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func TestAcctOrgCreate(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.user("bob")

	var out any
	e.must(http.StatusCreated, "POST", "/api/v1/organization/", "alice", map[string]any{"name": "acme", "email": "ops@acme.test"}, acctFresh(&out))
	if out != "Created" {
		t.Errorf("answer %v, want \"Created\"", out)
	}
	row, meta := acctOneLog(e, "org_create")
	if row.Performer != "alice" || row.Account != "acme" || meta["email"] != "ops@acme.test" || meta["namespace"] != "acme" {
		t.Errorf("org_create: %+v %v", row, meta)
	}
	org, err := e.store.Namespace(context.Background(), "acme")
	if err != nil || org.Kind != store.KindOrg || org.Email != "ops@acme.test" {
		t.Fatalf("org: %+v %v", org, err)
	}
	if role, _ := e.auth.OrgRole(context.Background(), auth.Identity{User: &alice}, org.ID); role != store.TeamAdmin {
		t.Errorf("creator's role %q, want admin", role)
	}

	for name, tc := range map[string]struct {
		who    as
		body   map[string]any
		status int
	}{
		"anonymous":     {"", map[string]any{"name": "anon"}, http.StatusUnauthorized},
		"taken by org":  {"bob", map[string]any{"name": "acme"}, http.StatusBadRequest},
		"taken by user": {"bob", map[string]any{"name": "alice"}, http.StatusBadRequest},
		"bad name":      {"bob", map[string]any{"name": "Not Valid"}, http.StatusBadRequest},
		"no name":       {"bob", map[string]any{}, http.StatusBadRequest},
		"bad email":     {"bob", map[string]any{"name": "bobco", "email": "nope"}, http.StatusBadRequest},
		"scope":         {acctToken(e, alice, auth.ScopeRepoRead), map[string]any{"name": "tokco"}, http.StatusForbidden},
	} {
		if st := e.call("POST", "/api/v1/organization/", tc.who, tc.body, nil); st != tc.status {
			t.Errorf("%s: status %d, want %d", name, st, tc.status)
		}
	}
	if len(e.logs("org_create")) != 1 {
		t.Error("refused creations were logged")
	}
}

func TestAcctOrgGet(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	e.user("carol")
	e.user("root")
	org := acctOrg(e, "acme", alice)
	acctTeam(e, org, "devs", store.TeamMember, bob)
	acctTeam(e, org, "ops", store.TeamCreator)

	var admin map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme", "alice", nil, acctFresh(&admin))
	acctKeys(t, "org", admin, "name", "email", "avatar", "is_admin", "is_member", "teams", "ordered_teams", "invoice_email", "tag_expiration_s")
	if admin["email"] != "acme@example.test" || admin["is_admin"] != true || admin["is_member"] != true {
		t.Errorf("admin view: %v", admin)
	}
	teams := admin["teams"].(map[string]any)
	if len(teams) != 3 || len(admin["ordered_teams"].([]any)) != 3 {
		t.Fatalf("teams: %v", teams)
	}
	owners := teams["owners"].(map[string]any)
	acctKeys(t, "team", owners, "name", "description", "role", "avatar", "can_view", "repo_count", "member_count", "is_synced")
	if owners["role"] != "admin" || owners["member_count"] != float64(1) || owners["can_view"] != true || owners["is_synced"] != false {
		t.Errorf("owners: %v", owners)
	}

	var member map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme", "bob", nil, acctFresh(&member))
	if member["email"] != "" || member["is_admin"] != false || member["is_member"] != true {
		t.Errorf("member view: %v", member)
	}
	if _, ok := member["tag_expiration_s"]; ok {
		t.Errorf("member sees admin fields: %v", member)
	}
	mteams := member["teams"].(map[string]any)
	if mteams["devs"].(map[string]any)["can_view"] != true || mteams["owners"].(map[string]any)["can_view"] != false {
		t.Errorf("member's can_view: %v", mteams)
	}

	for _, who := range []as{"carol", ""} {
		var outsider map[string]any
		e.must(http.StatusOK, "GET", "/api/v1/organization/acme", who, nil, acctFresh(&outsider))
		if outsider["name"] != "acme" || outsider["email"] != "" || outsider["is_member"] != false || outsider["teams"] != nil {
			t.Errorf("outsider %q view: %v", who, outsider)
		}
	}

	var root map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme", "root", nil, acctFresh(&root))
	if root["is_admin"] != true || root["email"] != "acme@example.test" {
		t.Errorf("superuser view: %v", root)
	}

	e.must(http.StatusNotFound, "GET", "/api/v1/organization/nope", "alice", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/bob", "alice", nil, nil)

	// An OAuth token without org:admin is not treated as an admin.
	var scoped map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme", acctToken(e, alice, auth.ScopeRepoRead), nil, acctFresh(&scoped))
	if scoped["is_admin"] != false || scoped["email"] != "" {
		t.Errorf("repo:read token view: %v", scoped)
	}

	// Without anonymous access, anonymous callers must sign in.
	e2 := newEnvWith(t, envOptions{})
	a2 := e2.user("alice")
	acctOrg(e2, "acme", a2)
	e2.must(http.StatusUnauthorized, "GET", "/api/v1/organization/acme", "", nil, nil)
}

func TestAcctOrgChange(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	e.user("root")
	org := acctOrg(e, "acme", alice)
	acctTeam(e, org, "devs", store.TeamMember, bob)

	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/acme", "bob", map[string]any{"email": "b@acme.test"}, nil)
	e.must(http.StatusUnauthorized, "PUT", "/api/v1/organization/acme", "", map[string]any{"email": "b@acme.test"}, nil)
	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/acme", acctToken(e, alice, auth.ScopeUserAdmin), map[string]any{"email": "b@acme.test"}, nil)
	e.must(http.StatusBadRequest, "PUT", "/api/v1/organization/acme", "alice", map[string]any{"email": "nope"}, nil)
	acctNoLog(e, "org_change_email")

	var view map[string]any
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme", "alice", map[string]any{"email": "new@acme.test"}, acctFresh(&view))
	if view["email"] != "new@acme.test" || view["is_admin"] != true {
		t.Errorf("view: %v", view)
	}
	row, meta := acctOneLog(e, "org_change_email")
	if row.Performer != "alice" || row.Account != "acme" || meta["email"] != "new@acme.test" || meta["old_email"] != "acme@example.test" {
		t.Errorf("org_change_email: %+v %v", row, meta)
	}
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme", "root", map[string]any{"email": "root@acme.test"}, nil)
	e.must(http.StatusNotFound, "PUT", "/api/v1/organization/ghost", "root", map[string]any{"email": "root@acme.test"}, nil)
	e.must(http.StatusForbidden, "PUT", "/api/v1/organization/ghost", "alice", map[string]any{"email": "root@acme.test"}, nil)
}

func TestAcctOrgDelete(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	e.user("root")
	org := acctOrg(e, "acme", alice)
	acctTeam(e, org, "devs", store.TeamMember, bob)
	acctRepo(e, "acme", "app", false)

	e.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme", "bob", nil, nil)
	e.must(http.StatusUnauthorized, "DELETE", "/api/v1/organization/acme", "", nil, nil)
	acctNoLog(e, "org_delete")
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme", "alice", nil, nil)
	row, meta := acctOneLog(e, "org_delete")
	if row.Performer != "alice" || row.Account != "acme" || meta["namespace"] != "acme" {
		t.Errorf("org_delete: %+v %v", row, meta)
	}
	if _, err := e.store.Namespace(context.Background(), "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("org still there: %v", err)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme", "alice", nil, nil)

	acctOrg(e, "other", bob)
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/other", "root", nil, nil)
}

func TestAcctOrgMembers(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	e.user("dave")
	e.user("root")
	ctx := context.Background()
	org := acctOrg(e, "acme", alice)
	robot, _, err := e.auth.CreateRobot(ctx, org.ID, "acme+ci", "", "")
	if err != nil {
		t.Fatal(err)
	}
	acctTeam(e, org, "devs", store.TeamMember, bob, carol, robot)
	repo := acctRepo(e, "acme", "app", false)
	if err := e.store.SetUserPermission(ctx, repo.ID, bob.ID, store.RoleWrite); err != nil {
		t.Fatal(err)
	}

	var list struct {
		Members []map[string]any `json:"members"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/members", "alice", nil, acctFresh(&list))
	if len(list.Members) != 3 {
		t.Fatalf("members (robots excluded): %v", list.Members)
	}
	got := map[string]map[string]any{}
	for _, m := range list.Members {
		acctKeys(t, "member", m, "name", "kind", "avatar", "teams", "repositories")
		got[m["name"].(string)] = m
	}
	if b := got["bob"]; b == nil || b["kind"] != "user" || len(b["teams"].([]any)) != 1 || len(b["repositories"].([]any)) != 1 ||
		b["repositories"].([]any)[0] != "app" {
		t.Errorf("bob: %v", b)
	}
	if a := got["alice"]; a == nil || a["teams"].([]any)[0].(map[string]any)["name"] != "owners" {
		t.Errorf("alice: %v", a)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/members", "bob", nil, nil)
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/members", "dave", nil, nil)
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/members", "root", nil, nil)

	var one map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/members/bob", "alice", nil, acctFresh(&one))
	if one["name"] != "bob" || one["kind"] != "user" || len(one["repositories"].([]any)) != 1 {
		t.Errorf("member bob: %v", one)
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/members/acme+ci", "alice", nil, acctFresh(&one))
	if one["kind"] != "robot" {
		t.Errorf("member robot: %v", one)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/members/dave", "alice", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/members/nobody", "alice", nil, nil)
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/members/bob", "carol", nil, nil)

	// Removal.
	e.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme/members/carol", "bob", nil, nil)
	e.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/members/alice", "alice", nil, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/organization/acme/members/dave", "alice", nil, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/organization/acme/members/nobody", "alice", nil, nil)
	acctNoLog(e, "org_remove_member")
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme/members/bob", "alice", nil, nil)
	row, meta := acctOneLog(e, "org_remove_member")
	if row.Performer != "alice" || row.Account != "acme" || meta["member"] != "bob" {
		t.Errorf("org_remove_member: %+v %v", row, meta)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/members/bob", "alice", nil, nil)
	perms, err := e.store.AccountRepoPermissions(ctx, bob.ID)
	if err != nil || len(perms) != 0 {
		t.Errorf("bob keeps permissions: %v %v", perms, err)
	}
	// The former member lost access at once (no cached login keeps it).
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme", "bob", nil, acctFresh(&one))
	if one["is_member"] != false {
		t.Errorf("removed member still a member: %v", one)
	}
}

// TestAcctPostgres runs the endpoints with queries of their own on PostgreSQL.
func TestAcctPostgres(t *testing.T) {
	e := newEnvWith(t, envOptions{
		auth:     auth.Options{AppTokens: true, SuperUsersEnabled: true, SuperUsers: []string{"root"}},
		postgres: true,
	})
	alice := e.user("alice")
	bob := e.user("bob")
	ctx := context.Background()
	e.must(http.StatusCreated, "POST", "/api/v1/organization/", "alice", map[string]any{"name": "acme"}, nil)
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs", "alice", map[string]any{"role": "member"}, nil)
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs/members/bob", "alice", nil, nil)
	repo := acctRepo(e, "acme", "app", false)
	if err := e.store.SetUserPermission(ctx, repo.ID, bob.ID, store.RoleRead); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Members []map[string]any `json:"members"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/members", "alice", nil, &list)
	if len(list.Members) != 2 {
		t.Errorf("members: %v", list.Members)
	}
	e.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/members/alice", "alice", nil, nil)
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme/members/bob", "alice", nil, nil)
	e.must(http.StatusBadRequest, "PUT", "/api/v1/user/", "bob", map[string]any{"email": "ALICE@example.test"}, nil)
	cookie, _ := acctSession(e, alice)
	e.must(http.StatusOK, "PUT", "/api/v1/user/", "alice", map[string]any{"password": "another-password"}, nil)
	if st, _ := acctSessionCall(e, "GET", "/api/v1/user/", cookie, "", "", nil); st != http.StatusUnauthorized {
		t.Errorf("session after password change: %d", st)
	}
	e.must(http.StatusCreated, "PUT", "/api/v1/organization/acme/robots/ci", "basic:alice:another-password", nil, nil)
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/robots?permissions=true", "basic:alice:another-password", nil, nil)
}
