package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// repoPerms reads a repository's user and team permissions through the API: name → role.
func repoPerms(t *testing.T, w *testservers.Wharf, repo string) (users, teams map[string]string) {
	t.Helper()
	var u, tm struct {
		Permissions map[string]struct {
			Role string `json:"role"`
		} `json:"permissions"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/repository/"+repo+"/permissions/user/", nil, &u)
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/repository/"+repo+"/permissions/team/", nil, &tm)
	users, teams = map[string]string{}, map[string]string{}
	for k, v := range u.Permissions {
		users[k] = v.Role
	}
	for k, v := range tm.Permissions {
		teams[k] = v.Role
	}
	return users, teams
}

// isPublic reads through the API whether a repository is public.
func isPublic(t *testing.T, w *testservers.Wharf, repo string) bool {
	t.Helper()
	var r struct {
		IsPublic bool `json:"is_public"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/repository/"+repo+"?includeTags=false", nil, &r)
	return r.IsPublic
}

// TestRepoSettings changes a repository's visibility and permissions in the settings tab,
// sees the changes in the usage logs and their chart, and deletes the repository by typing
// its name.
func TestRepoSettings(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	settingsServerErrors(t, w)
	const repo = "acme/app"
	api(t, w.URL, w.User, w.Password, "POST", "/api/v1/organization/", map[string]string{"name": "acme", "email": "acme@example.test"}, nil)
	api(t, w.URL, w.User, w.Password, "PUT", "/api/v1/organization/acme/team/builders", map[string]string{"role": "member"}, nil)
	api(t, w.URL, w.User, w.Password, "POST", "/api/v1/repository", map[string]string{"namespace": "acme", "repository": "app", "visibility": "private", "description": ""}, nil)
	digest := pushRandom(t, w.Host, w.User, w.Password, repo+":v1", 1)
	// The manifest page has the repository header and belongs to no other tab.
	page := "/repository/" + repo + "/manifest/" + digest
	bobPass := settingsNewUser(t, w, "bob")

	b := newTab(t, w.URL, false)
	b.signIn(t, w.User, w.Password)
	settings := "/repository/" + repo + "?tab=settings"
	b.open(t, settings)

	// Public, then private again.
	b.run(t, "choose public", click("#vis-public"))
	b.submit(t, "save visibility", "#visibility-save")
	if msg := b.flash(t); !strings.Contains(msg, "now public") || !isPublic(t, w, repo) {
		t.Fatalf("after making it public: %q, public=%v", msg, isPublic(t, w, repo))
	}
	b.run(t, "choose private", click("#vis-private"))
	b.submit(t, "save visibility", "#visibility-save")
	if isPublic(t, w, repo) {
		t.Fatal("the repository is still public")
	}

	// Bob may not see it; given read, he does.
	bob := newTab(t, w.URL, false)
	bob.signIn(t, "bob", bobPass)
	bob.open(t, page)
	if strings.Contains(bob.html(t), `id="repo-name"`) || strings.Contains(bob.html(t), "acme/app") {
		t.Fatal("bob sees the private repository before any permission")
	}
	addPerm := func(kind, name, role string) {
		t.Helper()
		b.run(t, "fill the permission form",
			chromedp.SetValue("#perm-kind", kind, chromedp.ByQuery), fill("#perm-name", name), chromedp.SetValue("#perm-role", role, chromedp.ByQuery))
		b.submit(t, "add the permission", "#perm-add-submit")
		if msg := b.flash(t); !strings.Contains(msg, name) {
			t.Fatalf("after granting %s %s: %q", role, name, msg)
		}
	}
	addPerm("user", "bob", "read")
	if users, _ := repoPerms(t, w, repo); users["bob"] != "read" {
		t.Fatalf("bob's permission: %v", users)
	}
	bob.open(t, "/repository/"+repo+"?tab=settings")
	if strings.Contains(bob.html(t), `id="perm-table"`) {
		t.Fatal("a reader sees the settings tab")
	}
	bob.open(t, page)
	if got := bob.text(t, "#repo-name"); got != "app" {
		t.Fatalf("with read, bob's repository page names %q", got)
	}

	// Change bob's role in the table; grant the team; remove bob.
	b.open(t, settings)
	b.run(t, "make bob a writer", chromedp.SetValue("#role-user-bob", "write", chromedp.ByQuery))
	b.submit(t, "change bob's role", "#perm-user-bob button")
	if users, _ := repoPerms(t, w, repo); users["bob"] != "write" {
		t.Fatalf("bob's permission after the change: %v", users)
	}
	addPerm("team", "builders", "write")
	if _, teams := repoPerms(t, w, repo); teams["builders"] != "write" {
		t.Fatalf("team permissions: %v", teams)
	}
	b.submit(t, "remove bob", "#perm-remove-user-bob")
	if users, _ := repoPerms(t, w, repo); users["bob"] != "" {
		t.Fatalf("bob still has %q", users["bob"])
	}
	// A name that is nobody: the API's refusal shows, nothing changes.
	b.run(t, "fill an unknown user", fill("#perm-name", "nobody-here"))
	b.submit(t, "grant nobody", "#perm-add-submit")
	if msg := b.flash(t); msg == "" || strings.Contains(msg, "now has") {
		t.Fatalf("granting an unknown user: %q", msg)
	}

	// The usage logs show what was done, with a chart of today's actions.
	b.open(t, "/repository/"+repo+"?tab=logs")
	var bars int
	b.run(t, "count bars", chromedp.Evaluate(`document.querySelectorAll("#logs-chart svg rect.bar").length`, &bars))
	if bars != 7 {
		t.Errorf("the chart has %d bars, want one per day of the week", bars)
	}
	logs := b.text(t, "#logs-table")
	for _, want := range []string{"Change visibility", "Grant permission", "role write for builders", "Remove permission", "Push"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the usage logs lack %q:\n%s", want, logs)
		}
	}
	var lastBar string
	b.run(t, "read today's bar", chromedp.Evaluate(`document.querySelector("#logs-chart svg rect.bar:last-of-type title").textContent`, &lastBar))
	if !strings.Contains(lastBar, "Push 1") {
		t.Errorf("today's bar says %q", lastBar)
	}

	// Delete: a wrong name refuses, the right one deletes.
	b.open(t, settings)
	b.run(t, "type a wrong name", fill("#delete-confirm", "acme/other"))
	b.submit(t, "delete with a wrong name", "#delete-submit")
	if msg := b.flash(t); !strings.Contains(msg, "Type acme/app exactly") {
		t.Fatalf("a wrong name: %q", msg)
	}
	b.run(t, "type the name", fill("#delete-confirm", repo))
	b.submit(t, "delete", "#delete-submit")
	if msg := b.flash(t); !strings.Contains(msg, "Deleted acme/app") {
		t.Fatalf("after deleting: %q at %s", msg, b.location(t))
	}
	resp, err := http.Get(w.URL + "/api/v1/repository/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", w.URL+"/api/v1/repository/"+repo, nil)
	req.SetBasicAuth(w.User, w.Password)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the repository after deletion: %v %v", resp.Status, err)
	}
}
