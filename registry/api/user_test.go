package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// Helpers shared by the user, organization, team and robot tests.

// acctToken issues an OAuth token for u and returns it as a caller.
func acctToken(e *env, u store.User, scopes ...string) as {
	e.t.Helper()
	tok, err := e.auth.IssueOAuthToken(context.Background(), u, 0, scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return "bearer:" + tok
}

// acctOrg creates an organization administered by admin.
func acctOrg(e *env, name string, admin store.User) store.Namespace {
	e.t.Helper()
	org, err := e.store.CreateOrganization(context.Background(), name, name+"@example.test", admin.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return org
}

// acctTeam creates a team with members.
func acctTeam(e *env, org store.Namespace, name, role string, members ...store.User) store.Team {
	e.t.Helper()
	ctx := context.Background()
	t, err := e.store.PutTeam(ctx, org.ID, name, role, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		if err := e.store.AddTeamMember(ctx, t.ID, m.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return t
}

// acctRepo creates a repository.
func acctRepo(e *env, ns, name string, public bool) store.Repository {
	e.t.Helper()
	r, err := e.store.CreateRepository(context.Background(), store.NewRepository{Namespace: ns, Name: name, Public: public})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// acctOneLog checks that exactly one audit row of a kind exists and returns it with its
// metadata.
func acctOneLog(e *env, kind string) (store.LogEntry, map[string]any) {
	e.t.Helper()
	rows := e.logs(kind)
	if len(rows) != 1 {
		e.t.Fatalf("%d %s audit rows, want 1: %+v", len(rows), kind, rows)
	}
	meta := map[string]any{}
	if err := json.Unmarshal([]byte(rows[0].Metadata), &meta); err != nil {
		e.t.Fatalf("%s metadata %q: %v", kind, rows[0].Metadata, err)
	}
	return rows[0], meta
}

// acctNoLog checks that no audit row of a kind exists.
func acctNoLog(e *env, kind string) {
	e.t.Helper()
	if rows := e.logs(kind); len(rows) != 0 {
		e.t.Fatalf("unexpected %s audit rows: %+v", kind, rows)
	}
}

// acctKeys checks that a JSON object has the keys.
func acctKeys(t *testing.T, what string, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, obj)
		}
	}
}

// acctSession signs u in to the web UI and returns the session cookie and CSRF token.
func acctSession(e *env, u store.User) (*http.Cookie, string) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	csrf, err := e.auth.StartSession(context.Background(), rec, httptest.NewRequest("GET", "/", nil), u)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == auth.SessionCookie {
			return c, csrf
		}
	}
	e.t.Fatal("no session cookie")
	return nil, ""
}

// acctSessionCall makes a request with a session cookie (and CSRF header when not empty).
func acctSessionCall(e *env, method, path string, cookie *http.Cookie, csrf string, body string, out any) (int, *http.Response) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.AddCookie(cookie)
	if csrf != "" {
		req.Header.Set(auth.CSRFHeader, csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("decode %q: %v", raw, err)
		}
	}
	return resp.StatusCode, resp
}

