package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// orgRobotToken reads the token out of the podman login snippet of the robot credentials.
func orgRobotToken(t *testing.T, b *tab, user, host string) string {
	t.Helper()
	login := strings.TrimSpace(b.text(t, "#robot-podman-login"))
	prefix := "podman login -u '" + user + "' -p '"
	if !strings.HasPrefix(login, prefix) || !strings.HasSuffix(login, "' "+host) {
		t.Fatalf("the login command reads %q", login)
	}
	return strings.TrimSuffix(strings.TrimPrefix(login, prefix), "' "+host)
}

// orgExpectFlash fails unless the page's message contains want.
func orgExpectFlash(t *testing.T, b *tab, what, want string) {
	t.Helper()
	if msg := b.flash(t); !strings.Contains(msg, want) {
		t.Fatalf("after %s the page says %q, want %q", what, msg, want)
	}
}

// TestOrganizations creates an organization in the browser as a user who is not a
// superuser, with a team and a member, a robot whose credentials log in (and are
// regenerated), a default permission and an OAuth application; reads the logs; deletes
// the team and the organization (by its name); and shows a non-member only "not found".
func TestOrganizations(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_TEAM_SYNCING: false\n"})
	settingsServerErrors(t, w)
	olga := settingsNewUser(t, w, "olga")
	settingsNewUser(t, w, "pete")
	nina := settingsNewUser(t, w, "nina")

	b := newTab(t, w.URL, false)
	b.signIn(t, "olga", olga)

	// Create the organization.
	b.open(t, "/organization/")
	b.submit(t, "open the new organization form", "#create-org")
	b.run(t, "name the organization", fill("#org-name", "acme"), fill("#org-email", "ops@acme.test"))
	if st := b.submit(t, "create the organization", "#org-new-submit"); st != http.StatusOK {
		t.Fatalf("creating the organization answered %d", st)
	}
	orgExpectFlash(t, b, "creating the organization", "acme was created")
	var org struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		IsAdmin bool   `json:"is_admin"`
		Teams   map[string]struct {
			Role string `json:"role"`
		} `json:"teams"`
	}
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/acme", nil, &org)
	if !org.IsAdmin || org.Email != "ops@acme.test" {
		t.Fatalf("the API says %+v", org)
	}
	b.open(t, "/organization/")
	if s := b.text(t, "#org-list"); !strings.Contains(s, "acme") {
		t.Fatalf("the list shows %q", s)
	}

	// A team with a member.
	b.open(t, "/organization/acme?tab=teams")
	b.run(t, "describe a team", fill("#team-name", "devs"), chromedp.SetValue("#team-role", "creator", chromedp.ByQuery), fill("#team-description", "The developers"))
	b.submit(t, "create the team", "#team-submit")
	orgExpectFlash(t, b, "creating the team", "devs was created")
	b.run(t, "name a member", fill("#team-member-name", "pete"))
	b.submit(t, "add the member", "#team-member-submit")
	orgExpectFlash(t, b, "adding a member", "pete was added")
	var members struct {
		Members []struct {
			Name string `json:"name"`
		} `json:"members"`
	}
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/acme/team/devs/members", nil, &members)
	if len(members.Members) != 1 || members.Members[0].Name != "pete" {
		t.Fatalf("team members: %+v", members)
	}
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/acme", nil, &org)
	if org.Teams["devs"].Role != "creator" {
		t.Fatalf("teams: %+v", org.Teams)
	}
	b.open(t, "/organization/acme?tab=members")
	if s := b.text(t, "#member-pete"); !strings.Contains(s, "devs") {
		t.Fatalf("the members tab shows pete as %q", s)
	}

	// A robot: its credentials log in; regenerating refuses the old token.
	b.open(t, "/organization/acme?tab=robots")
	b.run(t, "name a robot", fill("#robot-name", "ci"), fill("#robot-description", "CI pipeline"))
	b.submit(t, "create the robot", "#robot-submit")
	orgExpectFlash(t, b, "creating the robot", "acme+ci was created")
	token := orgRobotToken(t, b, "acme+ci", w.Host)
	if st := settingsStatus(t, w.URL+"/v2/", "acme+ci", token); st != http.StatusOK {
		t.Fatalf("GET /v2/ as the robot answered %d", st)
	}
	var secret string
	b.run(t, "read the secret", chromedp.TextContent("#robot-kube-secret", &secret, chromedp.ByQuery))
	if s := secret; !strings.Contains(s, "kubernetes.io/dockerconfigjson") {
		t.Fatalf("the secret reads %q", s)
	}
	b.open(t, "/organization/acme?tab=robots")
	if strings.Contains(b.html(t), token) {
		t.Fatal("the token is shown without asking")
	}
	b.submit(t, "show the credentials", "#robot-show-ci")
	if got := orgRobotToken(t, b, "acme+ci", w.Host); got != token {
		t.Fatalf("shown again, the token is %q, was %q", got, token)
	}
	b.submit(t, "regenerate the token", "#robot-regenerate")
	orgExpectFlash(t, b, "regenerating", "new token")
	fresh := orgRobotToken(t, b, "acme+ci", w.Host)
	if fresh == token {
		t.Fatal("the token did not change")
	}
	if st := settingsStatus(t, w.URL+"/v2/", "acme+ci", token); st != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ with the old token answered %d", st)
	}
	if st := settingsStatus(t, w.URL+"/v2/", "acme+ci", fresh); st != http.StatusOK {
		t.Fatalf("GET /v2/ with the new token answered %d", st)
	}

	// A default permission for the team.
	b.open(t, "/organization/acme?tab=defaultperms")
	b.run(t, "describe a default permission", chromedp.SetValue("#proto-kind", "team", chromedp.ByQuery), fill("#proto-delegate", "devs"),
		chromedp.SetValue("#proto-role", "write", chromedp.ByQuery))
	b.submit(t, "add the default permission", "#proto-submit")
	orgExpectFlash(t, b, "adding a default permission", "devs the write role")
	var protos struct {
		Prototypes []struct {
			Role     string `json:"role"`
			Delegate struct {
				Name string `json:"name"`
				Kind string `json:"kind"`
			} `json:"delegate"`
		} `json:"prototypes"`
	}
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/acme/prototypes", nil, &protos)
	if len(protos.Prototypes) != 1 || protos.Prototypes[0].Delegate.Name != "devs" || protos.Prototypes[0].Delegate.Kind != "team" || protos.Prototypes[0].Role != "write" {
		t.Fatalf("prototypes: %+v", protos)
	}

	// An OAuth application.
	b.open(t, "/organization/acme?tab=applications")
	b.run(t, "describe an application", fill("#app-name", "deployer"), fill("#app-redirect", "https://deployer.example.test/cb"))
	b.submit(t, "create the application", "#app-submit")
	orgExpectFlash(t, b, "creating the application", "deployer was created")
	var apps struct {
		Applications []struct {
			Name         string `json:"name"`
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
			RedirectURI  string `json:"redirect_uri"`
		} `json:"applications"`
	}
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/acme/applications", nil, &apps)
	if len(apps.Applications) != 1 || apps.Applications[0].RedirectURI != "https://deployer.example.test/cb" {
		t.Fatalf("applications: %+v", apps)
	}
	if id := b.text(t, "#app-0-client-id"); id != apps.Applications[0].ClientID {
		t.Fatalf("the page shows client id %q", id)
	}

	// The logs list what was done.
	b.open(t, "/organization/acme?tab=logs")
	logs := b.text(t, "#org-logs")
	for _, want := range []string{"Create team", "Add team member", "Create robot", "Regenerate robot token", "Create default permission", "Create application"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %q:\n%s", want, logs)
		}
	}

	// Someone who is not a member sees "not found", as for an organization that does not
	// exist.
	other := newTab(t, w.URL, true)
	other.signIn(t, "nina", nina)
	for _, p := range []string{"/organization/acme", "/organization/acme?tab=robots", "/organization/acme/teams/devs", "/organization/nosuchorg"} {
		if st := other.settingsOpen(t, p); st != http.StatusNotFound {
			t.Fatalf("%s answered %d to a non-member", p, st)
		}
		if s := other.text(t, "#main"); strings.Contains(s, "acme") || strings.Contains(s, "devs") {
			t.Fatalf("%s shows a non-member %q", p, s)
		}
	}

	// Delete the team.
	b.open(t, "/organization/acme?tab=teams")
	b.submit(t, "delete the team", "#team-delete-devs")
	orgExpectFlash(t, b, "deleting the team", "devs was deleted")
	org.Teams = nil
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/acme", nil, &org)
	if _, ok := org.Teams["devs"]; ok {
		t.Fatalf("teams after deleting: %+v", org.Teams)
	}

	// Delete the organization: a wrong name refuses, its name deletes it.
	b.open(t, "/organization/acme?tab=settings")
	b.run(t, "type a wrong name", fill("#org-delete-confirm", "acm"))
	b.submit(t, "delete with a wrong name", "#org-delete-submit")
	orgExpectFlash(t, b, "a wrong name", "nothing was deleted")
	if st := settingsStatus(t, w.URL+"/api/v1/organization/acme", "olga", olga); st != http.StatusOK {
		t.Fatalf("after a wrong name the organization answers %d", st)
	}
	b.run(t, "type the name", fill("#org-delete-confirm", "acme"))
	b.submit(t, "delete the organization", "#org-delete-submit")
	orgExpectFlash(t, b, "deleting the organization", "acme was deleted")
	if loc := b.location(t); !strings.HasSuffix(loc, "/organization/") {
		t.Fatalf("after deleting the browser is at %s", loc)
	}
	if st := settingsStatus(t, w.URL+"/api/v1/organization/acme", w.User, w.Password); st != http.StatusNotFound {
		t.Fatalf("after deleting the organization answers %d", st)
	}
}

