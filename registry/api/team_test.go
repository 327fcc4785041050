package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func TestAcctTeamPut(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	e.user("root")
	org := acctOrg(e, "acme", alice)
	acctTeam(e, org, "devs", store.TeamMember, bob)

	var view map[string]any
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/builders", "alice", map[string]any{"role": "creator", "description": "CI"}, acctFresh(&view))
	acctKeys(t, "team", view, "name", "description", "can_view", "role", "avatar", "new_team")
	if view["name"] != "builders" || view["role"] != "creator" || view["description"] != "CI" || view["new_team"] != true {
		t.Errorf("new team: %v", view)
	}
	row, meta := acctOneLog(e, "org_create_team")
	if row.Performer != "alice" || row.Account != "acme" || meta["team"] != "builders" {
		t.Errorf("org_create_team: %+v %v", row, meta)
	}

	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/builders", "alice", map[string]any{"role": "admin"}, acctFresh(&view))
	if view["role"] != "admin" || view["description"] != "CI" || view["new_team"] != false {
		t.Errorf("updated team: %v", view)
	}
	row, meta = acctOneLog(e, "org_set_team_role")
	if meta["team"] != "builders" || meta["role"] != "admin" {
		t.Errorf("org_set_team_role: %+v %v", row, meta)
	}
	acctNoLog(e, "org_set_team_description")
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/builders", "alice", map[string]any{"description": "Build bots"}, acctFresh(&view))
	if _, meta := acctOneLog(e, "org_set_team_description"); meta["description"] != "Build bots" {
		t.Errorf("org_set_team_description: %v", meta)
	}
	if len(e.logs("org_set_team_role")) != 1 {
		t.Error("unchanged role logged")
	}

	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/fromroot", "root", map[string]any{"role": "member"}, nil)

	for name, tc := range map[string]struct {
		who    as
		path   string
		body   map[string]any
		status int
	}{
		"member":        {"bob", "/api/v1/organization/acme/team/x1", map[string]any{"role": "member"}, http.StatusForbidden},
		"anonymous":     {"", "/api/v1/organization/acme/team/x1", map[string]any{"role": "member"}, http.StatusUnauthorized},
		"bad role":      {"alice", "/api/v1/organization/acme/team/x1", map[string]any{"role": "boss"}, http.StatusBadRequest},
		"bad name":      {"alice", "/api/v1/organization/acme/team/Bad_Name", map[string]any{"role": "member"}, http.StatusBadRequest},
		"short name":    {"alice", "/api/v1/organization/acme/team/x", map[string]any{"role": "member"}, http.StatusBadRequest},
		"no org":        {"alice", "/api/v1/organization/ghost/team/x1", map[string]any{"role": "member"}, http.StatusForbidden},
		"token scope":   {acctToken(e, alice, auth.ScopeUserAdmin), "/api/v1/organization/acme/team/x1", map[string]any{"role": "member"}, http.StatusForbidden},
		"demote owners": {"alice", "/api/v1/organization/acme/team/owners", map[string]any{"role": "member"}, http.StatusBadRequest},
	} {
		if st := e.call("PUT", tc.path, tc.who, tc.body, nil); st != tc.status {
			t.Errorf("%s: status %d, want %d", name, st, tc.status)
		}
	}
	if len(e.logs("org_create_team")) != 2 {
		t.Errorf("refused creations logged: %v", e.logs("org_create_team"))
	}

	// With another admin team the caller is in, owners may be demoted.
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/builders/members/alice", "alice", nil, nil)
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/owners", "alice", map[string]any{"role": "creator"}, acctFresh(&view))
	if view["role"] != "creator" {
		t.Errorf("owners: %v", view)
	}
}

