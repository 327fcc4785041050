// Package ldap tests LDAP authentication end to end: a user who exists only in a real
// OpenLDAP server (slapd) logs in with podman over ldaps:// with a private CA, pushes into
// an organization through a team synchronized with their LDAP group, and loses access
// when removed from the group and the team resyncs.
package ldap

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

func TestLDAPUserPushesThroughSyncedTeam(t *testing.T) {
	dir := testservers.Slapd(t)
	dir.AddUser(t, "people", "boss", "boss-password", "boss@example.test")
	dir.AddUser(t, "people", "ldev", "ldev-password", "ldev@example.test")
	dir.AddUser(t, "contractors", "carol", "carol-password", "carol@example.test")
	dir.AddGroup(t, "devs", "ldev", "carol")

	w := testservers.StartWharf(t, testservers.WharfOptions{
		Config: `AUTHENTICATION_TYPE: LDAP
LDAP_URI: ` + dir.LDAPSURI + `
LDAP_BASE_DN: [dc=wharf, dc=test]
LDAP_USER_RDN: [ou=people]
LDAP_SECONDARY_USER_RDNS: [ou=contractors]
LDAP_ADMIN_DN: ` + dir.AdminDN + `
LDAP_ADMIN_PASSWD: ` + dir.AdminPassword + `
LDAP_UID_ATTR: uid
LDAP_EMAIL_ATTR: mail
FEATURE_TEAM_SYNCING: true
TEAM_RESYNC_STALE_TIME: 1s
FEATURE_SUPER_USERS: true
SUPER_USERS: [boss]
FEATURE_GARBAGE_COLLECTION: false
`,
		Files: map[string][]byte{"extra_ca_certs/ldap.crt": dir.CACertPEM},
	})
	api := &client{t: t, url: w.URL, user: "boss", password: "boss-password"}

	// A password user of the database does not exist here: only the directory's users do.
	if st, _ := (&client{t: t, url: w.URL, user: "admin", password: w.Password}).call("GET", "/api/v1/user/", nil); st != http.StatusUnauthorized {
		t.Fatalf("database user accepted under LDAP: %d", st)
	}
	// The superuser from LDAP sets up the organization, a private repository, and a team
	// synchronized with the devs group that may write to it.
	api.must(201, "POST", "/api/v1/organization/", map[string]any{"name": "acme", "email": "acme@example.test"})
	api.must(201, "POST", "/api/v1/repository", map[string]any{"namespace": "acme", "repository": "app", "visibility": "private", "description": ""})
	api.must(200, "PUT", "/api/v1/organization/acme/team/devs", map[string]any{"role": "member"})
	api.must(200, "POST", "/api/v1/organization/acme/team/devs/syncing", map[string]any{"group_dn": "cn=devs,ou=groups"})
	api.must(200, "PUT", "/api/v1/repository/acme/app/permissions/team/devs", map[string]any{"role": "write"})
	waitMembers(t, api, []string{"carol", "ldev"})

	// ldev logs in with podman (by uid, with the LDAP password) and pushes.
	p := testservers.NewPodman(t)
	p.ImportImage("localhost/ldap-test:v1", map[string]string{"hello.txt": "pushed by an LDAP user\n"})
	if out, err := p.Login(w.Host, "ldev", "ldev-password"); err != nil {
		t.Fatalf("podman login as an LDAP user: %v\n%s", err, out)
	}
	if out, err := p.Login(w.Host, "ldev", "wrong-password"); err == nil {
		t.Fatalf("podman login with a wrong LDAP password succeeded:\n%s", out)
	}
	p.Login(w.Host, "ldev", "ldev-password")
	ref := w.Host + "/acme/app:v1"
	p.Must("push", "--tls-verify=false", "localhost/ldap-test:v1", ref)

	// The action log shows the push by ldev and the synchronized membership.
	// The organization's log holds exactly the set-up, the synchronized memberships and the
	// push; what ldev did across the registry is its first login (which created its account),
	// the failed one, the others, and the push.
	wantLogs(t, api, "/api/v1/organization/acme/logs", []string{
		"org_create by boss", "create_repo by boss", "org_create_team by boss", "enable_team_sync by boss",
		"add_repo_permission by boss", "org_add_team_member", "org_add_team_member", "push_repo by ldev",
	})
	wantLogs(t, api, "/api/v1/superuser/logs?performer=ldev", []string{
		"user_create by ldev", "login_success by ldev", "login_failure by ldev", "login_success by ldev",
		"login_success by ldev", "push_repo by ldev",
	})

	// Removed from the group, ldev leaves the team at the next resync and loses access.
	dir.RemoveMember(t, "devs", "ldev")
	waitMembers(t, api, []string{"carol"})
	if out, err := p.Run("", "push", "--tls-verify=false", "localhost/ldap-test:v1", w.Host+"/acme/app:v2"); err == nil {
		t.Fatalf("push after removal from the LDAP group succeeded:\n%s", out)
	} else if !strings.Contains(strings.ToLower(out), "denied") && !strings.Contains(strings.ToLower(out), "unauthorized") {
		t.Fatalf("push after removal failed for another reason:\n%s", out)
	}
	if out, err := p.Run("", "pull", "--tls-verify=false", ref); err == nil {
		t.Fatalf("pull after removal from the LDAP group succeeded:\n%s", out)
	}
	if n := countLog(api.logs("/api/v1/organization/acme/logs"), "org_remove_team_member"); n != 1 {
		t.Fatalf("%d org_remove_team_member entries after the resync, want 1", n)
	}
}

// wantLogs compares the entries at path, as "kind by performer" (just "kind" when
// anonymous or the system), with want, in any order.
func wantLogs(t *testing.T, api *client, path string, want []string) {
	t.Helper()
	var got []string
	for _, l := range api.logs(path) {
		s := l.Kind
		if l.Performer != nil && l.Performer.Name != "" {
			s += " by " + l.Performer.Name
		}
		got = append(got, s)
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("audit log at %s:\n got %q\nwant %q", path, got, want)
	}
}

func countLog(logs []logEntry, kind string) int {
	n := 0
	for _, l := range logs {
		if l.Kind == kind {
			n++
		}
	}
	return n
}

// waitMembers waits until team acme/devs has exactly the members named.
func waitMembers(t *testing.T, api *client, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		var out struct {
			Members []struct {
				Name string `json:"name"`
			} `json:"members"`
		}
		api.mustInto(200, "GET", "/api/v1/organization/acme/team/devs/members", nil, &out)
		got = got[:0]
		for _, m := range out.Members {
			got = append(got, m.Name)
		}
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("team acme/devs members = %v, want %v", got, want)
}

type logEntry struct {
	Kind      string `json:"kind"`
	Performer *struct {
		Name string `json:"name"`
	} `json:"performer"`
}

// client calls the REST API with Basic credentials.
type client struct {
	t              *testing.T
	url            string
	user, password string
}

func (c *client) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.user, c.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (c *client) must(want int, method, path string, body any) {
	c.t.Helper()
	c.mustInto(want, method, path, body, nil)
}

func (c *client) mustInto(want int, method, path string, body, out any) {
	c.t.Helper()
	st, raw := c.call(method, path, body)
	if st != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, st, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

func (c *client) logs(path string) []logEntry {
	c.t.Helper()
	var out struct {
		Logs []logEntry `json:"logs"`
	}
	c.mustInto(200, "GET", path, nil, &out)
	return out.Logs
}
