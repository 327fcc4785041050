package api_test

import (
	"encoding/json"
	"testing"

	"github.com/wharf-registry/wharf/registry/auth"
)

type appView struct {
	Name           string  `json:"name"`
	Description    string  `json:"description"`
	ApplicationURI string  `json:"application_uri"`
	ClientID       string  `json:"client_id"`
	ClientSecret   string  `json:"client_secret"`
	RedirectURI    string  `json:"redirect_uri"`
	AvatarEmail    *string `json:"avatar_email"`
}

func metaOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestApplications(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.user("bob")
	e.user("root")
	adminOrg(e, "acme", alice)
	adminOrg(e, "other", e.user("olga"))

	newApp := map[string]string{"name": "CI", "description": "Builds", "redirect_uri": "https://ci.example.test/cb",
		"application_uri": "https://ci.example.test/", "avatar_email": "ci@example.test"}
	for _, tc := range []struct {
		name string
		who  as
		body any
		want int
	}{
		{"not a member", "bob", newApp, 403},
		{"anonymous", "", newApp, 401},
		{"token without org:admin", adminToken(e, alice, auth.ScopeRepoAdmin, auth.ScopeUserAdmin), newApp, 403},
		{"no name", "alice", map[string]string{"redirect_uri": "https://x.test/"}, 400},
		{"bad redirect", "alice", map[string]string{"name": "x", "redirect_uri": "javascript:alert(1)"}, 400},
		{"credentials in redirect", "alice", map[string]string{"name": "x", "redirect_uri": "https://u:p@x.test/"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.call("POST", "/api/v1/organization/acme/applications", tc.who, tc.body, nil); got != tc.want {
				t.Fatalf("create: %d, want %d", got, tc.want)
			}
		})
	}
	if rows := e.logs("create_application"); len(rows) != 0 {
		t.Fatalf("refused creations logged: %+v", rows)
	}

	var app appView
	e.must(200, "POST", "/api/v1/organization/acme/applications", adminToken(e, alice, auth.ScopeOrgAdmin), newApp, &app)
	if app.Name != "CI" || app.Description != "Builds" || app.RedirectURI != "https://ci.example.test/cb" || app.ApplicationURI != "https://ci.example.test/" ||
		app.AvatarEmail == nil || *app.AvatarEmail != "ci@example.test" || len(app.ClientID) != 20 || len(app.ClientSecret) != 40 {
		t.Fatalf("created: %+v", app)
	}
	rows := e.logs("create_application")
	if len(rows) != 1 || rows[0].Account != "acme" || rows[0].Performer != "alice" {
		t.Fatalf("create_application rows: %+v", rows)
	}
	if m := metaOf(t, rows[0].Metadata); m["client_id"] != app.ClientID || m["application_name"] != "CI" || m["client_secret"] != nil {
		t.Fatalf("create_application metadata: %v", m)
	}

	var list struct {
		Applications []appView `json:"applications"`
	}
	e.must(200, "GET", "/api/v1/organization/acme/applications", "alice", nil, &list)
	if len(list.Applications) != 1 || list.Applications[0].ClientSecret != app.ClientSecret {
		t.Fatalf("list: %+v", list)
	}
	e.must(200, "GET", "/api/v1/organization/acme/applications", "root", nil, nil)
	e.must(403, "GET", "/api/v1/organization/acme/applications", "bob", nil, nil)

	base := "/api/v1/organization/acme/applications/" + app.ClientID
	var got appView
	e.must(200, "GET", base, "alice", nil, &got)
	if got.ClientID != app.ClientID || got.Name != "CI" {
		t.Fatalf("get: %+v", got)
	}
	e.must(403, "GET", base, "bob", nil, nil)
	e.must(404, "GET", "/api/v1/organization/acme/applications/nope", "alice", nil, nil)
	e.must(404, "GET", "/api/v1/organization/other/applications/"+app.ClientID, "olga", nil, nil)

	// Update: Quay's UpdateApp requires name, redirect_uri and application_uri.
	e.must(400, "PUT", base, "alice", map[string]string{"name": "CI 2"}, nil)
	e.must(403, "PUT", base, "bob", map[string]string{"name": "CI 2", "redirect_uri": "", "application_uri": ""}, nil)
	e.must(200, "PUT", base, "alice", map[string]string{"name": "CI 2", "redirect_uri": "https://ci2.example.test/cb", "application_uri": ""}, &got)
	if got.Name != "CI 2" || got.RedirectURI != "https://ci2.example.test/cb" || got.ClientSecret != app.ClientSecret || got.Description != "" {
		t.Fatalf("update: %+v", got)
	}
	if rows := e.logs("update_application"); len(rows) != 1 || metaOf(t, rows[0].Metadata)["application_name"] != "CI 2" {
		t.Fatalf("update_application rows: %+v", rows)
	}

	// Reset the secret.
	e.must(403, "POST", base+"/resetclientsecret", "bob", nil, nil)
	e.must(200, "POST", base+"/resetclientsecret", "alice", nil, &got)
	if got.ClientSecret == app.ClientSecret || len(got.ClientSecret) != 40 || got.ClientID != app.ClientID {
		t.Fatalf("reset: %+v", got)
	}
	if rows := e.logs("reset_application_client_secret"); len(rows) != 1 || metaOf(t, rows[0].Metadata)["client_id"] != app.ClientID {
		t.Fatalf("reset rows: %+v", rows)
	}

	// Public information.
	var info struct {
		Name, Description, URI string
		Avatar                 map[string]any
		Organization           struct{ Name string }
	}
	e.must(200, "GET", "/api/v1/app/"+app.ClientID, "", nil, &info)
	if info.Name != "CI 2" || info.Organization.Name != "acme" || info.Avatar["kind"] != "app" {
		t.Fatalf("app info: %+v", info)
	}
	e.must(404, "GET", "/api/v1/app/nope", "", nil, nil)

	// Delete.
	e.must(403, "DELETE", base, "bob", nil, nil)
	e.must(204, "DELETE", base, "alice", nil, nil)
	e.must(404, "GET", base, "alice", nil, nil)
	e.must(404, "DELETE", base, "alice", nil, nil)
	if rows := e.logs("delete_application"); len(rows) != 1 || metaOf(t, rows[0].Metadata)["client_id"] != app.ClientID || rows[0].Account != "acme" {
		t.Fatalf("delete_application rows: %+v", rows)
	}
}
