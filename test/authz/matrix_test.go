// Package authz checks the permission model end to end: every role against every registry
// and REST API action, on public and private repositories, over HTTP against the real
// server, on SQLite and on PostgreSQL. The expected outcome of each case comes from the
// table of rights below, written independently of the code under test.
package authz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/server"
	"github.com/wharf-registry/wharf/registry/store"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// The roles of the matrix.
const (
	anonymous = "anonymous"
	outsider  = "user"        // a user with no relation to the organization
	robot     = "robot"       // acme+ci, holding read on acme/private
	member    = "teammember"  // in team devs (role member), which holds write on acme/private
	creator   = "teamcreator" // in team builders (role creator)
	teamAdmin = "teamadmin"   // in team ops (role admin)
	orgAdmin  = "orgadmin"    // in team owners, created the organization
	superuser = "superuser"   // listed in SUPER_USERS
)

var roles = []string{anonymous, outsider, robot, member, creator, teamAdmin, orgAdmin, superuser}

// rights is the expected role of each caller on each repository: the model, written out.
var rights = map[string]map[string]string{
	"acme/private": {robot: "read", member: "write", teamAdmin: "admin", orgAdmin: "admin", superuser: "admin"},
	"acme/public": {anonymous: "read", outsider: "read", robot: "read", member: "read", creator: "read",
		teamAdmin: "admin", orgAdmin: "admin", superuser: "admin"},
	"orgadmin/personal": {orgAdmin: "admin", superuser: "admin"},
	// acme/ghost does not exist: only those who may create repositories in acme may touch it.
	"acme/ghost": {creator: "admin", teamAdmin: "admin", orgAdmin: "admin", superuser: "admin"},
}

func has(role, repo, need string) bool {
	rank := map[string]int{"": 0, "read": 1, "write": 2, "admin": 3}
	return rank[rights[repo][role]] >= rank[need]
}

type fixture struct {
	url     string
	srv     *server.Server
	secrets map[string][2]string // role -> user, password
	// manifest is an image manifest whose blobs every fixture repository holds.
	manifest []byte
	config   []byte
	layer    []byte
	// Earlier cases' effects that change what later ones log: the first grant on a
	// repository is add_repo_permission, later ones change_repo_permission; the first upload
	// into acme/ghost creates it.
	granted     map[string]bool
	ghostExists bool
}

func TestMatrix(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			f := newFixture(t, dialect)
			n := f.run(t)
			t.Logf("%s: checked %d authorization cases", dialect, n)
			fmt.Printf("authorization matrix on %s: %d cases checked\n", dialect, n)
		})
	}
}

