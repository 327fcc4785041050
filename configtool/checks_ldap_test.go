package configtool

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestLDAPCheck(t *testing.T) {
	s := testservers.Slapd(t)
	s.AddUser(t, "people", "alice", "alice-pw", "alice@example.com")
	s.AddGroup(t, "registry", "alice")
	otherCA := makeCert(t, certSpec{cn: "Other CA", ca: true}, nil)
	closed := testservers.FreePort(t)
	trust := map[string]string{"extra_ca_certs/ldap-ca.pem": string(s.CACertPEM)}
	config := func(uri, password string, extra ...string) string {
		return fmt.Sprintf(`AUTHENTICATION_TYPE: LDAP
LDAP_URI: %s
LDAP_BASE_DN: [dc=wharf, dc=test]
LDAP_ADMIN_DN: %s
LDAP_ADMIN_PASSWD: %q
LDAP_UID_ATTR: uid
LDAP_EMAIL_ATTR: mail
%s`, uri, s.AdminDN, password, strings.Join(extra, "\n")+"\n")
	}
	people := "LDAP_USER_RDN: [ou=people]"
	cases := []struct {
		name   string
		config string
		files  map[string]string
		wants  []want
	}{
		{"good bind, user found", config(s.URI, s.AdminPassword, people), nil,
			[]want{
				{StatusOK, "ldap bind", "LDAP_ADMIN_DN", []string{"bound to " + s.URI + " as " + s.AdminDN}},
				{StatusOK, "ldap users", "LDAP_USER_RDN", []string{"found user alice", "uid=alice,ou=people,dc=wharf,dc=test"}},
			}},
		{"ldaps with the CA in extra_ca_certs, and a user filter", config(s.LDAPSURI, s.AdminPassword, people, "LDAP_USER_FILTER: (memberOf=cn=registry,ou=groups,dc=wharf,dc=test)"), trust,
			[]want{
				{StatusOK, "ldap bind", "", []string{s.LDAPSURI}},
				{StatusOK, "ldap users", "LDAP_USER_FILTER", []string{"found user alice"}},
			}},
		{"wrong password", config(s.URI, "wrong", people), nil,
			[]want{{StatusFailed, "ldap bind", "LDAP_ADMIN_DN", []string{"invalid credentials", "check LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD"}}}},
		{"wrong CA", config(s.LDAPSURI, s.AdminPassword, people), map[string]string{"extra_ca_certs/other.pem": otherCA.certPEM()},
			[]want{{StatusFailed, "ldap bind", "LDAP_URI", []string{"TLS with", "unknown authority", "extra_ca_certs"}}}},
		{"nothing listens", config("ldap://127.0.0.1:"+strconv.Itoa(closed), s.AdminPassword, people), nil,
			[]want{{StatusFailed, "ldap bind", "LDAP_URI", []string{"connection refused", "check LDAP_URI"}}}},
		{"user subtree missing", config(s.URI, s.AdminPassword, "LDAP_USER_RDN: [ou=staff]"), nil,
			[]want{{StatusFailed, "ldap bind", "LDAP_USER_RDN", []string{"ou=staff,dc=wharf,dc=test does not exist"}}}},
		{"no users in the subtree", config(s.URI, s.AdminPassword, "LDAP_USER_RDN: [ou=contractors]"), nil,
			[]want{
				{StatusOK, "ldap bind", "", nil},
				{StatusFailed, "ldap users", "LDAP_USER_RDN", []string{"no entry under ou=contractors,dc=wharf,dc=test has uid", "add users there"}},
			}},
		{"a filter nobody passes", config(s.URI, s.AdminPassword, people, "LDAP_USER_FILTER: (memberOf=cn=nobody,ou=groups,dc=wharf,dc=test)"), nil,
			[]want{
				{StatusOK, "ldap bind", "", nil},
				{StatusFailed, "ldap users", "LDAP_USER_FILTER", []string{"matches LDAP_USER_FILTER", "cn=nobody"}},
			}},
		{"users found in a secondary subtree", config(s.URI, s.AdminPassword, "LDAP_USER_RDN: [ou=contractors]", "LDAP_SECONDARY_USER_RDNS: [[ou=people]]"), nil,
			[]want{{StatusOK, "ldap bind", "", nil}, {StatusOK, "ldap users", "", []string{"found user alice"}}}},
		{"database authentication", "AUTHENTICATION_TYPE: Database\nFEATURE_TEAM_SYNCING: true\n", nil,
			[]want{{StatusSkipped, "ldap", "AUTHENTICATION_TYPE", []string{"AUTHENTICATION_TYPE is Database"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkGroup(t, GroupAuth, c.config, c.files), c.wants...)
		})
	}
}

func TestLDAPSettingProblems(t *testing.T) {
	base := "AUTHENTICATION_TYPE: LDAP\nLDAP_BASE_DN: [dc=wharf, dc=test]\nLDAP_ADMIN_DN: cn=admin,dc=wharf,dc=test\nLDAP_ADMIN_PASSWD: pw\n"
	cases := []struct {
		name   string
		config string
		path   string
		line   int
		words  []string
	}{
		{"URI with a DN", base + "LDAP_URI: ldap://ldap.example.com/dc=wharf\n", "LDAP_URI", 5, []string{"without a DN"}},
		{"filter that does not parse", base + "LDAP_URI: ldap://ldap.example.com\nLDAP_USER_FILTER: (memberOf=cn=x\n", "LDAP_USER_FILTER", 6, []string{"is not an LDAP filter"}},
		{"empty secondary subtree", base + "LDAP_URI: ldap://ldap.example.com\nLDAP_SECONDARY_USER_RDNS: [[]]\n", "LDAP_SECONDARY_USER_RDNS/0", 0, []string{"is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := problemsOf(t, tc.config, nil)
			if len(problems) != 1 {
				t.Errorf("got %d problems, want 1: %v", len(problems), problems)
			}
			expectProblem(t, problems, tc.path, tc.line, tc.words...)
		})
	}
	if problems := problemsOf(t, base+"LDAP_URI: ldaps://ldap.example.com:636\nLDAP_USER_RDN: [ou=people]\n", nil); len(problems) != 0 {
		t.Errorf("problems in a good LDAP config: %v", problems)
	}
}

func TestLDAPKeyOf(t *testing.T) {
	for msg, want := range map[string]string{
		`LDAP_URI "x" names no host`:               "LDAP_URI",
		"LDAP_SECONDARY_USER_RDNS[2] is empty":     "LDAP_SECONDARY_USER_RDNS/2",
		"bind failed: check LDAP_ADMIN_DN and ...": "LDAP_ADMIN_DN",
		"no key here": "DEFAULT",
	} {
		if got := ldapKeyOf(msg, "DEFAULT"); got != want {
			t.Errorf("ldapKeyOf(%q) = %q, want %q", msg, got, want)
		}
	}
}
