package testservers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SlapdServer is an OpenLDAP server (Debian's slapd) started for one test. Its directory holds
// the base entry, cn=admin (an organizationalRole, outside the user subtrees), ou=people and
// ou=contractors (two user subtrees, for LDAP_USER_RDN and LDAP_SECONDARY_USER_RDNS) and
// ou=groups. The memberof overlay is on, so users carry memberOf values for filters such as
// Quay's LDAP_USER_FILTER "(memberOf=cn=registry,ou=groups,dc=wharf,dc=test)".
type SlapdServer struct {
	// URI is the plain LDAP listener, ldap://127.0.0.1:PORT. It also offers StartTLS with the
	// same certificate as LDAPSURI.
	URI string
	// LDAPSURI is the TLS listener, ldaps://localhost:PORT, with a certificate for localhost and
	// 127.0.0.1 signed by CACertPEM.
	LDAPSURI string
	// CACertPEM is the test CA, made for this server alone, that signed its certificate.
	CACertPEM []byte
	// BaseDN is the directory's suffix, "dc=wharf,dc=test".
	BaseDN string
	// AdminDN and AdminPassword are the root DN's credentials, allowed everything.
	AdminDN       string
	AdminPassword string
}

// slapdBaseDN is the suffix of every test directory.
const slapdBaseDN = "dc=wharf,dc=test"

// Slapd starts a fresh OpenLDAP server for this test, stopped when the test ends. It listens on
// free loopback ports, keeps its configuration and database in a private directory and runs as
// the current user; it is ready (accepting an admin bind, base entries seeded) on return.
func Slapd(t testing.TB) *SlapdServer {
	t.Helper()
	bin := LookTool(t, "slapd", "/usr/sbin")
	dir := t.TempDir()
	s := &SlapdServer{
		BaseDN:        slapdBaseDN,
		AdminDN:       "cn=admin," + slapdBaseDN,
		AdminPassword: randomHex(12),
	}
	if err := s.writeConfig(dir); err != nil {
		t.Fatalf("slapd: %v", err)
	}
	// A port found free may be taken before slapd binds it: then try other ports.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var retry bool
		retry, err = s.start(t, bin, dir)
		if err == nil || !retry {
			break
		}
	}
	if err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	if err := s.seed(); err != nil {
		t.Fatalf("slapd: seed the directory: %v", err)
	}
	return s
}

// writeConfig writes the TLS files and slapd.conf into dir.
func (s *SlapdServer) writeConfig(dir string) error {
	caPEM, certPEM, keyPEM, err := slapdCertificates()
	if err != nil {
		return err
	}
	s.CACertPEM = caPEM
	files := map[string][]byte{"ca.pem": caPEM, "server.pem": certPEM, "server.key": keyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	q := func(name string) string { return strconv.Quote(filepath.Join(dir, name)) }
	var conf strings.Builder
	for _, schema := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&conf, "include /etc/ldap/schema/%s.schema\n", schema)
	}
	fmt.Fprintf(&conf, `pidfile %s
argsfile %s
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
TLSVerifyClient never

database mdb
suffix %q
rootdn %q
rootpw %q
directory %s
maxsize 104857600
dbnosync
index objectClass,uid,mail,member,memberUid eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
overlay memberof
`, q("slapd.pid"), q("slapd.args"), q("ca.pem"), q("server.pem"), q("server.key"),
		s.BaseDN, s.AdminDN, s.AdminPassword, q("data"))
	return os.WriteFile(filepath.Join(dir, "slapd.conf"), []byte(conf.String()), 0o600)
}

// start runs slapd on two free ports and waits until it accepts an admin bind. retry reports
// that slapd exited because a port was taken meanwhile.
func (s *SlapdServer) start(t testing.TB, bin, dir string) (retry bool, err error) {
	t.Helper()
	port, tlsPort := FreePort(t), FreePort(t)
	for tlsPort == port {
		tlsPort = FreePort(t)
	}
	s.URI = "ldap://127.0.0.1:" + strconv.Itoa(port)
	s.LDAPSURI = "ldaps://localhost:" + strconv.Itoa(tlsPort)
	listen := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", port, tlsPort)

	// -d none keeps slapd in the foreground and prints only its errors.
	cmd := exec.Command(bin, "-f", filepath.Join(dir, "slapd.conf"), "-h", listen, "-d", "none")
	_, retry, err = startForTest(t, "slapd", cmd, 30*time.Second, s.ping, "errno=98", "in use")
	return retry, err
}

func (s *SlapdServer) ping() error {
	c, err := s.dial()
	if err != nil {
		return err
	}
	return c.Close()
}

// dial connects to the plain listener and binds as the admin.
func (s *SlapdServer) dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL(s.URI, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		c.Close()
		return nil, fmt.Errorf("bind as %s: %w", s.AdminDN, err)
	}
	return c, nil
}

// conn returns an admin connection for the caller to close.
func (s *SlapdServer) conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := s.dial()
	if err != nil {
		t.Fatalf("slapd: connect to %s: %v", s.URI, err)
	}
	return c
}