func TestAcctUserGet(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.user("root")
	bob := e.user("bob")
	acctOrg(e, "acme", alice)
	org2 := acctOrg(e, "other", bob)
	acctTeam(e, org2, "builders", store.TeamCreator, alice)

	e.must(http.StatusUnauthorized, "GET", "/api/v1/user/", "", nil, nil)

	var me map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/user/", "alice", nil, acctFresh(&me))
	acctKeys(t, "user", me, "username", "email", "verified", "anonymous", "avatar", "super_user", "can_create_repo", "is_me",
		"organizations", "logins", "prompts", "invoice_email", "tag_expiration_s")
	if me["username"] != "alice" || me["email"] != "alice@example.test" || me["anonymous"] != false || me["super_user"] != false ||
		me["is_me"] != true || me["invoice_email"] != false {
		t.Errorf("user view: %v", me)
	}
	if _, ok := me["csrf_token"]; ok {
		t.Errorf("csrf_token without a session: %v", me)
	}
	avatar := me["avatar"].(map[string]any)
	acctKeys(t, "avatar", avatar, "name", "hash", "color", "kind")
	if avatar["name"] != "alice" || avatar["kind"] != "user" {
		t.Errorf("avatar: %v", avatar)
	}
	orgs := me["organizations"].([]any)
	if len(orgs) != 2 {
		t.Fatalf("organizations: %v", orgs)
	}
	byName := map[string]map[string]any{}
	for _, o := range orgs {
		m := o.(map[string]any)
		acctKeys(t, "organization", m, "name", "avatar", "is_org_admin", "can_create_repo", "public", "preferred_namespace")
		byName[m["name"].(string)] = m
	}
	if byName["acme"]["is_org_admin"] != true || byName["acme"]["can_create_repo"] != true {
		t.Errorf("acme: %v", byName["acme"])
	}
	if byName["other"]["is_org_admin"] != false || byName["other"]["can_create_repo"] != true {
		t.Errorf("other (creator): %v", byName["other"])
	}

	// tag_expiration_s is DEFAULT_TAG_EXPIRATION.
	short := newEnvWith(t, envOptions{api: api.Options{TagExpiration: 3 * time.Hour}})
	short.user("alice")
	var view map[string]any
	short.must(http.StatusOK, "GET", "/api/v1/user/", "alice", nil, acctFresh(&view))
	if view["tag_expiration_s"] != float64(3*3600) {
		t.Errorf("tag_expiration_s with DEFAULT_TAG_EXPIRATION 3h: %v", view["tag_expiration_s"])
	}

	// The trailing slash is optional, as clients write both.
	var bare map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/user", "alice", nil, acctFresh(&bare))
	if bare["username"] != "alice" {
		t.Errorf("GET /api/v1/user: %v", bare)
	}

	var root map[string]any
	e.must(http.StatusOK, "GET", "/api/v1/user/", "root", nil, acctFresh(&root))
	if root["super_user"] != true {
		t.Errorf("root is not super_user: %v", root)
	}

	// OAuth tokens need user:read (user:admin implies it).
	e.must(http.StatusOK, "GET", "/api/v1/user/", acctToken(e, alice, auth.ScopeUserRead), nil, nil)
	e.must(http.StatusOK, "GET", "/api/v1/user/", acctToken(e, alice, auth.ScopeUserAdmin), nil, nil)
	e.must(http.StatusForbidden, "GET", "/api/v1/user/", acctToken(e, alice, auth.ScopeRepoRead), nil, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/v1/user/", "basic:alice:wrong-password", nil, nil)

	// A web session sees its CSRF token.
	cookie, csrf := acctSession(e, alice)
	var viaSession map[string]any
	if st, _ := acctSessionCall(e, "GET", "/api/v1/user/", cookie, "", "", &viaSession); st != http.StatusOK {
		t.Fatalf("session GET: %d", st)
	}
	if viaSession["csrf_token"] != csrf {
		t.Errorf("csrf_token %v, want %q", viaSession["csrf_token"], csrf)
	}
}

func TestAcctUserCreate(t *testing.T) {
	e := newEnv(t)
	e.user("root")
	var view map[string]any
	e.must(http.StatusOK, "POST", "/api/v1/user/", "", map[string]any{"username": "newbie", "password": "newbie-password", "email": "newbie@example.test"}, acctFresh(&view))
	if view["username"] != "newbie" || view["email"] != "newbie@example.test" {
		t.Errorf("new user view: %v", view)
	}
	row, meta := acctOneLog(e, "user_create")
	if row.Account != "newbie" || meta["username"] != "newbie" || meta["email"] != "newbie@example.test" {
		t.Errorf("user_create row: %+v %v", row, meta)
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/", "newbie", nil, nil)

	for name, body := range map[string]map[string]any{
		"taken":          {"username": "newbie", "password": "long-enough-pw"},
		"taken by root":  {"username": "root", "password": "long-enough-pw"},
		"bad name":       {"username": "Bad Name", "password": "long-enough-pw"},
		"short password": {"username": "shorty", "password": "short"},
		"space password": {"username": "spacey", "password": "has a space"},
		"no password":    {"username": "nopass"},
		"bad email":      {"username": "mailer", "password": "long-enough-pw", "email": "not-an-email"},
		"email taken":    {"username": "copycat", "password": "long-enough-pw", "email": "newbie@example.test"},
	} {
		if st := e.call("POST", "/api/v1/user/", "", body, nil); st != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, st)
		}
	}
	if len(e.logs("user_create")) != 1 {
		t.Errorf("refused sign-ups were logged")
	}

	// Without FEATURE_USER_CREATION only superusers create users.
	e2 := newEnvWith(t, envOptions{
		auth: auth.Options{SuperUsersEnabled: true, SuperUsers: []string{"root"}},
		api:  api.Options{},
	})
	e2.user("root")
	e2.user("alice")
	body := map[string]any{"username": "carol", "password": "carol-password"}
	e2.must(http.StatusForbidden, "POST", "/api/v1/user/", "", body, nil)
	e2.must(http.StatusForbidden, "POST", "/api/v1/user/", "alice", body, nil)
	e2.must(http.StatusOK, "POST", "/api/v1/user/", "root", body, nil)
	row, _ = acctOneLog(e2, "user_create")
	if row.Performer != "root" || row.Account != "carol" {
		t.Errorf("user_create by root: %+v", row)
	}
}

