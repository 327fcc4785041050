package ldap

import (
	"crypto/x509"
	"time"

	"github.com/wharf-registry/wharf/schema"
)

// ConfigFrom maps config.yaml's LDAP_* keys to the directory's settings, trusting roots (the
// system roots plus extra_ca_certs) for ldaps:// and StartTLS. `wharf serve` and `wharf config
// validate` both build their directory from it.
func ConfigFrom(cfg *schema.Config, roots *x509.CertPool) Config {
	return Config{
		URI:               cfg.LDAPURI,
		BaseDN:            cfg.LDAPBaseDN,
		UserRDN:           cfg.LDAPUserRDN,
		SecondaryUserRDNs: cfg.SecondaryUserRDNs(),
		UserFilter:        cfg.LDAPUserFilter,
		AdminDN:           cfg.LDAPAdminDN,
		AdminPassword:     cfg.LDAPAdminPasswd,
		UIDAttr:           cfg.LDAPUIDAttr,
		EmailAttr:         cfg.LDAPEmailAttr,
		RootCAs:           roots,
		Timeout:           time.Duration(max(cfg.LDAPTimeout, cfg.LDAPNetworkTimeout)) * time.Second,
	}
}
