// Package ldap is the LDAP identity provider: it checks passwords against an LDAP directory and
// reads users and group members from it, with Quay's LDAP settings and their meanings.
//
// As in Quay, users are found with the admin bind (LDAP_ADMIN_DN) by their UID attribute or
// their email under the user subtree (LDAP_USER_RDN under LDAP_BASE_DN), then under each
// secondary subtree in order, narrowed by LDAP_USER_FILTER; the password is then checked by
// binding as the user's DN. Where Quay's behaviour is a flaw, this package does better:
//   - a login matching several entries is refused (ErrAmbiguous) instead of taking the first,
//     except that an exact UID match wins over email matches;
//   - a missing user subtree is reported as a configuration error, not as "user not found";
//   - group members are read from the group entry itself (member, uniqueMember, memberUid), so
//     team sync does not need the directory's memberOf overlay.
//
// Every operation opens its own connection and closes it afterwards; a Directory holds no
// connection and is safe for concurrent use.
package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Config is Quay's LDAP settings.
type Config struct {
	// URI is LDAP_URI: one ldap:// or ldaps:// URL, with an optional port (389 and 636 by
	// default).
	URI string
	// BaseDN is LDAP_BASE_DN, the directory's suffix as a list of RDNs, e.g.
	// ["dc=wharf", "dc=test"].
	BaseDN []string
	// UserRDN is LDAP_USER_RDN, the user subtree relative to BaseDN, e.g. ["ou=people"]. Empty
	// means the whole base.
	UserRDN []string
	// SecondaryUserRDNs is LDAP_SECONDARY_USER_RDNS: more user subtrees, each a list of RDNs
	// relative to BaseDN, searched in order after UserRDN.
	SecondaryUserRDNs [][]string
	// UserFilter is LDAP_USER_FILTER, an LDAP filter every user must also match, e.g.
	// "(memberOf=cn=registry,ou=groups,dc=wharf,dc=test)". Optional.
	UserFilter string
	// AdminDN and AdminPassword are LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD: the bind used to
	// search the directory.
	AdminDN       string
	AdminPassword string
	// UIDAttr is LDAP_UID_ATTR, the attribute holding usernames; "uid" by default.
	UIDAttr string
	// EmailAttr is LDAP_EMAIL_ATTR, the attribute holding email addresses; "mail" by default.
	EmailAttr string
	// RootCAs verifies the server's certificate for ldaps:// and StartTLS (Quay's
	// extra_ca_certs added to the system's); nil means the system pool.
	RootCAs *x509.CertPool
	// StartTLS upgrades ldap:// connections with the StartTLS operation before any bind, so
	// that passwords never cross the network in clear. Quay has no such key; ldaps:// is the
	// Quay way.
	StartTLS bool
	// Timeout is LDAP_TIMEOUT / LDAP_NETWORK_TIMEOUT: the limit for connecting and for each
	// request; 10s by default.
	Timeout time.Duration
}

// DefaultTimeout is the connection and request timeout when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// User is a user as the directory knows it.
type User struct {
	// Username is the value of the UID attribute, as the directory spells it.
	Username string
	// Email is the first value of the email attribute; empty when the entry has none.
	Email string
	// DN is the user's entry.
	DN string
}

var (
	// ErrInvalidCredentials means the login and password do not identify a user: unknown
	// login, wrong or empty password.
	ErrInvalidCredentials = errors.New("ldap: invalid username or password")
	// ErrNotFound means the user or group does not exist (or the user fails the user filter
	// or lies outside the user subtrees).
	ErrNotFound = errors.New("ldap: not found")
	// ErrAmbiguous means a login matches several directory entries, so it names no one user.
	ErrAmbiguous = errors.New("ldap: login matches several users")
)

// Directory is an LDAP directory configured from Config.
type Directory struct {
	cfg       Config
	network   string // host:port
	ldaps     bool
	tlsConfig *tls.Config
	baseDN    string
	base      *goldap.DN
	userDNs   []string // the primary user subtree, then the secondary ones
	userBases []*goldap.DN
	filter    string // the normalized user filter, "" for none
}