func TestAcctUserChange(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.user("bob")
	e.must(http.StatusUnauthorized, "PUT", "/api/v1/user/", "", map[string]any{"email": "x@example.test"}, nil)
	e.must(http.StatusBadRequest, "PUT", "/api/v1/user/", "alice", map[string]any{"password": "short"}, nil)
	e.must(http.StatusBadRequest, "PUT", "/api/v1/user/", "alice", map[string]any{"email": "bob@example.test"}, nil)
	e.must(http.StatusBadRequest, "PUT", "/api/v1/user/", "alice", map[string]any{"email": "nonsense"}, nil)
	e.must(http.StatusForbidden, "PUT", "/api/v1/user/", acctToken(e, alice, auth.ScopeUserRead), map[string]any{"email": "a2@example.test"}, nil)
	acctNoLog(e, "account_change_password")
	acctNoLog(e, "user_change_email")

	var view map[string]any
	e.must(http.StatusOK, "PUT", "/api/v1/user/", "alice", map[string]any{"email": "alice2@example.test"}, acctFresh(&view))
	if view["email"] != "alice2@example.test" {
		t.Errorf("email not changed: %v", view)
	}
	row, meta := acctOneLog(e, "user_change_email")
	if row.Performer != "alice" || meta["email"] != "alice2@example.test" || meta["old_email"] != "alice@example.test" {
		t.Errorf("user_change_email: %+v %v", row, meta)
	}

	// A session survives its own password change with a fresh session.
	cookie, csrf := acctSession(e, alice)
	e.must(http.StatusOK, "PUT", "/api/v1/user/", "alice", map[string]any{"password": "a-brand-new-password"}, nil)
	row, _ = acctOneLog(e, "account_change_password")
	if row.Performer != "alice" || row.Account != "alice" {
		t.Errorf("account_change_password: %+v", row)
	}
	e.must(http.StatusUnauthorized, "GET", "/api/v1/user/", "alice", nil, nil)
	e.must(http.StatusOK, "GET", "/api/v1/user/", "basic:alice:a-brand-new-password", nil, nil)
	if st, _ := acctSessionCall(e, "GET", "/api/v1/user/", cookie, csrf, "", nil); st != http.StatusUnauthorized {
		t.Errorf("old session after password change: %d, want 401", st)
	}

	cookie, csrf = acctSession(e, alice)
	var out map[string]any
	st, resp := acctSessionCall(e, "PUT", "/api/v1/user/", cookie, csrf, `{"password":"third-password-here"}`, &out)
	if st != http.StatusOK {
		t.Fatalf("session password change: %d %v", st, out)
	}
	var renewed *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie {
			renewed = c
		}
	}
	if renewed == nil || out["csrf_token"] == nil || out["csrf_token"] == csrf {
		t.Fatalf("no renewed session: cookie %v, view %v", renewed, out)
	}
	if st, _ := acctSessionCall(e, "GET", "/api/v1/user/", renewed, "", "", nil); st != http.StatusOK {
		t.Errorf("renewed session: %d", st)
	}
}

