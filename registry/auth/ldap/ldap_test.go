package ldap

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

const registryGroup = "cn=registry,ou=groups,dc=wharf,dc=test"

// fixture is a directory with these users:
//
//	ou=people:      alice, bob, bobby (mail "bob"), dave (not in cn=registry), nopw (no
//	                password), twin1 and twin2 (one shared mail)
//	ou=contractors: carol
//
// and the group cn=registry holding everyone but dave.
type fixture struct {
	srv  *testservers.SlapdServer
	pool *x509.CertPool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := testservers.Slapd(t)
	users := []struct{ ou, uid, password, email string }{
		{"people", "alice", "alice-pw", "alice@wharf.test"},
		{"people", "bob", "bob-pw", "bob@wharf.test"},
		{"people", "bobby", "bobby-pw", "bob"},
		{"people", "dave", "dave-pw", "dave@wharf.test"},
		{"people", "nopw", "", "nopw@wharf.test"},
		{"people", "twin1", "twin1-pw", "twins@wharf.test"},
		{"people", "twin2", "twin2-pw", "twins@wharf.test"},
		{"contractors", "carol", "carol-pw", "carol@wharf.test"},
	}
	for _, u := range users {
		srv.AddUser(t, u.ou, u.uid, u.password, u.email)
	}
	srv.AddGroup(t, "registry", "alice", "bob", "bobby", "nopw", "twin1", "twin2", "carol")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM) {
		t.Fatal("the test CA does not parse")
	}
	return &fixture{srv: srv, pool: pool}
}

