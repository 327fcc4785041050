package api_test

import (
	"context"
	"testing"

	"github.com/wharf-registry/wharf/registry/auth"
)

type superUserView struct {
	Kind              string         `json:"kind"`
	Name              string         `json:"name"`
	Username          string         `json:"username"`
	Email             string         `json:"email"`
	Verified          bool           `json:"verified"`
	SuperUser         bool           `json:"super_user"`
	Enabled           bool           `json:"enabled"`
	Avatar            map[string]any `json:"avatar"`
	EncryptedPassword string         `json:"encrypted_password"`
}

// canLogin reports whether name signs in with secret.
func canLogin(e *env, name, secret string) bool {
	e.auth.Forget()
	_, err := e.auth.Login(context.Background(), name, secret, auth.LoginContext{IP: "192.0.2.1", Kind: "api"})
	return err == nil
}

func TestSuperuserUsers(t *testing.T) {
	e := newEnv(t)
	root := e.user("root")
	e.user("alice")

	var list struct {
		Users []superUserView `json:"users"`
	}
	e.must(200, "GET", "/api/v1/superuser/users/", "root", nil, &list)
	if len(list.Users) != 2 || list.Users[0].Username != "alice" || list.Users[0].Kind != "user" || !list.Users[0].Enabled ||
		list.Users[0].SuperUser || list.Users[0].Email != "alice@example.test" || list.Users[0].Avatar["kind"] != "user" || !list.Users[1].SuperUser {
		t.Fatalf("users: %+v", list.Users)
	}
	for _, tc := range []struct {
		who  as
		want int
	}{
		{"alice", 403}, {"", 401}, {adminToken(e, root, auth.ScopeUserAdmin, auth.ScopeOrgAdmin), 403}, {adminToken(e, root, auth.ScopeSuperUser), 200},
	} {
		if got := e.call("GET", "/api/v1/superuser/users/", tc.who, nil, nil); got != tc.want {
			t.Errorf("list as %s: %d, want %d", tc.who, got, tc.want)
		}
	}

	// Create a user with a generated password.
	var created struct {
		Username, Email, Password string
		EncryptedPassword         string `json:"encrypted_password"`
	}
	if got := e.call("POST", "/api/v1/superuser/users/", "alice", map[string]string{"username": "carol"}, nil); got != 403 {
		t.Fatalf("create as alice: %d", got)
	}
	e.must(200, "POST", "/api/v1/superuser/users/", "root", map[string]string{"username": "carol", "email": "carol@example.test"}, &created)
	if created.Username != "carol" || created.Email != "carol@example.test" || created.Password == "" || created.EncryptedPassword == "" {
		t.Fatalf("created: %+v", created)
	}
	if !canLogin(e, "carol", created.Password) || !canLogin(e, "carol", created.EncryptedPassword) {
		t.Fatal("the generated password does not sign in")
	}
	if rows := e.logs("user_create"); len(rows) != 1 || rows[0].Account != "carol" || rows[0].Performer != "root" {
		t.Fatalf("user_create rows: %+v", rows)
	}
	e.must(400, "POST", "/api/v1/superuser/users/", "root", map[string]string{"username": "carol"}, nil)
	e.must(400, "POST", "/api/v1/superuser/users/", "root", map[string]string{"username": "Not Valid"}, nil)

	var one superUserView
	e.must(200, "GET", "/api/v1/superuser/users/carol", "root", nil, &one)
	if one.Username != "carol" || one.Email != "carol@example.test" {
		t.Fatalf("get: %+v", one)
	}
	e.must(404, "GET", "/api/v1/superuser/users/nobody", "root", nil, nil)
	e.must(403, "GET", "/api/v1/superuser/users/carol", "alice", nil, nil)

	// Change password, e-mail, enabled, superuser.
	e.must(403, "PUT", "/api/v1/superuser/users/carol", "alice", map[string]any{"password": "new-password-1"}, nil)
	e.must(400, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"password": "short"}, nil)
	e.must(200, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"password": "new-password-1"}, &one)
	if one.EncryptedPassword == "" || !canLogin(e, "carol", "new-password-1") || canLogin(e, "carol", created.Password) {
		t.Fatalf("password change: %+v", one)
	}
	if rows := e.logs("user_change_password"); len(rows) != 1 || rows[0].Account != "carol" || rows[0].Performer != "root" {
		t.Fatalf("user_change_password rows: %+v", rows)
	}
	e.must(200, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"email": "c@example.test"}, &one)
	if one.Email != "c@example.test" {
		t.Fatalf("email change: %+v", one)
	}
	if rows := e.logs("user_change_email"); len(rows) != 1 || rows[0].Metadata != `{"email":"c@example.test","old_email":"carol@example.test","superuser":"root","username":"carol"}` {
		t.Fatalf("user_change_email rows: %+v", rows)
	}
	e.must(200, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"enabled": false}, &one)
	if one.Enabled || canLogin(e, "carol", "new-password-1") {
		t.Fatalf("disable: %+v", one)
	}
	e.must(200, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"enabled": true}, &one)
	if !one.Enabled || !canLogin(e, "carol", "new-password-1") {
		t.Fatalf("enable: %+v", one)
	}
	if len(e.logs("user_disable")) != 1 || len(e.logs("user_enable")) != 1 {
		t.Fatal("user_disable / user_enable rows missing")
	}
	e.must(200, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"superuser": true}, &one)
	if !one.SuperUser {
		t.Fatalf("grant superuser: %+v", one)
	}
	e.must(200, "GET", "/api/v1/superuser/users/", "basic:carol:new-password-1", nil, nil)
	// Superusers are not managed here, except taking the database flag away.
	e.must(400, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"email": "x@example.test"}, nil)
	e.must(400, "DELETE", "/api/v1/superuser/users/carol", "root", nil, nil)
	e.must(200, "PUT", "/api/v1/superuser/users/carol", "root", map[string]any{"superuser": false}, &one)
	if one.SuperUser {
		t.Fatalf("revoke superuser: %+v", one)
	}
	if len(e.logs("user_grant_superuser")) != 1 || len(e.logs("user_revoke_superuser")) != 1 {
		t.Fatal("superuser change rows missing")
	}
	e.must(400, "PUT", "/api/v1/superuser/users/root", "root", map[string]any{"superuser": false}, nil)
	e.must(400, "PUT", "/api/v1/superuser/users/root", "root", map[string]any{"password": "another-password"}, nil)

	// Delete.
	e.must(403, "DELETE", "/api/v1/superuser/users/carol", "alice", nil, nil)
	e.must(204, "DELETE", "/api/v1/superuser/users/carol", "root", nil, nil)
	e.must(404, "GET", "/api/v1/superuser/users/carol", "root", nil, nil)
	e.must(404, "DELETE", "/api/v1/superuser/users/carol", "root", nil, nil)
	e.must(400, "DELETE", "/api/v1/superuser/users/root", "root", nil, nil)
	if rows := e.logs("user_delete"); len(rows) != 1 || rows[0].Account != "carol" || rows[0].Performer != "root" {
		t.Fatalf("user_delete rows: %+v", rows)
	}
	if canLogin(e, "carol", "new-password-1") {
		t.Fatal("a deleted user signs in")
	}
}

