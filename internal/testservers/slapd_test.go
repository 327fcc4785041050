package testservers

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestSlapd(t *testing.T) {
	start := time.Now()
	s := Slapd(t)
	t.Logf("slapd started and seeded in %s", time.Since(start).Round(time.Millisecond))

	s.AddUser(t, "people", "alice", "alice-pw", "alice@example.com")
	s.AddUser(t, "contractors", "carol", "carol-pw", "carol@example.com")
	s.AddUser(t, "people", "nomail", "nomail-pw", "")
	s.AddGroup(t, "devs", "alice")
	s.AddGroup(t, "empty")

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM) {
		t.Fatal("CACertPEM holds no certificate")
	}
	dialers := []struct {
		name string
		dial func() (*ldap.Conn, error)
	}{
		{"plain", func() (*ldap.Conn, error) { return ldap.DialURL(s.URI) }},
		{"ldaps", func() (*ldap.Conn, error) {
			return ldap.DialURL(s.LDAPSURI, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"}))
		}},
		{"starttls", func() (*ldap.Conn, error) {
			c, err := ldap.DialURL(s.URI)
			if err != nil {
				return nil, err
			}
			if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}},
	}
	binds := []struct {
		dn, password string
		ok           bool
	}{
		{s.AdminDN, s.AdminPassword, true},
		{s.AdminDN, "wrong", false},
		{"uid=alice,ou=people," + s.BaseDN, "alice-pw", true},
		{"uid=alice,ou=people," + s.BaseDN, "wrong", false},
		{"uid=carol,ou=contractors," + s.BaseDN, "carol-pw", true},
	}
	for _, d := range dialers {
		t.Run(d.name, func(t *testing.T) {
			for _, b := range binds {
				c, err := d.dial()
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				err = c.Bind(b.dn, b.password)
				c.Close()
				if (err == nil) != b.ok {
					t.Errorf("bind %s with %q: err = %v, want success %v", b.dn, b.password, err, b.ok)
				}
				if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
					t.Errorf("bind %s: %v, want invalid credentials", b.dn, err)
				}
			}
		})
	}

	c := s.conn(t)
	defer c.Close()
	members := func(group string) []string {
		t.Helper()
		got := s.members(t, c, group)
		slices.Sort(got)
		return got
	}
	memberOf := func(uid string) []string {
		t.Helper()
		res, err := c.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(uid="+uid+")", []string{"memberOf"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("find %s: %v", uid, err)
		}
		return res.Entries[0].GetAttributeValues("memberOf")
	}
	alice, carol := "uid=alice,ou=people,"+s.BaseDN, "uid=carol,ou=contractors,"+s.BaseDN
	devs := "cn=devs,ou=groups," + s.BaseDN
	steps := []struct {
		name       string
		do         func()
		devs       []string
		empty      []string
		carolGroup []string
	}{
		{"seeded", func() {}, []string{alice}, []string{s.AdminDN}, nil},
		{"add carol", func() { s.AddMember(t, "devs", "carol") }, []string{alice, carol}, []string{s.AdminDN}, []string{devs}},
		{"fill empty", func() { s.AddMember(t, "empty", "alice") }, []string{alice, carol}, []string{alice}, []string{devs}},
		{"remove alice", func() { s.RemoveMember(t, "devs", "alice") }, []string{carol}, []string{alice}, []string{devs}},
		{"remove last", func() { s.RemoveMember(t, "devs", "carol") }, []string{s.AdminDN}, []string{alice}, nil},
	}
	for _, step := range steps {
		step.do()
		if got := members("devs"); !slices.Equal(got, step.devs) {
			t.Errorf("%s: devs members = %q, want %q", step.name, got, step.devs)
		}
		if got := members("empty"); !slices.Equal(got, step.empty) {
			t.Errorf("%s: empty members = %q, want %q", step.name, got, step.empty)
		}
		if got := memberOf("carol"); !slices.Equal(got, step.carolGroup) {
			t.Errorf("%s: carol memberOf = %q, want %q", step.name, got, step.carolGroup)
		}
	}

	s.DeleteUser(t, "nomail")
	res, err := c.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(uid=nomail)", nil, nil))
	if err != nil || len(res.Entries) != 0 {
		t.Errorf("after DeleteUser: %d entries, err %v", len(res.Entries), err)
	}
}

func TestSlapdStopsAfterTest(t *testing.T) {
	var addrs []string
	t.Run("server", func(t *testing.T) {
		s := Slapd(t)
		for _, uri := range []string{s.URI, s.LDAPSURI} {
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatal(err)
			}
			addrs = append(addrs, u.Host)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", strings.Replace(addr, "localhost", "127.0.0.1", 1), time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("slapd still listens on %s after its test ended", addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
