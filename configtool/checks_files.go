package configtool

import (
	"fmt"
	"strings"

	"github.com/wharf-registry/wharf/schema"
)

func init() {
	consistencyChecks = append(consistencyChecks, checkExtraCAFiles)
}

// checkExtraCAFiles requires every file in extra_ca_certs/ to hold PEM certificates and
// nothing else: Wharf adds them to the roots it trusts for LDAP, OIDC, Redis, PostgreSQL,
// mail and the scanner.
func checkExtraCAFiles(_ *schema.Config, src Source) []schema.Problem {
	var out []schema.Problem
	for _, name := range extraCAFiles(src) {
		certs, other, err := pemCertificates(src.Files[name])
		switch {
		case err != nil:
			out = append(out, schema.Problem{Path: name, Message: fmt.Sprintf("not a valid certificate: %v: replace it with the CA certificate in PEM form", err)})
		case len(other) > 0:
			out = append(out, schema.Problem{Path: name, Message: fmt.Sprintf("holds %s besides certificates: keep only CA certificates (PEM \"CERTIFICATE\" blocks) in %s/", strings.Join(other, ", "), ExtraCADir)})
		case len(certs) == 0:
			out = append(out, schema.Problem{Path: name, Message: "holds no PEM certificate: put CA certificates in PEM form (-----BEGIN CERTIFICATE-----) here, or remove the file"})
		}
	}
	return out
}