func TestSuperuserOrganizations(t *testing.T) {
	e := newEnv(t)
	e.user("root")
	alice := e.user("alice")
	adminOrg(e, "acme", alice)
	adminOrg(e, "beta", alice)

	var list struct {
		Organizations []struct {
			Name   string         `json:"name"`
			Email  string         `json:"email"`
			Avatar map[string]any `json:"avatar"`
		} `json:"organizations"`
	}
	e.must(200, "GET", "/api/v1/superuser/organizations/", "root", nil, &list)
	if len(list.Organizations) != 2 || list.Organizations[0].Name != "acme" || list.Organizations[0].Email != "acme@example.test" ||
		list.Organizations[0].Avatar["kind"] != "org" {
		t.Fatalf("organizations: %+v", list)
	}
	e.must(403, "GET", "/api/v1/superuser/organizations/", "alice", nil, nil)

	e.must(200, "PUT", "/api/v1/superuser/organizations/acme", "root", map[string]string{"name": "acme"}, nil)
	e.must(400, "PUT", "/api/v1/superuser/organizations/acme", "root", map[string]string{"name": "other"}, nil)
	e.must(403, "PUT", "/api/v1/superuser/organizations/acme", "alice", map[string]string{"name": "acme"}, nil)
	e.must(404, "PUT", "/api/v1/superuser/organizations/alice", "root", map[string]string{}, nil)

	e.must(403, "DELETE", "/api/v1/superuser/organizations/beta", "alice", nil, nil)
	e.must(404, "DELETE", "/api/v1/superuser/organizations/nope", "root", nil, nil)
	e.must(404, "DELETE", "/api/v1/superuser/organizations/alice", "root", nil, nil)
	e.must(204, "DELETE", "/api/v1/superuser/organizations/beta", "root", nil, nil)
	e.must(200, "GET", "/api/v1/superuser/organizations/", "root", nil, &list)
	if len(list.Organizations) != 1 {
		t.Fatalf("after delete: %+v", list)
	}
	if rows := e.logs("org_delete"); len(rows) != 1 || rows[0].Account != "beta" || rows[0].Performer != "root" {
		t.Fatalf("org_delete rows: %+v", rows)
	}
}
