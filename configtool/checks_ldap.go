package configtool

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/wharf-registry/wharf/registry/auth/ldap"
	"github.com/wharf-registry/wharf/schema"
)

func init() {
	consistencyChecks = append(consistencyChecks, checkLDAPSettings)
	checks = append(checks, Check{Group: GroupAuth, Run: checkLDAP})
}

// ldapConfig is the LDAP provider's settings as `wharf serve` builds them, with the check's
// timeout.
func ldapConfig(cfg *schema.Config, roots *x509.CertPool, timeout time.Duration) ldap.Config {
	c := ldap.ConfigFrom(cfg, roots)
	c.Timeout = timeout
	return c
}

// ldapKeyRE finds the config key an LDAP provider error names.
var ldapKeyRE = regexp.MustCompile(`LDAP_[A-Z_]+(\[[0-9]+\])?`)

// ldapKeyOf returns the key path an LDAP error is about, or def.
func ldapKeyOf(msg, def string) string {
	m := ldapKeyRE.FindStringSubmatch(msg)
	if m == nil {
		return def
	}
	key := strings.TrimSuffix(m[0], m[1])
	if m[1] != "" {
		key += "/" + strings.Trim(m[1], "[]")
	}
	return key
}

// checkLDAPSettings runs the LDAP provider's own checks of its settings (URI form, DN
// syntax, filter syntax, attribute names), which `wharf serve` would fail on, when
// AUTHENTICATION_TYPE is LDAP.
func checkLDAPSettings(cfg *schema.Config, _ Source) []schema.Problem {
	if cfg.AuthenticationType != "LDAP" {
		return nil
	}
	_, err := ldap.New(ldapConfig(cfg, nil, 0))
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var out []schema.Problem
	for _, e := range errs {
		msg := strings.TrimPrefix(e.Error(), "ldap: ")
		out = append(out, cfg.Problem(ldapKeyOf(msg, "LDAP_URI"), msg))
	}
	return out
}

// checkLDAP binds with LDAP_ADMIN_DN, checks the user subtrees exist, and finds at least one
// user there that LDAP_USER_FILTER lets in.
func checkLDAP(ctx context.Context, env *Env) []Result {
	cfg := env.Config
	bind := newResult(GroupAuth, "ldap bind", "LDAP_ADMIN_DN")
	if cfg.AuthenticationType != "LDAP" {
		return []Result{newResult(GroupAuth, "ldap", "AUTHENTICATION_TYPE").skip("AUTHENTICATION_TYPE is %s: no LDAP server to check", cfg.AuthenticationType)}
	}
	start := time.Now()
	ctx, cancel := withTimeout(ctx, env)
	defer cancel()
	conf := ldapConfig(cfg, extraCAs(env.Source), env.Timeout)
	d, err := ldap.New(conf)
	if err != nil {
		return []Result{bind.fail(start, "%v", err)}
	}
	if err := d.Ping(ctx); err != nil {
		msg := strings.TrimPrefix(err.Error(), "ldap: ")
		switch {
		case strings.Contains(msg, "connect to") || strings.Contains(msg, "TLS"):
			bind.Path = "LDAP_URI"
		case strings.Contains(msg, "user subtree"):
			bind.Path = "LDAP_USER_RDN"
		default:
			bind.Path = ldapKeyOf(msg, "LDAP_URI")
		}
		return []Result{bind.fail(start, "%s", msg)}
	}
	out := []Result{bind.ok(start, "bound to %s as %s; the user subtrees exist", cfg.LDAPURI, cfg.LDAPAdminDN)}
	users := newResult(GroupAuth, "ldap users", "LDAP_USER_RDN")
	if cfg.LDAPUserFilter != "" {
		users.Path = "LDAP_USER_FILTER"
	}
	found, where, err := findAnyUser(ctx, conf)
	switch {
	case err != nil:
		out = append(out, users.fail(start, "%v", err))
	case found == nil:
		out = append(out, users.fail(start, "no entry under %s has %s and matches LDAP_USER_FILTER %q: add users there, or check LDAP_USER_RDN, LDAP_USER_FILTER and LDAP_UID_ATTR",
			strings.Join(where, " or "), conf.UIDAttr, cfg.LDAPUserFilter))
	default:
		out = append(out, users.ok(start, "found user %s (%s)", found.GetEqualFoldAttributeValue(conf.UIDAttr), found.DN))
	}
	return out
}

// findAnyUser searches the user subtrees, in order, for one entry that has the UID attribute
// and passes the user filter. It returns nil and the subtrees searched when there is none.
func findAnyUser(ctx context.Context, conf ldap.Config) (*goldap.Entry, []string, error) {
	u, err := url.Parse(strings.TrimSpace(conf.URI))
	if err != nil {
		return nil, nil, fmt.Errorf("LDAP_URI: %w", err)
	}
	opts := []goldap.DialOpt{goldap.DialWithDialer(&net.Dialer{Timeout: conf.Timeout})}
	if u.Scheme == "ldaps" {
		opts = append(opts, goldap.DialWithTLSConfig(tlsConfigFor(conf.RootCAs, u.Hostname())))
	}
	conn, err := goldap.DialURL(u.String(), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s again to search for users: %w", conf.URI, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetTimeout(conf.Timeout)
	if err := conn.Bind(conf.AdminDN, conf.AdminPassword); err != nil {
		return nil, nil, fmt.Errorf("bind as %s to search for users: %w", conf.AdminDN, err)
	}
	filter := "(" + conf.UIDAttr + "=*)"
	if f := strings.TrimSpace(conf.UserFilter); f != "" {
		if !strings.HasPrefix(f, "(") {
			f = "(" + f + ")"
		}
		filter = "(&" + filter + f + ")"
	}
	base := joinDN(conf.BaseDN)
	var searched []string
	for _, rdns := range append([][]string{conf.UserRDN}, conf.SecondaryUserRDNs...) {
		dn := base
		if rel := joinDN(rdns); rel != "" {
			dn = rel + "," + base
		}
		searched = append(searched, dn)
		res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			1, max(1, int(conf.Timeout.Seconds())), false, filter, []string{conf.UIDAttr}, nil))
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			if ctx.Err() != nil {
				return nil, searched, fmt.Errorf("search %s for users: %w", dn, ctx.Err())
			}
			return nil, searched, fmt.Errorf("search %s for users with %s: %w", dn, filter, err)
		}
		if res != nil && len(res.Entries) > 0 {
			return res.Entries[0], searched, nil
		}
	}
	return nil, searched, nil
}

func joinDN(rdns []string) string {
	parts := make([]string, 0, len(rdns))
	for _, r := range rdns {
		if r = strings.TrimSpace(r); r != "" {
			parts = append(parts, r)
		}
	}
	return strings.Join(parts, ",")
}