func TestAcctTeamDelete(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	e.user("root")
	e.user("dave")
	org := acctOrg(e, "acme", alice)
	acctTeam(e, org, "devs", store.TeamMember, bob)
	acctTeam(e, org, "admins2", store.TeamAdmin, bob)

	e.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme/team/devs", "dave", nil, nil)
	e.must(http.StatusUnauthorized, "DELETE", "/api/v1/organization/acme/team/devs", "", nil, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/organization/acme/team/ghosts", "alice", nil, nil)
	// alice's only admin team.
	e.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/team/owners", "alice", nil, nil)
	acctNoLog(e, "org_delete_team")

	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme/team/devs", "alice", nil, nil)
	row, meta := acctOneLog(e, "org_delete_team")
	if row.Performer != "alice" || row.Account != "acme" || meta["team"] != "devs" {
		t.Errorf("org_delete_team: %+v %v", row, meta)
	}
	if _, err := e.store.Team(context.Background(), org.ID, "devs"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("team still there: %v", err)
	}

	// bob (admin through admins2) deletes owners; then admins2 is the last admin team.
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme/team/owners", "bob", nil, nil)
	e.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/team/admins2", "root", nil, nil)
	e.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme/team/admins2", "alice", nil, nil)
}

func TestAcctTeamMembers(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	e.user("dave")
	e.user("root")
	ctx := context.Background()
	org := acctOrg(e, "acme", alice)
	acctTeam(e, org, "devs", store.TeamMember)
	acctTeam(e, org, "ops", store.TeamMember, carol)
	if _, _, err := e.auth.CreateRobot(ctx, org.ID, "acme+ci", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.auth.CreateRobot(ctx, bob.ID, "bob+bot", "", ""); err != nil {
		t.Fatal(err)
	}

	var member map[string]any
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs/members/bob", "alice", nil, acctFresh(&member))
	acctKeys(t, "member", member, "name", "kind", "is_robot", "avatar", "invited")
	if member["name"] != "bob" || member["is_robot"] != false || member["invited"] != false {
		t.Errorf("added member: %v", member)
	}
	row, meta := acctOneLog(e, "org_add_team_member")
	if row.Performer != "alice" || row.Account != "acme" || meta["member"] != "bob" || meta["team"] != "devs" {
		t.Errorf("org_add_team_member: %+v %v", row, meta)
	}
	e.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs/members/acme+ci", "alice", nil, acctFresh(&member))
	if member["is_robot"] != true {
		t.Errorf("robot member: %v", member)
	}
	for name, tc := range map[string]struct {
		who, member as
		status      int
	}{
		"unknown user":    {"alice", "nobody", http.StatusBadRequest},
		"foreign robot":   {"alice", "bob+bot", http.StatusBadRequest},
		"an organization": {"alice", "acme", http.StatusBadRequest},
		"not admin":       {"bob", "dave", http.StatusForbidden},
		"anonymous":       {"", "dave", http.StatusUnauthorized},
	} {
		if st := e.call("PUT", "/api/v1/organization/acme/team/devs/members/"+tc.member, tc.who, nil, nil); st != tc.status {
			t.Errorf("%s: status %d, want %d", name, st, tc.status)
		}
	}
	e.must(http.StatusNotFound, "PUT", "/api/v1/organization/acme/team/ghosts/members/dave", "alice", nil, nil)
	if n := len(e.logs("org_add_team_member")); n != 2 {
		t.Errorf("%d org_add_team_member rows, want 2", n)
	}

	// Listing: admins and the team's members; carol (in another team) is refused.
	var list struct {
		Name    string           `json:"name"`
		Members []map[string]any `json:"members"`
		CanEdit bool             `json:"can_edit"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/team/devs/members", "alice", nil, acctFresh(&list))
	if list.Name != "devs" || len(list.Members) != 2 || !list.CanEdit {
		t.Errorf("admin's list: %+v", list)
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/team/devs/members", "bob", nil, acctFresh(&list))
	if list.CanEdit || len(list.Members) != 2 {
		t.Errorf("member's list: %+v", list)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/team/devs/members", "carol", nil, nil)
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/team/devs/members", "dave", nil, nil)
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/team/devs/members", "root", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/team/ghosts/members", "alice", nil, nil)

	// Removal.
	e.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme/team/devs/members/bob", "bob", nil, nil)
	e.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/team/devs/members/dave", "alice", nil, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/organization/acme/team/devs/members/nobody", "alice", nil, nil)
	e.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/team/owners/members/alice", "alice", nil, nil)
	acctNoLog(e, "org_remove_team_member")
	e.must(http.StatusNoContent, "DELETE", "/api/v1/organization/acme/team/devs/members/bob", "alice", nil, nil)
	row, meta = acctOneLog(e, "org_remove_team_member")
	if row.Performer != "alice" || meta["member"] != "bob" || meta["team"] != "devs" {
		t.Errorf("org_remove_team_member: %+v %v", row, meta)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/team/devs/members", "bob", nil, nil)
}

func TestAcctTeamPermissions(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	bob := e.user("bob")
	ctx := context.Background()
	org := acctOrg(e, "acme", alice)
	devs := acctTeam(e, org, "devs", store.TeamMember, bob)
	app := acctRepo(e, "acme", "app", true)
	lib := acctRepo(e, "acme", "lib", false)
	if err := e.store.SetTeamPermission(ctx, app.ID, devs.ID, store.RoleWrite); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetTeamPermission(ctx, lib.ID, devs.ID, store.RoleRead); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Permissions []struct {
			Repository struct {
				Name     string `json:"name"`
				IsPublic bool   `json:"is_public"`
			} `json:"repository"`
			Role string `json:"role"`
		} `json:"permissions"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/organization/acme/team/devs/permissions", "alice", nil, acctFresh(&out))
	if len(out.Permissions) != 2 || out.Permissions[0].Repository.Name != "app" || !out.Permissions[0].Repository.IsPublic ||
		out.Permissions[0].Role != "write" || out.Permissions[1].Role != "read" || out.Permissions[1].Repository.IsPublic {
		t.Errorf("permissions: %+v", out)
	}
	e.must(http.StatusForbidden, "GET", "/api/v1/organization/acme/team/devs/permissions", "bob", nil, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/organization/acme/team/ghosts/permissions", "alice", nil, nil)
}

// acctDirectory is an LDAP directory in memory: users log in with NAME-password, groups
// are listed in groups.
type acctDirectory struct {
	groups map[string][]string
}

func (d acctDirectory) Verify(ctx context.Context, login, password string) (auth.ExternalUser, error) {
	if password != login+"-password" {
		return auth.ExternalUser{}, auth.ErrBadCredentials
	}
	return auth.ExternalUser{ID: login, Username: login, Email: login + "@example.test"}, nil
}

func (d acctDirectory) Lookup(ctx context.Context, username string) (auth.ExternalUser, error) {
	return auth.ExternalUser{ID: username, Username: username}, nil
}

func (d acctDirectory) GroupMembers(ctx context.Context, group string) ([]auth.ExternalUser, error) {
	members, ok := d.groups[group]
	if !ok {
		return nil, errors.New("group " + group + " not found")
	}
	var out []auth.ExternalUser
	for _, m := range members {
		out = append(out, auth.ExternalUser{ID: m, Username: m})
	}
	return out, nil
}

func TestAcctTeamSync(t *testing.T) {
	// Database authentication: nothing to sync with.
	e := newEnv(t)
	alice := e.user("alice")
	e.user("root")
	acctTeam(e, acctOrg(e, "acme", alice), "devs", store.TeamMember)
	e.must(http.StatusBadRequest, "POST", "/api/v1/organization/acme/team/devs/syncing", "root", map[string]any{"group_dn": "cn=devs"}, nil)
	acctNoLog(e, "enable_team_sync")

	// FEATURE_TEAM_SYNCING off.
	off := newEnvWith(t, envOptions{auth: auth.Options{SuperUsersEnabled: true, SuperUsers: []string{"root"}}})
	off.user("root")
	off.must(http.StatusNotFound, "POST", "/api/v1/organization/acme/team/devs/syncing", "root", map[string]any{"group_dn": "cn=devs"}, nil)
	off.must(http.StatusNotFound, "DELETE", "/api/v1/organization/acme/team/devs/syncing", "root", nil, nil)

	// LDAP: users come from the directory on first login.
	var mu sync.Mutex
	var synced []string
	l := newEnvWith(t, envOptions{
		auth: auth.Options{AuthenticationType: auth.AuthLDAP, Directory: acctDirectory{groups: map[string][]string{"cn=devs": {"bob"}}},
			SuperUsersEnabled: true, SuperUsers: []string{"root"}},
		api: api.Options{TeamSyncing: true, SyncTeam: func(r *http.Request, team store.Team) error {
			mu.Lock()
			defer mu.Unlock()
			synced = append(synced, team.Name+"="+team.SyncGroup)
			return nil
		}},
	})
	l.must(http.StatusCreated, "POST", "/api/v1/organization/", "alice", map[string]any{"name": "acme"}, nil)
	l.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs", "alice", map[string]any{"role": "member"}, nil)
	l.must(http.StatusOK, "GET", "/api/v1/user/", "bob", nil, nil)
	ctx := context.Background()
	org, err := l.store.Namespace(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.auth.CreateRobot(ctx, org.ID, "acme+ci", "", ""); err != nil {
		t.Fatal(err)
	}

	// Only superusers set syncing up (Quay's default).
	l.must(http.StatusForbidden, "POST", "/api/v1/organization/acme/team/devs/syncing", "alice", map[string]any{"group_dn": "cn=devs"}, nil)
	l.must(http.StatusForbidden, "POST", "/api/v1/organization/acme/team/devs/syncing", "bob", map[string]any{"group_dn": "cn=devs"}, nil)
	l.must(http.StatusBadRequest, "POST", "/api/v1/organization/acme/team/devs/syncing", "root", map[string]any{}, nil)
	l.must(http.StatusBadRequest, "POST", "/api/v1/organization/acme/team/devs/syncing", "root", map[string]any{"group_dn": "cn=nope"}, nil)
	l.must(http.StatusNotFound, "POST", "/api/v1/organization/acme/team/ghosts/syncing", "root", map[string]any{"group_dn": "cn=devs"}, nil)
	acctNoLog(l, "enable_team_sync")

	var view map[string]any
	l.must(http.StatusOK, "POST", "/api/v1/organization/acme/team/devs/syncing", "root", map[string]any{"group_dn": "cn=devs"}, acctFresh(&view))
	if view["name"] != "devs" || view["is_synced"] != true {
		t.Errorf("synced team: %v", view)
	}
	row, meta := acctOneLog(l, "enable_team_sync")
	if row.Performer != "root" || row.Account != "acme" || meta["team"] != "devs" || meta["group_dn"] != "cn=devs" {
		t.Errorf("enable_team_sync: %+v %v", row, meta)
	}
	mu.Lock()
	if len(synced) != 1 || synced[0] != "devs=cn=devs" {
		t.Errorf("SyncTeam calls: %v", synced)
	}
	mu.Unlock()

	// Manual membership changes of people are refused; robots are still managed by hand.
	var fail map[string]any
	l.must(http.StatusBadRequest, "PUT", "/api/v1/organization/acme/team/devs/members/bob", "alice", nil, acctFresh(&fail))
	if !strings.Contains(fail["error_message"].(string), "auth-synced") {
		t.Errorf("refusal: %v", fail)
	}
	l.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/team/devs/members/bob", "alice", nil, nil)
	l.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs/members/acme+ci", "alice", nil, nil)

	var members map[string]any
	l.must(http.StatusOK, "GET", "/api/v1/organization/acme/team/devs/members", "root", nil, acctFresh(&members))
	syncedInfo, _ := members["synced"].(map[string]any)
	if syncedInfo == nil || syncedInfo["service"] != "ldap" || syncedInfo["config"].(map[string]any)["group_dn"] != "cn=devs" || members["can_sync"] == nil {
		t.Errorf("members of synced team: %v", members)
	}
	l.must(http.StatusOK, "GET", "/api/v1/organization/acme/team/devs/members", "alice", nil, acctFresh(&members))
	if s, _ := members["synced"].(map[string]any); s == nil || s["config"] != nil || members["can_sync"] != nil {
		t.Errorf("admin's view of synced team: %v", members)
	}

	l.must(http.StatusForbidden, "DELETE", "/api/v1/organization/acme/team/devs/syncing", "alice", nil, nil)
	acctNoLog(l, "disable_team_sync")
	l.must(http.StatusOK, "DELETE", "/api/v1/organization/acme/team/devs/syncing", "root", nil, acctFresh(&view))
	if view["is_synced"] != false {
		t.Errorf("unsynced team: %v", view)
	}
	row, meta = acctOneLog(l, "disable_team_sync")
	if row.Performer != "root" || meta["team"] != "devs" {
		t.Errorf("disable_team_sync: %+v %v", row, meta)
	}
	l.must(http.StatusBadRequest, "DELETE", "/api/v1/organization/acme/team/devs/syncing", "root", nil, nil)
	l.must(http.StatusOK, "PUT", "/api/v1/organization/acme/team/devs/members/bob", "alice", nil, nil)
}