// attrRE matches an attribute description: a name or a numeric OID.
var attrRE = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)$`)

// New checks cfg and returns the directory it describes. It does not connect: Ping does.
// Every problem found is reported, each naming its config key.
func New(cfg Config) (*Directory, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("ldap: "+format, args...)) }

	if cfg.UIDAttr == "" {
		cfg.UIDAttr = "uid"
	}
	if cfg.EmailAttr == "" {
		cfg.EmailAttr = "mail"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	d := &Directory{cfg: cfg}

	uri := strings.TrimSpace(cfg.URI)
	u, err := url.Parse(uri)
	switch {
	case uri == "":
		bad("LDAP_URI is empty: set it to ldap://HOST or ldaps://HOST")
	case err != nil:
		bad("LDAP_URI %q is not a URL: %v", uri, err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		bad("LDAP_URI %q: the scheme must be ldap:// or ldaps://", uri)
	case u.Hostname() == "":
		bad("LDAP_URI %q names no host", uri)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		bad("LDAP_URI %q: give only ldap[s]://HOST[:PORT], without a DN, query or user", uri)
	default:
		d.ldaps = u.Scheme == "ldaps"
		port := u.Port()
		if port == "" {
			port = "389"
			if d.ldaps {
				port = "636"
			}
		}
		d.network = net.JoinHostPort(u.Hostname(), port)
		d.tlsConfig = &tls.Config{RootCAs: cfg.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if d.ldaps && cfg.StartTLS {
			bad("LDAP_URI %q is already ldaps://: StartTLS applies to ldap:// only", uri)
		}
	}

	d.baseDN = joinRDNs(cfg.BaseDN)
	if d.baseDN == "" {
		bad(`LDAP_BASE_DN is empty: set it to the directory's suffix, e.g. ["dc=example", "dc=com"]`)
	} else if d.base, err = goldap.ParseDN(d.baseDN); err != nil {
		bad("LDAP_BASE_DN %q is not a DN: %v", d.baseDN, err)
	}

	subtrees := append([][]string{cfg.UserRDN}, cfg.SecondaryUserRDNs...)
	for i, rdns := range subtrees {
		key := "LDAP_USER_RDN"
		if i > 0 {
			key = fmt.Sprintf("LDAP_SECONDARY_USER_RDNS[%d]", i-1)
		}
		rel := joinRDNs(rdns)
		if rel == "" && i > 0 {
			bad("%s is empty: remove it or give RDNs such as [\"ou=contractors\"]", key)
			continue
		}
		full := d.baseDN
		if rel != "" {
			if _, err := goldap.ParseDN(rel); err != nil {
				bad("%s %q is not a relative DN: %v", key, rel, err)
				continue
			}
			full = rel + "," + d.baseDN
		}
		dn, err := goldap.ParseDN(full)
		if err != nil {
			continue // the base DN is reported already
		}
		d.userDNs = append(d.userDNs, full)
		d.userBases = append(d.userBases, dn)
	}

	if f := strings.TrimSpace(cfg.UserFilter); f != "" {
		if !strings.HasPrefix(f, "(") {
			f = "(" + f + ")"
		}
		if _, err := goldap.CompileFilter(f); err != nil {
			bad("LDAP_USER_FILTER %q is not an LDAP filter: %v", cfg.UserFilter, err)
		}
		d.filter = f
	}

	if cfg.AdminDN == "" {
		bad("LDAP_ADMIN_DN is empty: set the DN that searches the directory")
	} else if _, err := goldap.ParseDN(cfg.AdminDN); err != nil {
		bad("LDAP_ADMIN_DN %q is not a DN: %v", cfg.AdminDN, err)
	}
	if cfg.AdminPassword == "" {
		bad("LDAP_ADMIN_PASSWD is empty: an LDAP bind without a password is anonymous; set the admin DN's password")
	}
	if !attrRE.MatchString(cfg.UIDAttr) {
		bad("LDAP_UID_ATTR %q is not an attribute name", cfg.UIDAttr)
	}
	if !attrRE.MatchString(cfg.EmailAttr) {
		bad("LDAP_EMAIL_ATTR %q is not an attribute name", cfg.EmailAttr)
	}
	if cfg.Timeout < 0 {
		bad("LDAP_TIMEOUT %s is negative", cfg.Timeout)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// joinRDNs joins Quay's list form of a DN, trimming spaces and empty parts.
func joinRDNs(rdns []string) string {
	parts := make([]string, 0, len(rdns))
	for _, r := range rdns {
		if r = strings.TrimSpace(r); r != "" {
			parts = append(parts, r)
		}
	}
	return strings.Join(parts, ",")
}
