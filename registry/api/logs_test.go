package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// adminOrg creates an organization owned by owner (a member of its owners team).
func adminOrg(e *env, name string, owner store.User) store.Namespace {
	e.t.Helper()
	org, err := e.store.CreateOrganization(context.Background(), name, name+"@example.test", owner.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return org
}

// adminRepo creates a private repository.
func adminRepo(e *env, namespace, name string, creator store.User) store.Repository {
	e.t.Helper()
	repo, err := e.store.CreateRepository(context.Background(), store.NewRepository{Namespace: namespace, Name: name, CreatorID: creator.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	return repo
}

// adminToken issues an OAuth token for u with scopes and returns it as a caller.
func adminToken(e *env, u store.User, scopes ...string) as {
	e.t.Helper()
	tok, err := e.auth.IssueOAuthToken(context.Background(), u, 0, scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return "bearer:" + tok
}

// adminLog writes an audit row directly.
func adminLog(e *env, entry store.LogEntry) {
	e.t.Helper()
	if err := e.store.AppendLog(context.Background(), entry); err != nil {
		e.t.Fatal(err)
	}
}

type logView struct {
	Kind      string         `json:"kind"`
	Metadata  map[string]any `json:"metadata"`
	IP        string         `json:"ip"`
	Datetime  string         `json:"datetime"`
	Performer *struct {
		Kind    string         `json:"kind"`
		Name    string         `json:"name"`
		IsRobot bool           `json:"is_robot"`
		Avatar  map[string]any `json:"avatar"`
	} `json:"performer"`
	Namespace *struct {
		Kind   string         `json:"kind"`
		Name   string         `json:"name"`
		Avatar map[string]any `json:"avatar"`
	} `json:"namespace"`
}

type logsPage struct {
	StartTime string    `json:"start_time"`
	EndTime   string    `json:"end_time"`
	Logs      []logView `json:"logs"`
	NextPage  *string   `json:"next_page"`
}

type aggregate struct {
	Aggregated []struct {
		Kind     string `json:"kind"`
		Count    int    `json:"count"`
		Datetime string `json:"datetime"`
	} `json:"aggregated"`
}

func kinds(p logsPage) []string {
	var out []string
	for _, l := range p.Logs {
		out = append(out, l.Kind)
	}
	return out
}

// logFixture: alice owns organization acme with private repository acme/app; bob is a user
// who acted in acme; root is a superuser.
type logFixture struct {
	e                *env
	alice, bob, root store.User
	org              store.Namespace
	repo             store.Repository
}

func newLogFixture(t *testing.T, e *env) logFixture {
	f := logFixture{e: e, alice: e.user("alice"), bob: e.user("bob"), root: e.user("root")}
	f.org = adminOrg(e, "acme", f.alice)
	f.repo = adminRepo(e, "acme", "app", f.alice)
	adminLog(e, store.LogEntry{Kind: "create_repo", PerformerID: f.alice.ID, Performer: "alice", PerformerKind: "user",
		AccountID: f.org.ID, Account: "acme", RepositoryID: f.repo.ID, Repository: "app", IP: "10.0.0.1", Metadata: `{"repo":"app"}`})
	adminLog(e, store.LogEntry{Kind: "push_repo", PerformerID: f.bob.ID, Performer: "bob", PerformerKind: "user",
		AccountID: f.org.ID, Account: "acme", RepositoryID: f.repo.ID, Repository: "app", IP: "10.0.0.2", Metadata: `{"tag":"v1"}`})
	adminLog(e, store.LogEntry{Kind: "org_create_team", PerformerID: f.alice.ID, Performer: "alice", PerformerKind: "user",
		AccountID: f.org.ID, Account: "acme", IP: "10.0.0.1", Metadata: `{"team":"devs"}`})
	adminLog(e, store.LogEntry{Kind: "user_change_email", PerformerID: f.bob.ID, Performer: "bob", PerformerKind: "user",
		AccountID: f.bob.ID, Account: "bob", IP: "10.0.0.2"})
	// An old entry, outside the default window.
	adminLog(e, store.LogEntry{Kind: "push_repo", PerformerID: f.alice.ID, Performer: "alice", PerformerKind: "user",
		AccountID: f.org.ID, Account: "acme", RepositoryID: f.repo.ID, Repository: "app", Time: time.Now().Add(-10 * 24 * time.Hour)})
	return f
}

func TestRepoLogs(t *testing.T) {
	e := newEnv(t)
	f := newLogFixture(t, e)
	var page logsPage
	e.must(200, "GET", "/api/v1/repository/acme/app/logs", "alice", nil, &page)
	if got := strings.Join(kinds(page), ","); got != "push_repo,create_repo" {
		t.Fatalf("repo logs: %s", got)
	}
	l := page.Logs[0]
	if l.Performer == nil || l.Performer.Name != "bob" || l.Performer.Kind != "user" || l.Performer.IsRobot ||
		l.Performer.Avatar["kind"] != "user" || l.Performer.Avatar["hash"] == "" || l.IP != "10.0.0.2" || l.Metadata["tag"] != "v1" || l.Metadata["repo"] != "app" {
		t.Fatalf("log view: %+v", l)
	}
	if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0000", l.Datetime); err != nil {
		t.Fatalf("datetime %q: %v", l.Datetime, err)
	}
	if l.Namespace != nil {
		t.Fatalf("repository logs carry no namespace: %+v", l.Namespace)
	}
	if page.NextPage != nil {
		t.Fatalf("next_page on a short list: %v", *page.NextPage)
	}
	// The old entry appears with a window that covers it.
	q := url.Values{"starttime": {time.Now().UTC().Add(-11 * 24 * time.Hour).Format("01/02/2006")}}
	e.must(200, "GET", "/api/v1/repository/acme/app/logs?"+q.Encode(), "alice", nil, &page)
	if len(page.Logs) != 3 {
		t.Fatalf("with starttime: %v", kinds(page))
	}
	day := time.Now().UTC().Add(-48 * time.Hour).Format("01/02/2006")
	e.must(200, "GET", "/api/v1/repository/acme/app/logs?starttime="+url.QueryEscape(day)+"&endtime="+url.QueryEscape(day), "alice", nil, &page)
	if len(page.Logs) != 0 {
		t.Fatalf("a day without entries: %v", kinds(page))
	}
	wantStart := time.Now().UTC().Add(-48 * time.Hour).Truncate(24 * time.Hour)
	if page.StartTime != wantStart.Format("Mon, 02 Jan 2006 15:04:05 -0000") || page.EndTime != wantStart.Add(24*time.Hour).Format("Mon, 02 Jan 2006 15:04:05 -0000") {
		t.Fatalf("window %s .. %s", page.StartTime, page.EndTime)
	}
	e.must(200, "GET", "/api/v1/repository/acme/app/logs?kind=create_repo", "alice", nil, &page)
	if got := strings.Join(kinds(page), ","); got != "create_repo" {
		t.Fatalf("kind filter: %s", got)
	}
	e.must(200, "GET", "/api/v1/repository/acme/app/logs?performer=bob", "alice", nil, &page)
	if got := strings.Join(kinds(page), ","); got != "push_repo" {
		t.Fatalf("performer filter: %s", got)
	}

	for _, tc := range []struct {
		name string
		who  as
		path string
		want int
	}{
		{"superuser", "root", "/api/v1/repository/acme/app/logs", 200},
		{"not admin", "bob", "/api/v1/repository/acme/app/logs", 403},
		{"anonymous", "", "/api/v1/repository/acme/app/logs", 401},
		{"missing repo, not admin", "bob", "/api/v1/repository/acme/nope/logs", 403},
		{"missing repo, admin", "alice", "/api/v1/repository/acme/nope/logs", 404},
		{"token with repo:read", adminToken(e, f.alice, auth.ScopeRepoRead), "/api/v1/repository/acme/app/logs", 403},
		{"token with repo:admin", adminToken(e, f.alice, auth.ScopeRepoAdmin), "/api/v1/repository/acme/app/logs", 200},
		{"bad starttime", "alice", "/api/v1/repository/acme/app/logs?starttime=2024-01-01", 400},
		{"end before start", "alice", "/api/v1/repository/acme/app/logs?starttime=01/10/2024&endtime=01/01/2024", 400},
		{"bad page token", "alice", "/api/v1/repository/acme/app/logs?next_page=garbage", 400},
		{"aggregate", "alice", "/api/v1/repository/acme/app/aggregatelogs", 200},
		{"aggregate, not admin", "bob", "/api/v1/repository/acme/app/aggregatelogs", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.call("GET", tc.path, tc.who, nil, nil); got != tc.want {
				t.Fatalf("GET %s as %s: %d, want %d", tc.path, tc.who, got, tc.want)
			}
		})
	}
	var agg aggregate
	e.must(200, "GET", "/api/v1/repository/acme/app/aggregatelogs", "alice", nil, &agg)
	today := time.Now().UTC().Truncate(24 * time.Hour).Format("Mon, 02 Jan 2006 15:04:05 -0000")
	if len(agg.Aggregated) != 2 || agg.Aggregated[0].Kind != "create_repo" || agg.Aggregated[0].Count != 1 || agg.Aggregated[0].Datetime != today {
		t.Fatalf("aggregate: %+v", agg)
	}
}

func TestOrgLogs(t *testing.T) {
	e := newEnv(t)
	f := newLogFixture(t, e)
	var page logsPage
	e.must(200, "GET", "/api/v1/organization/acme/logs", "alice", nil, &page)
	if got := strings.Join(kinds(page), ","); got != "org_create_team,push_repo,create_repo" {
		t.Fatalf("org logs: %s", got)
	}
	e.must(200, "GET", "/api/v1/organization/acme/logs?performer=alice", "alice", nil, &page)
	if got := strings.Join(kinds(page), ","); got != "org_create_team,create_repo" {
		t.Fatalf("org logs by alice: %s", got)
	}
	var agg aggregate
	e.must(200, "GET", "/api/v1/organization/acme/aggregatelogs", "alice", nil, &agg)
	total := 0
	for _, a := range agg.Aggregated {
		total += a.Count
	}
	if total != 3 {
		t.Fatalf("aggregate: %+v", agg)
	}
	for _, tc := range []struct {
		name string
		who  as
		path string
		want int
	}{
		{"superuser", "root", "/api/v1/organization/acme/logs", 200},
		{"not a member", "bob", "/api/v1/organization/acme/logs", 403},
		{"anonymous", "", "/api/v1/organization/acme/logs", 401},
		{"token without org:admin", adminToken(e, f.alice, auth.ScopeRepoAdmin, auth.ScopeUserAdmin), "/api/v1/organization/acme/logs", 403},
		{"token with org:admin", adminToken(e, f.alice, auth.ScopeOrgAdmin), "/api/v1/organization/acme/logs", 200},
		{"missing org", "alice", "/api/v1/organization/nope/logs", 403},
		{"missing org, superuser", "root", "/api/v1/organization/nope/logs", 404},
		{"aggregate, not a member", "bob", "/api/v1/organization/acme/aggregatelogs", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.call("GET", tc.path, tc.who, nil, nil); got != tc.want {
				t.Fatalf("GET %s as %s: %d, want %d", tc.path, tc.who, got, tc.want)
			}
		})
	}
}

func TestUserLogs(t *testing.T) {
	e := newEnv(t)
	f := newLogFixture(t, e)
	var page logsPage
	// bob sees what happened in his namespace and what he did elsewhere.
	e.must(200, "GET", "/api/v1/user/logs", "bob", nil, &page)
	if got := strings.Join(kinds(page), ","); got != "user_change_email,push_repo" {
		t.Fatalf("user logs: %s", got)
	}
	if ns := page.Logs[1].Namespace; ns == nil || ns.Name != "acme" || ns.Kind != "org" || ns.Avatar["kind"] != "org" {
		t.Fatalf("namespace view: %+v", page.Logs[1].Namespace)
	}
	var agg aggregate
	e.must(200, "GET", "/api/v1/user/aggregatelogs", "bob", nil, &agg)
	if len(agg.Aggregated) != 2 {
		t.Fatalf("aggregate: %+v", agg)
	}
	if got := e.call("GET", "/api/v1/user/logs", "", nil, nil); got != 401 {
		t.Fatalf("anonymous: %d", got)
	}
	if got := e.call("GET", "/api/v1/user/logs", adminToken(e, f.bob, auth.ScopeUserRead), nil, nil); got != 403 {
		t.Fatalf("user:read token: %d", got)
	}
	e.must(200, "GET", "/api/v1/user/logs", adminToken(e, f.bob, auth.ScopeUserAdmin), nil, nil)

	off := newEnvWith(t, envOptions{auth: auth.Options{SuperUsersEnabled: true, SuperUsers: []string{"root"}}, api: api.Options{}})
	off.user("carol")
	for _, p := range []string{"/api/v1/user/logs", "/api/v1/user/aggregatelogs"} {
		if got := off.call("GET", p, "carol", nil, nil); got != 404 {
			t.Fatalf("%s without FEATURE_USER_LOG_ACCESS: %d", p, got)
		}
	}
}

func TestSuperuserLogs(t *testing.T) {
	e := newEnv(t)
	f := newLogFixture(t, e)
	var page logsPage
	e.must(200, "GET", "/api/v1/superuser/logs", "root", nil, &page)
	if len(page.Logs) != 4 {
		t.Fatalf("superuser logs: %v", kinds(page))
	}
	if ns := page.Logs[0].Namespace; ns == nil || ns.Name != "bob" || ns.Kind != "user" {
		t.Fatalf("namespace view: %+v", page.Logs[0].Namespace)
	}
	var agg aggregate
	e.must(200, "GET", "/api/v1/superuser/aggregatelogs", "root", nil, &agg)
	if len(agg.Aggregated) != 4 {
		t.Fatalf("aggregate: %+v", agg)
	}
	for _, tc := range []struct {
		who  as
		path string
		want int
	}{
		{"alice", "/api/v1/superuser/logs", 403},
		{"", "/api/v1/superuser/logs", 401},
		{adminToken(e, f.root, auth.ScopeOrgAdmin, auth.ScopeUserAdmin), "/api/v1/superuser/logs", 403},
		{adminToken(e, f.root, auth.ScopeSuperUser), "/api/v1/superuser/logs", 200},
		{"alice", "/api/v1/superuser/aggregatelogs", 403},
	} {
		if got := e.call("GET", tc.path, tc.who, nil, nil); got != tc.want {
			t.Errorf("GET %s as %s: %d, want %d", tc.path, tc.who, got, tc.want)
		}
	}
}

func TestLogsPagination(t *testing.T) {
	e := newEnv(t)
	f := newLogFixture(t, e)
	for i := 0; i < 25; i++ {
		adminLog(e, store.LogEntry{Kind: "pull_repo", PerformerID: f.alice.ID, Performer: "alice", PerformerKind: "user",
			AccountID: f.org.ID, Account: "acme", RepositoryID: f.repo.ID, Repository: "app", Metadata: fmt.Sprintf(`{"n":%d}`, i)})
	}
	var first, second logsPage
	e.must(200, "GET", "/api/v1/repository/acme/app/logs", "alice", nil, &first)
	if len(first.Logs) != 20 || first.NextPage == nil || first.Logs[0].Metadata["n"] != float64(24) {
		t.Fatalf("first page: %d entries, next %v", len(first.Logs), first.NextPage)
	}
	e.must(200, "GET", "/api/v1/repository/acme/app/logs?next_page="+url.QueryEscape(*first.NextPage), "alice", nil, &second)
	if len(second.Logs) != 7 || second.NextPage != nil || second.Logs[0].Metadata["n"] != float64(4) {
		t.Fatalf("second page: %d entries (%v), next %v", len(second.Logs), kinds(second), second.NextPage)
	}
}