// config returns the fixture's settings as Quay would write them, changed by mutate.
func (f *fixture) config(mutate func(*Config)) Config {
	cfg := Config{
		URI:               f.srv.URI,
		BaseDN:            []string{"dc=wharf", "dc=test"},
		UserRDN:           []string{"ou=people"},
		SecondaryUserRDNs: [][]string{{"ou=contractors"}},
		AdminDN:           f.srv.AdminDN,
		AdminPassword:     f.srv.AdminPassword,
		Timeout:           5 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

func (f *fixture) directory(t *testing.T, mutate func(*Config)) *Directory {
	t.Helper()
	d, err := New(f.config(mutate))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// adminConn is a go-ldap connection bound as the admin, for entries the harness does not make.
func (f *fixture) adminConn(t *testing.T) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(f.srv.URI)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(f.srv.AdminDN, f.srv.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

func withFilter(cfg *Config)       { cfg.UserFilter = "(memberOf=" + registryGroup + ")" }
func withoutSecondary(cfg *Config) { cfg.SecondaryUserRDNs = nil }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// checkErr fails the test unless err matches every error of want (none: nil) and none of
// notWant, and its text holds has.
func checkErr(t *testing.T, err error, want []error, notWant []error, has string) {
	t.Helper()
	if len(want) == 0 && has == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v %q", want, has)
	}
	t.Logf("error: %v", err)
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not match %q", err, w)
		}
	}
	for _, n := range notWant {
		if errors.Is(err, n) {
			t.Errorf("error %q matches %q, it must not", err, n)
		}
	}
	if !strings.Contains(err.Error(), has) {
		t.Errorf("error %q does not say %q", err, has)
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	people := ",ou=people,dc=wharf,dc=test"
	tests := []struct {
		name            string
		mutate          func(*Config)
		login, password string
		want            User
		wantErr         []error
		notErr          []error
		errHas          string
	}{
		{name: "uid", login: "alice", password: "alice-pw",
			want: User{Username: "alice", Email: "alice@wharf.test", DN: "uid=alice" + people}},
		{name: "uid in other case", login: "ALICE", password: "alice-pw",
			want: User{Username: "alice", Email: "alice@wharf.test", DN: "uid=alice" + people}},
		{name: "email", login: "alice@wharf.test", password: "alice-pw",
			want: User{Username: "alice", Email: "alice@wharf.test", DN: "uid=alice" + people}},
		{name: "wrong password", login: "alice", password: "bob-pw",
			wantErr: []error{ErrInvalidCredentials}, notErr: []error{ErrNotFound}},
		{name: "empty password", login: "alice", password: "",
			wantErr: []error{ErrInvalidCredentials}, errHas: "empty password"},
		{name: "empty password even with a broken admin bind", login: "alice", password: "",
			mutate:  func(c *Config) { c.AdminPassword = "wrong" },
			wantErr: []error{ErrInvalidCredentials}},
		{name: "empty login", login: " ", password: "alice-pw", wantErr: []error{ErrInvalidCredentials}},
		{name: "unknown user", login: "mallory", password: "x",
			wantErr: []error{ErrInvalidCredentials, ErrNotFound}},
		{name: "entry without password", login: "nopw", password: "anything",
			wantErr: []error{ErrInvalidCredentials}},
		{name: "secondary RDN", login: "carol", password: "carol-pw",
			want: User{Username: "carol", Email: "carol@wharf.test", DN: "uid=carol,ou=contractors,dc=wharf,dc=test"}},
		{name: "secondary RDN by email", login: "carol@wharf.test", password: "carol-pw",
			want: User{Username: "carol", Email: "carol@wharf.test", DN: "uid=carol,ou=contractors,dc=wharf,dc=test"}},
		{name: "secondary RDN not configured", mutate: withoutSecondary, login: "carol", password: "carol-pw",
			wantErr: []error{ErrInvalidCredentials, ErrNotFound}},
		{name: "user filter passes", mutate: withFilter, login: "carol", password: "carol-pw",
			want: User{Username: "carol", Email: "carol@wharf.test", DN: "uid=carol,ou=contractors,dc=wharf,dc=test"}},
		{name: "user filter excludes", mutate: withFilter, login: "dave", password: "dave-pw",
			wantErr: []error{ErrInvalidCredentials, ErrNotFound}},
		{name: "user filter without parentheses", login: "dave", password: "dave-pw",
			mutate:  func(c *Config) { c.UserFilter = "memberOf=" + registryGroup },
			wantErr: []error{ErrInvalidCredentials, ErrNotFound}},
		{name: "no filter admits dave", login: "dave", password: "dave-pw",
			want: User{Username: "dave", Email: "dave@wharf.test", DN: "uid=dave" + people}},
		{name: "filter injection with a wildcard", login: "*", password: "alice-pw",
			wantErr: []error{ErrInvalidCredentials, ErrNotFound}},
		{name: "filter injection with parentheses", login: "alice)(uid=*", password: "alice-pw",
			wantErr: []error{ErrInvalidCredentials, ErrNotFound}},
		{name: "exact uid wins over an email match", login: "bob", password: "bob-pw",
			want: User{Username: "bob", Email: "bob@wharf.test", DN: "uid=bob" + people}},
		{name: "shared email is ambiguous", login: "twins@wharf.test", password: "twin1-pw",
			wantErr: []error{ErrAmbiguous}, notErr: []error{ErrInvalidCredentials}, errHas: "twin"},
		{name: "shared email user by uid", login: "twin2", password: "twin2-pw",
			want: User{Username: "twin2", Email: "twins@wharf.test", DN: "uid=twin2" + people}},
		{name: "other email attribute", login: "alice", password: "alice-pw",
			mutate: func(c *Config) { c.EmailAttr = "cn" },
			want:   User{Username: "alice", Email: "alice", DN: "uid=alice" + people}},
		{name: "other uid attribute", login: "alice@wharf.test", password: "alice-pw",
			mutate: func(c *Config) { c.UIDAttr = "mail" },
			want:   User{Username: "alice@wharf.test", Email: "alice@wharf.test", DN: "uid=alice" + people}},
		{name: "user RDN is the whole base", login: "carol", password: "carol-pw", mutate: func(c *Config) {
			c.UserRDN, c.SecondaryUserRDNs = nil, nil
		}, want: User{Username: "carol", Email: "carol@wharf.test", DN: "uid=carol,ou=contractors,dc=wharf,dc=test"}},
		{name: "wrong admin password is no user error", login: "alice", password: "alice-pw",
			mutate: func(c *Config) { c.AdminPassword = "wrong" },
			notErr: []error{ErrInvalidCredentials, ErrNotFound},
			errHas: "check LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD"},
		{name: "missing primary subtree", login: "mallory", password: "x",
			mutate: func(c *Config) { c.UserRDN = []string{"ou=staff"} },
			notErr: []error{ErrInvalidCredentials}, errHas: "ou=staff,dc=wharf,dc=test does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := f.directory(t, tc.mutate)
			got, err := d.Verify(ctx(t), tc.login, tc.password)
			checkErr(t, err, tc.wantErr, tc.notErr, tc.errHas)
			if got != tc.want {
				t.Errorf("Verify(%q) = %+v, want %+v", tc.login, got, tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		mutate   func(*Config)
		username string
		want     User
		wantErr  error
	}{
		{name: "primary", username: "alice",
			want: User{Username: "alice", Email: "alice@wharf.test", DN: "uid=alice,ou=people,dc=wharf,dc=test"}},
		{name: "secondary", username: "carol",
			want: User{Username: "carol", Email: "carol@wharf.test", DN: "uid=carol,ou=contractors,dc=wharf,dc=test"}},
		{name: "no password is still a user", username: "nopw",
			want: User{Username: "nopw", Email: "nopw@wharf.test", DN: "uid=nopw,ou=people,dc=wharf,dc=test"}},
		{name: "unknown", username: "mallory", wantErr: ErrNotFound},
		{name: "empty", username: "", wantErr: ErrNotFound},
		{name: "email is no username", username: "alice@wharf.test", wantErr: ErrNotFound},
		{name: "filtered out", mutate: withFilter, username: "dave", wantErr: ErrNotFound},
		{name: "outside the subtrees", mutate: withoutSecondary, username: "carol", wantErr: ErrNotFound},
		{name: "wildcard", username: "a*", wantErr: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.directory(t, tc.mutate).Lookup(ctx(t), tc.username)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Lookup(%q) error = %v, want %v", tc.username, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Lookup(%q) = %+v, want %+v", tc.username, got, tc.want)
			}
		})
	}
}

func TestGroupMembers(t *testing.T) {
	f := newFixture(t)
	f.srv.AddGroup(t, "devs", "alice", "carol")
	f.srv.AddGroup(t, "empty")
	c := f.adminConn(t)
	posix := goldap.NewAddRequest("cn=posix,ou=groups,dc=wharf,dc=test", nil)
	posix.Attribute("objectClass", []string{"top", "posixGroup"})
	posix.Attribute("cn", []string{"posix"})
	posix.Attribute("gidNumber", []string{"1000"})
	posix.Attribute("memberUid", []string{"alice", "ghost", "carol"})
	unique := goldap.NewAddRequest("cn=unique,ou=groups,dc=wharf,dc=test", nil)
	unique.Attribute("objectClass", []string{"top", "groupOfUniqueNames"})
	unique.Attribute("cn", []string{"unique"})
	unique.Attribute("uniqueMember", []string{"uid=alice,ou=people,dc=wharf,dc=test#'0101'B", "uid=dave,ou=people,dc=wharf,dc=test"})
	for _, req := range []*goldap.AddRequest{posix, unique} {
		if err := c.Add(req); err != nil {
			t.Fatalf("add %s: %v", req.DN, err)
		}
	}

	type step struct {
		name    string
		mutate  func(*Config)
		group   string
		want    []string
		wantErr error
		errHas  string
	}
	check := func(t *testing.T, tc step) {
		t.Helper()
		users, err := f.directory(t, tc.mutate).GroupMembers(ctx(t), tc.group)
		if tc.wantErr != nil || tc.errHas != "" {
			checkErr(t, err, errorsOf(tc.wantErr), nil, tc.errHas)
			return
		}
		if err != nil {
			t.Fatalf("GroupMembers(%q): %v", tc.group, err)
		}
		got := make([]string, len(users))
		for i, u := range users {
			got[i] = u.Username
			if u.DN == "" || u.Email == "" {
				t.Errorf("member %+v lacks its DN or email", u)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("GroupMembers(%q) = %q, want %q", tc.group, got, tc.want)
		}
	}

	static := []step{
		{name: "relative", group: "cn=devs,ou=groups", want: []string{"alice", "carol"}},
		{name: "absolute", group: "cn=devs,ou=groups,dc=wharf,dc=test", want: []string{"alice", "carol"}},
		{name: "absolute in other case", group: "CN=devs, OU=groups, DC=Wharf, DC=test", want: []string{"alice", "carol"}},
		{name: "secondary subtree not configured", mutate: withoutSecondary, group: "cn=devs,ou=groups", want: []string{"alice"}},
		{name: "user filter", mutate: withFilter, group: "cn=unique,ou=groups", want: []string{"alice"}},
		{name: "uniqueMember with a UID", group: "cn=unique,ou=groups", want: []string{"alice", "dave"}},
		{name: "memberUid", group: "cn=posix,ou=groups", want: []string{"alice", "carol"}},
		{name: "only a non-user member", group: "cn=empty,ou=groups", want: nil},
		{name: "registry", group: registryGroup, want: []string{"alice", "bob", "bobby", "carol", "nopw", "twin1", "twin2"}},
		{name: "missing group", group: "cn=nope,ou=groups", wantErr: ErrNotFound, errHas: "cn=nope,ou=groups,dc=wharf,dc=test does not exist"},
		{name: "missing absolute group", group: "cn=nope,ou=groups,dc=wharf,dc=test", wantErr: ErrNotFound, errHas: "cn=nope,ou=groups,dc=wharf,dc=test does not exist"},
		{name: "not a DN", group: "devs", errHas: "not a DN"},
		{name: "empty DN", group: "", errHas: "empty group DN"},
	}
	for _, tc := range static {
		t.Run(tc.name, func(t *testing.T) { check(t, tc) })
	}

	dynamic := []struct {
		change func()
		step
	}{
		{func() { f.srv.AddMember(t, "devs", "dave") }, step{name: "after AddMember", group: "cn=devs,ou=groups", want: []string{"alice", "carol", "dave"}}},
		{func() { f.srv.RemoveMember(t, "devs", "alice") }, step{name: "after RemoveMember", group: "cn=devs,ou=groups", want: []string{"carol", "dave"}}},
		{func() { f.srv.AddMember(t, "empty", "bob") }, step{name: "empty group filled", group: "cn=empty,ou=groups", want: []string{"bob"}}},
		{func() { f.srv.DeleteUser(t, "carol") }, step{name: "deleted member skipped", group: "cn=devs,ou=groups", want: []string{"dave"}}},
		{func() { f.srv.RemoveMember(t, "devs", "dave") }, step{name: "after the last user left", group: "cn=devs,ou=groups", want: nil}},
	}
	for _, tc := range dynamic {
		tc.change()
		t.Run(tc.name, func(t *testing.T) { check(t, tc.step) })
	}
}

// errorsOf returns err as a list, empty for nil.
func errorsOf(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestTLS(t *testing.T) {
	f := newFixture(t)
	plainPort := f.srv.URI[strings.LastIndex(f.srv.URI, ":")+1:]
	// 127.0.0.2, which the server's certificate does not name, forwarded to its ldaps port.
	otherName := forward(t, "127.0.0.2:0", strings.Replace(strings.TrimPrefix(f.srv.LDAPSURI, "ldaps://"), "localhost", "127.0.0.1", 1))
	tests := []struct {
		name   string
		mutate func(*Config)
		errHas string
	}{
		{name: "ldaps with the CA", mutate: func(c *Config) { c.URI, c.RootCAs = f.srv.LDAPSURI, f.pool }},
		{name: "ldaps without the CA", mutate: func(c *Config) { c.URI = f.srv.LDAPSURI },
			errHas: "add the CA that signed the LDAP server's certificate to the extra CA certificates"},
		{name: "ldaps by IP address", mutate: func(c *Config) {
			c.URI, c.RootCAs = strings.Replace(f.srv.LDAPSURI, "localhost", "127.0.0.1", 1), f.pool
		}},
		{name: "ldaps with a name the certificate lacks", mutate: func(c *Config) {
			c.URI, c.RootCAs = "ldaps://"+otherName, f.pool
		}, errHas: "LDAP_URI must name the host as the server's certificate does"},
		{name: "ldaps to the plain port", mutate: func(c *Config) {
			c.URI, c.RootCAs = "ldaps://localhost:"+plainPort, f.pool
		}, errHas: "speaks TLS"},
		{name: "StartTLS with the CA", mutate: func(c *Config) { c.StartTLS, c.RootCAs = true, f.pool }},
		{name: "StartTLS without the CA", mutate: func(c *Config) { c.StartTLS = true },
			errHas: "extra CA certificates (extra_ca_certs)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := f.directory(t, tc.mutate)
			err := d.Ping(ctx(t))
			checkErr(t, err, nil, nil, tc.errHas)
			u, err := d.Verify(ctx(t), "alice", "alice-pw")
			checkErr(t, err, nil, []error{ErrInvalidCredentials}, tc.errHas)
			if tc.errHas == "" && u.Username != "alice" {
				t.Errorf("Verify over TLS = %+v", u)
			}
		})
	}
}

// forward listens on listen and copies every connection to and from target, until the test
// ends; it returns the address it listens on.
func forward(t *testing.T, listen, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("listen on %s: %v", listen, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return l.Addr().String()
}

func TestPing(t *testing.T) {
	f := newFixture(t)
	closedPort := testservers.FreePort(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		errHas string
	}{
		{name: "ok"},
		{name: "wrong admin password", mutate: func(c *Config) { c.AdminPassword = "wrong" },
			errHas: "ldap: bind as cn=admin,dc=wharf,dc=test failed: invalid credentials: check LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD"},
		{name: "unknown admin DN", mutate: func(c *Config) { c.AdminDN = "cn=nobody,dc=wharf,dc=test" },
			errHas: "check LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD"},
		{name: "nothing listens", mutate: func(c *Config) { c.URI = "ldap://127.0.0.1:" + strconv.Itoa(closedPort) },
			errHas: "check LDAP_URI and that the LDAP server is reachable"},
		{name: "missing user subtree", mutate: func(c *Config) { c.UserRDN = []string{"ou=staff"} },
			errHas: "user subtree ou=staff,dc=wharf,dc=test does not exist"},
		{name: "missing secondary subtree", mutate: func(c *Config) { c.SecondaryUserRDNs = [][]string{{"ou=contractors"}, {"ou=temps"}} },
			errHas: "user subtree ou=temps,dc=wharf,dc=test does not exist"},
		{name: "wrong base DN", mutate: func(c *Config) { c.BaseDN = []string{"dc=example", "dc=com"} },
			errHas: "check LDAP_BASE_DN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.directory(t, tc.mutate).Ping(ctx(t))
			checkErr(t, err, nil, []error{ErrInvalidCredentials, ErrNotFound}, tc.errHas)
		})
	}
}

func TestCanceled(t *testing.T) {
	f := newFixture(t)
	d := f.directory(t, nil)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Verify(c, "alice", "alice-pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a canceled context: %v, want context.Canceled", err)
	}
	if _, err := d.GroupMembers(c, registryGroup); !errors.Is(err, context.Canceled) {
		t.Errorf("GroupMembers with a canceled context: %v, want context.Canceled", err)
	}
}

func TestNew(t *testing.T) {
	valid := func() Config {
		return Config{
			URI:           "ldap://ldap.example.com",
			BaseDN:        []string{"dc=example", "dc=com"},
			UserRDN:       []string{"ou=people"},
			AdminDN:       "cn=admin,dc=example,dc=com",
			AdminPassword: "secret",
		}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		errHas  []string
		network string
	}{
		{name: "defaults", network: "ldap.example.com:389"},
		{name: "ldaps default port", mutate: func(c *Config) { c.URI = "ldaps://ldap.example.com" }, network: "ldap.example.com:636"},
		{name: "explicit port", mutate: func(c *Config) { c.URI = "ldap://[::1]:1389/" }, network: "[::1]:1389"},
		{name: "no URI", mutate: func(c *Config) { c.URI = "" }, errHas: []string{"LDAP_URI is empty"}},
		{name: "bad scheme", mutate: func(c *Config) { c.URI = "http://ldap.example.com" }, errHas: []string{"ldap:// or ldaps://"}},
		{name: "URI with a DN", mutate: func(c *Config) { c.URI = "ldap://ldap.example.com/dc=example,dc=com" }, errHas: []string{"without a DN"}},
		{name: "StartTLS on ldaps", mutate: func(c *Config) { c.URI, c.StartTLS = "ldaps://h", true }, errHas: []string{"StartTLS applies to ldap:// only"}},
		{name: "no base DN", mutate: func(c *Config) { c.BaseDN = nil }, errHas: []string{"LDAP_BASE_DN is empty"}},
		{name: "bad base DN", mutate: func(c *Config) { c.BaseDN = []string{"example"} }, errHas: []string{"LDAP_BASE_DN \"example\" is not a DN"}},
		{name: "bad user RDN", mutate: func(c *Config) { c.UserRDN = []string{"people"} }, errHas: []string{"LDAP_USER_RDN"}},
		{name: "empty secondary RDN", mutate: func(c *Config) { c.SecondaryUserRDNs = [][]string{{}} }, errHas: []string{"LDAP_SECONDARY_USER_RDNS[0] is empty"}},
		{name: "bad filter", mutate: func(c *Config) { c.UserFilter = "(memberOf=cn=x" }, errHas: []string{"LDAP_USER_FILTER"}},
		{name: "no admin", mutate: func(c *Config) { c.AdminDN, c.AdminPassword = "", "" },
			errHas: []string{"LDAP_ADMIN_DN is empty", "LDAP_ADMIN_PASSWD is empty"}},
		{name: "bad attributes", mutate: func(c *Config) { c.UIDAttr, c.EmailAttr = "u id", "(mail)" },
			errHas: []string{"LDAP_UID_ATTR", "LDAP_EMAIL_ATTR"}},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -time.Second }, errHas: []string{"negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			d, err := New(cfg)
			if len(tc.errHas) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if d.network != tc.network || d.cfg.UIDAttr != "uid" || d.cfg.EmailAttr != "mail" || d.cfg.Timeout != DefaultTimeout {
					t.Errorf("New = network %q, uid %q, email %q, timeout %s", d.network, d.cfg.UIDAttr, d.cfg.EmailAttr, d.cfg.Timeout)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted %+v", cfg)
			}
			for _, has := range tc.errHas {
				if !strings.Contains(err.Error(), has) {
					t.Errorf("error %q does not say %q", err, has)
				}
			}
		})
	}
}

func TestUniqueMemberDN(t *testing.T) {
	tests := map[string]string{
		"uid=a,dc=x":          "uid=a,dc=x",
		"uid=a,dc=x#'0101'B":  "uid=a,dc=x",
		"cn=a\\#b,dc=x":       "cn=a\\#b,dc=x",
		"uid=a,dc=x#'0101'Bz": "uid=a,dc=x#'0101'Bz",
	}
	for in, want := range tests {
		if got := uniqueMemberDN(in); got != want {
			t.Errorf("uniqueMemberDN(%q) = %q, want %q", in, got, want)
		}
	}
}