// TestOrgUserRobotsAndMembers creates and deletes a user's own robot on the settings page
// with JavaScript off, and shows that a plain member of an organization sees its
// repositories and teams but none of the administrators' tabs, and may not change it.
func TestOrgUserRobotsAndMembers(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_TEAM_SYNCING: false\n"})
	settingsServerErrors(t, w)
	rita := settingsNewUser(t, w, "rita")
	sam := settingsNewUser(t, w, "sam")

	b := newTab(t, w.URL, true)
	b.signIn(t, "rita", rita)
	b.open(t, "/settings/?tab=robots")
	b.run(t, "name a robot", fill("#robot-name", "deploy"))
	b.submit(t, "create the robot", "#robot-submit")
	orgExpectFlash(t, b, "creating the robot", "rita+deploy was created")
	token := orgRobotToken(t, b, "rita+deploy", w.Host)
	if st := settingsStatus(t, w.URL+"/v2/", "rita+deploy", token); st != http.StatusOK {
		t.Fatalf("GET /v2/ as the robot answered %d", st)
	}
	b.submit(t, "delete the robot", "#robot-delete-deploy")
	orgExpectFlash(t, b, "deleting the robot", "rita+deploy was deleted")
	var robots struct {
		Robots []struct {
			Name string `json:"name"`
		} `json:"robots"`
	}
	api(t, w.URL, "rita", rita, "GET", "/api/v1/user/robots", nil, &robots)
	if len(robots.Robots) != 0 {
		t.Fatalf("robots after deleting: %+v", robots)
	}

	// An organization with sam in a member team.
	api(t, w.URL, "rita", rita, "POST", "/api/v1/organization/", map[string]string{"name": "beta", "email": "beta@example.test"}, nil)
	api(t, w.URL, "rita", rita, "PUT", "/api/v1/organization/beta/team/readers", map[string]string{"role": "member"}, nil)
	api(t, w.URL, "rita", rita, "PUT", "/api/v1/organization/beta/team/readers/members/sam", nil, nil)

	s := newTab(t, w.URL, true)
	s.signIn(t, "sam", sam)
	s.open(t, "/organization/beta")
	if txt := s.text(t, "#org-repos-table"); !strings.Contains(txt, "No repositories") {
		t.Fatalf("the repositories tab shows %q", txt)
	}
	s.open(t, "/organization/beta?tab=teams")
	if txt := s.text(t, "#teams-table"); !strings.Contains(txt, "readers") || !strings.Contains(txt, "owners") {
		t.Fatalf("a member's teams tab shows %q", txt)
	}
	page := s.html(t)
	for _, admin := range []string{`id="tab-members"`, `id="tab-robots"`, `id="tab-settings"`, `id="team-form"`} {
		if strings.Contains(page, admin) {
			t.Errorf("a member sees %s", admin)
		}
	}
	if st := s.settingsOpen(t, "/organization/beta?tab=settings"); st != http.StatusNotFound {
		t.Fatalf("the settings tab answered %d to a member", st)
	}
	s.open(t, "/organization/beta/teams/readers")
	if txt := s.text(t, "#team-members-table"); !strings.Contains(txt, "sam") {
		t.Fatalf("the team page shows %q", txt)
	}
}