// newFixture starts the server on the dialect's database with the matrix's config plus
// extra config lines, and seeds the organization, its teams, robot and repositories.
func newFixture(t *testing.T, dialect string, extra ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := "sqlite:///" + filepath.Join(dir, "wharf.db")
	if dialect == "postgres" {
		db = testservers.Postgres(t).NewDatabase(t)
	}
	ts := httptest.NewUnstartedServer(nil)
	host := ts.Listener.Addr().String()
	cfg := fmt.Sprintf(`SERVER_HOSTNAME: %s
PREFERRED_URL_SCHEME: http
DB_URI: %s
DISTRIBUTED_STORAGE_CONFIG:
  default: [LocalStorage, {storage_path: %s}]
DISTRIBUTED_STORAGE_PREFERENCE: [default]
FEATURE_ANONYMOUS_ACCESS: true
FEATURE_SUPER_USERS: true
SUPER_USERS: [root]
FEATURE_USER_LOG_ACCESS: true
FEATURE_GARBAGE_COLLECTION: false
`, host, db, filepath.Join(dir, "storage")) + strings.Join(extra, "\n")
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Options{ConfigDir: dir, DataDir: filepath.Join(dir, "data"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)

	f := &fixture{url: ts.URL, srv: srv, secrets: map[string][2]string{}, granted: map[string]bool{}}
	st := srv.Store
	users := map[string]store.User{}
	if _, err := auth.CreateUser(ctx, st, "bystander", "bystander-password", "", false); err != nil {
		t.Fatal(err)
	}
	for role, name := range map[string]string{outsider: "outsider", member: "tmember", creator: "tcreator", teamAdmin: "tadmin", orgAdmin: "orgadmin", superuser: "root"} {
		u, err := auth.CreateUser(ctx, st, name, name+"-password", name+"@example.test", false)
		if err != nil {
			t.Fatal(err)
		}
		users[role] = u
		f.secrets[role] = [2]string{name, name + "-password"}
	}
	org, err := st.CreateOrganization(ctx, "acme", "acme@example.test", users[orgAdmin].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []struct{ name, role, who string }{{"devs", "member", member}, {"builders", "creator", creator}, {"ops", "admin", teamAdmin}} {
		team, err := st.PutTeam(ctx, org.ID, tm.name, tm.role, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddTeamMember(ctx, team.ID, users[tm.who].ID); err != nil {
			t.Fatal(err)
		}
		if tm.name == "devs" {
			defer func() {
				priv, _ := st.Repository(ctx, "acme", "private")
				if err := st.SetTeamPermission(ctx, priv.ID, team.ID, "write"); err != nil {
					t.Fatal(err)
				}
			}()
		}
	}
	rb, _, err := srv.Auth.CreateRobot(ctx, org.ID, "acme+ci", "CI", "robot-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	f.secrets[robot] = [2]string{"acme+ci", "robot-token-0123456789"}

	// Repositories with content, pushed by their admins over the registry API.
	f.config = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	f.layer = []byte("layer bytes of the matrix fixture")
	f.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digestOf(f.config), len(f.config), digestOf(f.layer), len(f.layer)))
	for _, repo := range []string{"acme/private", "acme/public", "orgadmin/personal"} {
		f.push(t, orgAdmin, repo, "latest")
		for _, role := range roles {
			f.push(t, orgAdmin, repo, "del-"+role)
			f.push(t, orgAdmin, repo, "apidel-"+role)
		}
	}
	pub, _ := st.Repository(ctx, "acme", "public")
	if err := st.SetVisibility(ctx, pub.ID, true); err != nil {
		t.Fatal(err)
	}
	priv, _ := st.Repository(ctx, "acme", "private")
	if err := st.SetUserPermission(ctx, priv.ID, rb.ID, "read"); err != nil {
		t.Fatal(err)
	}
	return f
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// push uploads the fixture blobs and tags the manifest, failing the test on any error.
func (f *fixture) push(t *testing.T, role, repo, tag string) {
	t.Helper()
	for _, blob := range [][]byte{f.config, f.layer} {
		if st, body := f.do(role, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(blob), "application/octet-stream", blob); st != http.StatusCreated {
			t.Fatalf("fixture push of a blob to %s: %d %s", repo, st, body)
		}
	}
	if st, body := f.do(role, "PUT", "/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", f.manifest); st != http.StatusCreated {
		t.Fatalf("fixture push of %s:%s: %d %s", repo, tag, st, body)
	}
}

// do makes a request as a role (Basic credentials; none for anonymous).
func (f *fixture) do(role, method, path, contentType string, body []byte) (int, string) {
	req, _ := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s, ok := f.secrets[role]; ok {
		req.SetBasicAuth(s[0], s[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// check is one case: a role doing one action, and whether the rights table allows it.
type check struct {
	action  string
	method  string
	path    string
	ctype   string
	body    []byte
	allowed bool
	// okStatus are the statuses that mean "done"; refusals are 401 (anonymous) or 403.
	okStatus []int
	// inspect, when set, decides from the response instead of the status.
	inspect func(status int, body string) (allowed bool)
	// logs are the audit log kinds the action writes when allowed (performed by the role,
	// in the repository or namespace acted on); a refused action writes none.
	logs []string
}

func (f *fixture) run(t *testing.T) int {
	n := 0
	for _, role := range roles {
		for _, c := range f.cases(role) {
			n++
			last := f.lastLogID(t)
			status, body := f.do(role, c.method, c.path, c.ctype, c.body)
			f.checkLogs(t, role, c, last)
			var got bool
			if c.inspect != nil {
				got = c.inspect(status, body)
			} else {
				got = slices.Contains(c.okStatus, status)
				if !got {
					want := http.StatusForbidden
					if role == anonymous {
						want = http.StatusUnauthorized
					}
					if status != want {
						t.Errorf("%s %s: refused with %d, want %d (no other answer may tell a refusal apart): %s", role, c.action, status, want, body)
						continue
					}
				}
			}
			if got != c.allowed {
				t.Errorf("%s %s (%s %s): allowed=%v, want %v: %d %s", role, c.action, c.method, c.path, got, c.allowed, status, truncate(body))
			}
		}
	}
	return n
}

// lastLogID is the id of the newest audit log entry.
func (f *fixture) lastLogID(t *testing.T) int64 {
	t.Helper()
	rows, err := f.srv.Store.Logs(context.Background(), store.LogFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return 0
	}
	return rows[0].ID
}

// checkLogs compares the audit entries written since last with what the case expects: its
// kinds when allowed, performed by the role's account; nothing when refused.
func (f *fixture) checkLogs(t *testing.T, role string, c check, last int64) {
	t.Helper()
	rows, err := f.srv.Store.Logs(context.Background(), store.LogFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.ID <= last {
			continue
		}
		got = append(got, r.Kind)
		if want := f.secrets[role][0]; r.Performer != want {
			t.Errorf("%s %s: audit %s performed by %q, want %q", role, c.action, r.Kind, r.Performer, want)
		}
	}
	var want []string
	if c.allowed {
		want = c.logs
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s %s: audit log kinds %v, want %v", role, c.action, got, want)
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// cases lists every action a role attempts.
func (f *fixture) cases(role string) []check {
	var out []check
	ok2xx := []int{200, 201, 202, 204}
	for _, repo := range []string{"acme/private", "acme/public", "orgadmin/personal", "acme/ghost"} {
		exists := repo != "acme/ghost"
		if exists {
			out = append(out,
				check{action: "pull " + repo, method: "GET", path: "/v2/" + repo + "/manifests/latest", allowed: has(role, repo, "read"), okStatus: ok2xx, logs: []string{"pull_repo"}},
				check{action: "list tags of " + repo, method: "GET", path: "/v2/" + repo + "/tags/list", allowed: has(role, repo, "read"), okStatus: ok2xx},
				check{action: "pull blob of " + repo, method: "GET", path: "/v2/" + repo + "/blobs/" + digestOf(f.layer), allowed: has(role, repo, "read"), okStatus: ok2xx},
				check{action: "push to " + repo, method: "PUT", path: "/v2/" + repo + "/manifests/pushed-" + role, ctype: "application/vnd.oci.image.manifest.v1+json",
					body: f.manifest, allowed: has(role, repo, "write"), okStatus: ok2xx, logs: []string{"push_repo"}},
				check{action: "delete tag in " + repo, method: "DELETE", path: "/v2/" + repo + "/manifests/del-" + role, allowed: has(role, repo, "admin"), okStatus: ok2xx, logs: []string{"delete_tag"}},
			)
		} else {
			// Pulling a missing repository: refused exactly like a private one for those
			// without rights; NAME_UNKNOWN only for those who could create it.
			out = append(out, check{action: "pull missing " + repo, method: "GET", path: "/v2/" + repo + "/manifests/latest",
				allowed: has(role, repo, "read"), okStatus: []int{404}})
		}
		var created []string
		if !exists && has(role, repo, "write") && !f.ghostExists {
			created, f.ghostExists = []string{"create_repo"}, true
		}
		out = append(out, check{action: "start upload in " + repo, method: "POST", path: "/v2/" + repo + "/blobs/uploads/",
			allowed: has(role, repo, "write"), okStatus: ok2xx, logs: created})
		// The token endpoint grants exactly the rights the role holds.
		want := auth.RoleActions(rights[repo][role])
		var login []string
		if role != anonymous {
			login = []string{"login_success"}
		}
		out = append(out, check{action: "token scope for " + repo, method: "GET",
			path:    "/v2/auth?service=x&scope=repository:" + repo + ":pull,push,delete",
			allowed: true, logs: login, inspect: func(status int, body string) bool {
				if status != 200 {
					return false
				}
				granted := grantedActions(body, repo)
				return slices.Equal(granted, want)
			}})
	}
	// The REST API applies the same rights (robots may not use it at all).
	api := func(r string) bool { return role != robot && r != "" }
	for _, repo := range []string{"acme/private", "acme/public", "orgadmin/personal"} {
		rr := rights[repo][role]
		if role == robot {
			rr = ""
		}
		grantLog := "add_repo_permission"
		if f.granted[repo] {
			grantLog = "change_repo_permission"
		}
		if api(rr) && has(role, repo, "admin") {
			f.granted[repo] = true
		}
		vis := "private"
		if repo == "acme/public" {
			vis = "public"
		}
		out = append(out,
			check{action: "API: get " + repo, method: "GET", path: "/api/v1/repository/" + repo, allowed: api(rr) && has(role, repo, "read"), okStatus: ok2xx},
			check{action: "API: list tags of " + repo, method: "GET", path: "/api/v1/repository/" + repo + "/tag/", allowed: api(rr) && has(role, repo, "read"), okStatus: ok2xx},
			check{action: "API: get manifest of " + repo, method: "GET", path: "/api/v1/repository/" + repo + "/manifest/" + digestOf(f.manifest), allowed: api(rr) && has(role, repo, "read"), okStatus: ok2xx},
			check{action: "API: tag in " + repo, method: "PUT", path: "/api/v1/repository/" + repo + "/tag/api-" + role, ctype: "application/json",
				body: []byte(`{"manifest_digest":"` + digestOf(f.manifest) + `"}`), allowed: api(rr) && has(role, repo, "write"), okStatus: ok2xx, logs: []string{"create_tag"}},
			check{action: "API: delete tag in " + repo, method: "DELETE", path: "/api/v1/repository/" + repo + "/tag/apidel-" + role, allowed: api(rr) && has(role, repo, "write"), okStatus: ok2xx, logs: []string{"delete_tag"}},
			check{action: "API: set visibility of " + repo, method: "POST", path: "/api/v1/repository/" + repo + "/changevisibility", ctype: "application/json",
				body: []byte(`{"visibility":"` + vis + `"}`), allowed: api(rr) && has(role, repo, "admin"), okStatus: ok2xx, logs: []string{"change_repo_visibility"}},
			check{action: "API: list permissions of " + repo, method: "GET", path: "/api/v1/repository/" + repo + "/permissions/user/", allowed: api(rr) && has(role, repo, "admin"), okStatus: ok2xx},
			check{action: "API: grant on " + repo, method: "PUT", path: "/api/v1/repository/" + repo + "/permissions/user/bystander", ctype: "application/json",
				body: []byte(`{"role":"read"}`), allowed: api(rr) && has(role, repo, "admin"), okStatus: ok2xx, logs: []string{grantLog}},
			check{action: "API: logs of " + repo, method: "GET", path: "/api/v1/repository/" + repo + "/logs", allowed: api(rr) && has(role, repo, "admin"), okStatus: ok2xx},
		)
	}
	orgAdmins := role == orgAdmin || role == teamAdmin || role == superuser
	orgMember := orgAdmins || role == member || role == creator
	out = append(out,
		check{action: "API: create repository in acme", method: "POST", path: "/api/v1/repository", ctype: "application/json",
			body:    []byte(`{"namespace":"acme","repository":"api-` + role + `","visibility":"private","description":""}`),
			allowed: api(rights["acme/ghost"][role]), okStatus: ok2xx, logs: []string{"create_repo"}},
		// Anyone sees an organization's public face (as on Quay); only members see its teams.
		check{action: "API: see the organization's teams", method: "GET", path: "/api/v1/organization/acme", allowed: orgMember && role != robot,
			inspect: func(status int, body string) bool { return status == 200 && strings.Contains(body, `"teams"`) }},
		check{action: "API: create team", method: "PUT", path: "/api/v1/organization/acme/team/t" + role, ctype: "application/json",
			body: []byte(`{"role":"member"}`), allowed: orgAdmins, okStatus: ok2xx, logs: []string{"org_create_team"}},
		check{action: "API: create robot", method: "PUT", path: "/api/v1/organization/acme/robots/r" + role, ctype: "application/json",
			body: []byte(`{"description":"matrix"}`), allowed: orgAdmins, okStatus: ok2xx, logs: []string{"create_robot"}},
		// Members list robots (to grant them access), without their tokens.
		check{action: "API: list robots", method: "GET", path: "/api/v1/organization/acme/robots", allowed: orgMember, okStatus: ok2xx},
		check{action: "API: read a robot's token", method: "GET", path: "/api/v1/organization/acme/robots/ci", allowed: orgAdmins,
			inspect: func(status int, body string) bool {
				return status == 200 && strings.Contains(body, "robot-token-0123456789")
			}},
		check{action: "API: organization logs", method: "GET", path: "/api/v1/organization/acme/logs", allowed: orgAdmins, okStatus: ok2xx},
		check{action: "API: default permissions", method: "GET", path: "/api/v1/organization/acme/prototypes", allowed: orgAdmins, okStatus: ok2xx},
		check{action: "API: superuser user list", method: "GET", path: "/api/v1/superuser/users/", allowed: role == superuser, okStatus: ok2xx},
		check{action: "API: current user", method: "GET", path: "/api/v1/user/", allowed: role != anonymous && role != robot, okStatus: ok2xx},
	)
	// The catalog lists acme/private only to those who may read it.
	out = append(out, check{action: "see acme/private in the catalog", method: "GET", path: "/v2/_catalog",
		allowed: has(role, "acme/private", "read"), inspect: func(status int, body string) bool {
			return status == 200 && strings.Contains(body, `"acme/private"`)
		}})
	return out
}

// grantedActions decodes a token response's JWT claims and returns the actions it grants on
// repo.
func grantedActions(body, repo string) []string {
	var resp struct {
		Token string `json:"token"`
	}
	if json.Unmarshal([]byte(body), &resp) != nil {
		return []string{"undecodable"}
	}
	parts := strings.Split(resp.Token, ".")
	if len(parts) != 3 {
		return []string{"malformed"}
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return []string{"malformed"}
	}
	var claims struct {
		Access []auth.Access `json:"access"`
	}
	json.Unmarshal(payload, &claims)
	var out []string
	for _, a := range claims.Access {
		if a.Type == "repository" && a.Name == repo {
			out = append(out, a.Actions...)
		}
	}
	return out
}