func TestAcctUserInitialize(t *testing.T) {
	e := newEnv(t)
	var out map[string]any
	body := map[string]any{"username": "admin", "password": "admin-password", "email": "admin@example.test", "access_token": true}
	e.must(http.StatusOK, "POST", "/api/v1/user/initialize", "", body, acctFresh(&out))
	acctKeys(t, "initialize", out, "username", "email", "encrypted_password", "access_token")
	if out["username"] != "admin" || out["email"] != "admin@example.test" {
		t.Errorf("initialize: %v", out)
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/", "bearer:"+out["access_token"].(string), nil, nil)
	e.must(http.StatusCreated, "POST", "/api/v1/organization/", "bearer:"+out["access_token"].(string), map[string]any{"name": "bootorg"}, nil)
	e.must(http.StatusOK, "GET", "/api/v1/user/", "basic:admin:"+out["encrypted_password"].(string), nil, nil)
	row, meta := acctOneLog(e, "user_create")
	if row.Account != "admin" || meta["initialize"] != true {
		t.Errorf("user_create: %+v %v", row, meta)
	}
	u, err := e.store.UserByName(context.Background(), "admin")
	if err != nil || u.Superuser {
		t.Errorf("initialized user: %+v %v", u, err)
	}

	// Only once.
	body["username"] = "second"
	var fail map[string]any
	e.must(http.StatusBadRequest, "POST", "/api/v1/user/initialize", "", body, acctFresh(&fail))
	if !strings.Contains(fail["error_message"].(string), "non-empty database") {
		t.Errorf("second initialize: %v", fail)
	}

	// Without an access token, and invalid input.
	e2 := newEnv(t)
	e2.must(http.StatusBadRequest, "POST", "/api/v1/user/initialize", "", map[string]any{"username": "x", "password": "admin-password"}, nil)
	e2.must(http.StatusBadRequest, "POST", "/api/v1/user/initialize", "", map[string]any{"username": "admin", "password": "short"}, nil)
	out = nil
	e2.must(http.StatusOK, "POST", "/api/v1/user/initialize", "", map[string]any{"username": "admin", "password": "admin-password"}, acctFresh(&out))
	if _, ok := out["access_token"]; ok {
		t.Errorf("access token not asked for: %v", out)
	}

	// A superuser named in SUPER_USERS gets a super:user token.
	e3 := newEnv(t)
	out = nil
	e3.must(http.StatusOK, "POST", "/api/v1/user/initialize", "", map[string]any{"username": "root", "password": "root-password", "access_token": true}, acctFresh(&out))
	tok, err := e3.auth.OAuthLogin(context.Background(), out["access_token"].(string))
	if err != nil || !tok.HasScope(auth.ScopeSuperUser) || !tok.HasScope(auth.ScopeOrgAdmin) {
		t.Errorf("root's token: %+v %v", tok, err)
	}

	// Feature off.
	e4 := newEnvWith(t, envOptions{api: api.Options{}})
	e4.must(http.StatusBadRequest, "POST", "/api/v1/user/initialize", "", map[string]any{"username": "admin", "password": "admin-password"}, nil)
	if n, _ := e4.store.CountUsers(context.Background()); n != 0 {
		t.Errorf("user created with the feature off")
	}
}

func TestAcctAppTokens(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.user("bob")
	ctx := context.Background()

	e.must(http.StatusUnauthorized, "POST", "/api/v1/user/apptoken", "", map[string]any{"title": "ci"}, nil)
	e.must(http.StatusBadRequest, "POST", "/api/v1/user/apptoken", "alice", map[string]any{"title": " "}, nil)
	e.must(http.StatusForbidden, "POST", "/api/v1/user/apptoken", acctToken(e, alice, auth.ScopeUserRead), map[string]any{"title": "ci"}, nil)

	var created struct {
		Token map[string]any `json:"token"`
	}
	e.must(http.StatusOK, "POST", "/api/v1/user/apptoken", "alice", map[string]any{"title": "ci"}, acctFresh(&created))
	acctKeys(t, "token", created.Token, "uuid", "title", "last_accessed", "created", "expiration", "token_code")
	uuid, code := created.Token["uuid"].(string), created.Token["token_code"].(string)
	if created.Token["title"] != "ci" || created.Token["expiration"] != nil || code == "" {
		t.Errorf("created token: %v", created.Token)
	}
	row, meta := acctOneLog(e, "create_app_specific_token")
	if row.Performer != "alice" || meta["app_specific_token"] != uuid || meta["app_specific_token_title"] != "ci" {
		t.Errorf("create_app_specific_token: %+v %v", row, meta)
	}

	if _, err := e.auth.Login(ctx, auth.AppTokenUser, code, auth.LoginContext{Registry: true}); err != nil {
		t.Fatalf("app token login: %v", err)
	}

	var list struct {
		Tokens       []map[string]any `json:"tokens"`
		OnlyExpiring any              `json:"only_expiring"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/apptoken", "alice", nil, acctFresh(&list))
	if len(list.Tokens) != 1 || list.Tokens[0]["uuid"] != uuid || list.Tokens[0]["token_code"] != nil || list.OnlyExpiring != nil {
		t.Errorf("token list: %+v", list)
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/apptoken?expiring=true", "alice", nil, acctFresh(&list))
	if len(list.Tokens) != 0 || list.OnlyExpiring != true {
		t.Errorf("expiring list: %+v", list)
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/apptoken", "bob", nil, acctFresh(&list))
	if len(list.Tokens) != 0 {
		t.Errorf("bob sees tokens: %+v", list)
	}

	var one struct {
		Token map[string]any `json:"token"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/user/apptoken/"+uuid, "alice", nil, acctFresh(&one))
	if one.Token["uuid"] != uuid || one.Token["last_accessed"] == nil {
		t.Errorf("token: %v", one.Token)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/user/apptoken/"+uuid, "bob", nil, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/user/apptoken/"+uuid, "bob", nil, nil)
	acctNoLog(e, "revoke_app_specific_token")

	e.must(http.StatusNoContent, "DELETE", "/api/v1/user/apptoken/"+uuid, "alice", nil, nil)
	row, meta = acctOneLog(e, "revoke_app_specific_token")
	if row.Performer != "alice" || meta["app_specific_token"] != uuid {
		t.Errorf("revoke_app_specific_token: %+v %v", row, meta)
	}
	if _, err := e.auth.Login(ctx, auth.AppTokenUser, code, auth.LoginContext{Registry: true}); err == nil {
		t.Error("revoked app token still logs in")
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/user/apptoken/"+uuid, "alice", nil, nil)

	// FEATURE_APP_SPECIFIC_TOKENS off.
	e2 := newEnvWith(t, envOptions{})
	e2.user("alice")
	e2.must(http.StatusNotFound, "GET", "/api/v1/user/apptoken", "alice", nil, nil)
	e2.must(http.StatusNotFound, "POST", "/api/v1/user/apptoken", "alice", map[string]any{"title": "ci"}, nil)
	e2.must(http.StatusNotFound, "GET", "/api/v1/user/apptoken/x", "alice", nil, nil)
	e2.must(http.StatusNotFound, "DELETE", "/api/v1/user/apptoken/x", "alice", nil, nil)
}

func TestAcctClientKey(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.must(http.StatusUnauthorized, "POST", "/api/v1/user/clientkey", "", map[string]any{"password": "alice-password"}, nil)
	e.must(http.StatusBadRequest, "POST", "/api/v1/user/clientkey", "alice", map[string]any{"password": "wrong-password"}, nil)
	e.must(http.StatusBadRequest, "POST", "/api/v1/user/clientkey", "alice", map[string]any{}, nil)
	acctNoLog(e, "user_generate_client_key")
	var out map[string]string
	e.must(http.StatusOK, "POST", "/api/v1/user/clientkey", "alice", map[string]any{"password": "alice-password"}, acctFresh(&out))
	if out["key"] == "" || out["key"] == "alice-password" {
		t.Fatalf("key: %v", out)
	}
	if _, err := e.auth.Login(context.Background(), "alice", out["key"], auth.LoginContext{Registry: true}); err != nil {
		t.Errorf("encrypted password login: %v", err)
	}
	row, _ := acctOneLog(e, "user_generate_client_key")
	if row.Performer != "alice" {
		t.Errorf("user_generate_client_key: %+v", row)
	}
}

// acctFresh zeroes a decoding target (encoding/json merges into existing maps) and
// returns it.
func acctFresh[T any](p *T) *T {
	var zero T
	*p = zero
	return p
}