// seed adds the base entry, the admin entry and the organizational units.
func (s *SlapdServer) seed() error {
	c, err := s.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	entries := []struct {
		dn    string
		attrs map[string][]string
	}{
		{s.BaseDN, map[string][]string{"objectClass": {"top", "dcObject", "organization"}, "dc": {"wharf"}, "o": {"Wharf tests"}}},
		{s.AdminDN, map[string][]string{"objectClass": {"top", "organizationalRole"}, "cn": {"admin"}}},
		{"ou=people," + s.BaseDN, map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {"people"}}},
		{"ou=contractors," + s.BaseDN, map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {"contractors"}}},
		{"ou=groups," + s.BaseDN, map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {"groups"}}},
	}
	for _, e := range entries {
		req := ldap.NewAddRequest(e.dn, nil)
		for name, values := range e.attrs {
			req.Attribute(name, values)
		}
		if err := c.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", e.dn, err)
		}
	}
	return nil
}

// AddUser adds an inetOrgPerson uid=UID,ou=OU under the base DN, with cn and sn set to the uid.
// ou is "people" or "contractors"; an empty email or password leaves that attribute out.
func (s *SlapdServer) AddUser(t testing.TB, ou, uid, password, email string) {
	t.Helper()
	dn := "uid=" + ldap.EscapeDN(uid) + ",ou=" + ldap.EscapeDN(ou) + "," + s.BaseDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
	req.Attribute("uid", []string{uid})
	req.Attribute("cn", []string{uid})
	req.Attribute("sn", []string{uid})
	if email != "" {
		req.Attribute("mail", []string{email})
	}
	if password != "" {
		req.Attribute("userPassword", []string{password})
	}
	c := s.conn(t)
	defer c.Close()
	if err := c.Add(req); err != nil {
		t.Fatalf("slapd: add user %s: %v", dn, err)
	}
}

// DeleteUser deletes the user with this uid. Groups keep their member values naming it.
func (s *SlapdServer) DeleteUser(t testing.TB, uid string) {
	t.Helper()
	c := s.conn(t)
	defer c.Close()
	dn := s.userDN(t, c, uid)
	if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("slapd: delete %s: %v", dn, err)
	}
}

// AddGroup adds a groupOfNames cn=CN,ou=groups under the base DN whose members are the users
// with these uids (found anywhere under the base DN). A group without members holds the admin
// DN instead, as groupOfNames requires a member.
func (s *SlapdServer) AddGroup(t testing.TB, cn string, memberUIDs ...string) {
	t.Helper()
	c := s.conn(t)
	defer c.Close()
	members := []string{s.AdminDN}
	if len(memberUIDs) > 0 {
		members = members[:0]
		for _, uid := range memberUIDs {
			members = append(members, s.userDN(t, c, uid))
		}
	}
	dn := s.groupDN(cn)
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "groupOfNames"})
	req.Attribute("cn", []string{cn})
	req.Attribute("member", members)
	if err := c.Add(req); err != nil {
		t.Fatalf("slapd: add group %s: %v", dn, err)
	}
}

// AddMember adds the user with this uid to the group cn=GROUP,ou=groups.
func (s *SlapdServer) AddMember(t testing.TB, group, uid string) {
	t.Helper()
	c := s.conn(t)
	defer c.Close()
	user := s.userDN(t, c, uid)
	dn := s.groupDN(group)
	req := ldap.NewModifyRequest(dn, nil)
	req.Add("member", []string{user})
	for _, m := range s.members(t, c, group) {
		if strings.EqualFold(m, s.AdminDN) {
			req.Delete("member", []string{m})
		}
	}
	if err := c.Modify(req); err != nil {
		t.Fatalf("slapd: add member %s to %s: %v", user, dn, err)
	}
}

// RemoveMember removes the user with this uid from the group cn=GROUP,ou=groups.
func (s *SlapdServer) RemoveMember(t testing.TB, group, uid string) {
	t.Helper()
	c := s.conn(t)
	defer c.Close()
	user := s.userDN(t, c, uid)
	dn := s.groupDN(group)
	req := ldap.NewModifyRequest(dn, nil)
	if members := s.members(t, c, group); len(members) == 1 && strings.EqualFold(members[0], user) {
		req.Replace("member", []string{s.AdminDN})
	} else {
		req.Delete("member", []string{user})
	}
	if err := c.Modify(req); err != nil {
		t.Fatalf("slapd: remove member %s from %s: %v", user, dn, err)
	}
}

func (s *SlapdServer) groupDN(cn string) string {
	return "cn=" + ldap.EscapeDN(cn) + ",ou=groups," + s.BaseDN
}

// members returns the group's member values.
func (s *SlapdServer) members(t testing.TB, c *ldap.Conn, group string) []string {
	t.Helper()
	dn := s.groupDN(group)
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"member"}, nil))
	if err != nil {
		t.Fatalf("slapd: read group %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValues("member")
}

// userDN finds the DN of the user with this uid under the base DN.
func (s *SlapdServer) userDN(t testing.TB, c *ldap.Conn, uid string) string {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=inetOrgPerson)(uid="+ldap.EscapeFilter(uid)+"))", []string{"1.1"}, nil))
	if err != nil {
		t.Fatalf("slapd: find user %s: %v", uid, err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("slapd: %d users have uid %s, want 1", len(res.Entries), uid)
	}
	return res.Entries[0].DN
}

// slapdCertificates makes a test CA and a server certificate it signs for localhost,
// 127.0.0.1 and ::1, all PEM-encoded.
func slapdCertificates() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          slapdSerial(),
		Subject:               pkix.Name{CommonName: "Wharf test LDAP CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: slapdSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode server key: %w", err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return caPEM, certPEM, keyPEM, nil
}

func slapdSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
