package configtool

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/schema"
)

// ExpiryWarning is how close to its end a certificate's validity must be for the TLS check to
// say so.
const ExpiryWarning = 30 * 24 * time.Hour

func init() {
	consistencyChecks = append(consistencyChecks, checkTLSFiles)
	checks = append(checks, Check{Group: GroupServer, Local: true, Run: checkTLS})
}

// checkTLSFiles finds what is wrong with the TLS files before they are used: a certificate
// without its key (or the reverse), files that hold no certificate or key, and https without
// any way to serve it.
func checkTLSFiles(cfg *schema.Config, src Source) []schema.Problem {
	var out []schema.Problem
	cert, hasCert := src.Files[CertFile]
	key, hasKey := src.Files[KeyFile]
	switch {
	case hasCert && !hasKey:
		out = append(out, schema.Problem{Path: KeyFile, Message: fmt.Sprintf("%s is present but %s is missing: put the certificate's private key (PEM) in %s beside config.yaml", CertFile, KeyFile, KeyFile)})
	case hasKey && !hasCert:
		out = append(out, schema.Problem{Path: CertFile, Message: fmt.Sprintf("%s is present but %s is missing: put the certificate (PEM, the server's first, then intermediates) in %s beside config.yaml", KeyFile, CertFile, CertFile)})
	}
	if hasCert {
		certs, _, err := pemCertificates(cert)
		switch {
		case err != nil:
			out = append(out, schema.Problem{Path: CertFile, Message: fmt.Sprintf("not a valid certificate: %v: replace it with the PEM certificate", err)})
		case len(certs) == 0:
			out = append(out, schema.Problem{Path: CertFile, Message: "holds no PEM certificate (-----BEGIN CERTIFICATE-----): put the server's certificate here, then its intermediates"})
		}
	}
	if hasKey && !hasPrivateKey(key) {
		out = append(out, schema.Problem{Path: KeyFile, Message: "holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY): put the certificate's unencrypted private key here"})
	}
	if cfg.PreferredURLScheme == "https" && !hasCert && !cfg.ExternalTLSTermination && !cfg.FeatureACMETLS {
		out = append(out, cfg.Problem("PREFERRED_URL_SCHEME", fmt.Sprintf(
			"https needs a certificate: put %s and %s beside config.yaml (or run `wharf config tls`), set FEATURE_ACME_TLS: true to get one from ACME, or set EXTERNAL_TLS_TERMINATION: true when a proxy in front of Wharf ends TLS", CertFile, KeyFile)))
	}
	return out
}

func hasPrivateKey(data []byte) bool {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") && !strings.Contains(block.Type, "ENCRYPTED") {
			return true
		}
	}
}

// checkTLS checks ssl.cert and ssl.key: the key belongs to the certificate, the certificate
// names SERVER_HOSTNAME, is valid now, and chains to a trusted root when the file carries
// its chain.
func checkTLS(_ context.Context, env *Env) []Result {
	cfg, src := env.Config, env.Source
	certPEM, hasCert := src.Files[CertFile]
	keyPEM, hasKey := src.Files[KeyFile]
	if !hasCert || !hasKey {
		r := newResult(GroupServer, "tls", CertFile)
		switch {
		case cfg.FeatureACMETLS:
			return []Result{r.skip("no %s: FEATURE_ACME_TLS gets the certificate from ACME when `wharf serve` starts", CertFile)}
		case cfg.ExternalTLSTermination:
			return []Result{r.skip("no %s: EXTERNAL_TLS_TERMINATION says a proxy in front of Wharf ends TLS", CertFile)}
		}
		return []Result{r.skip("no %s and %s: Wharf serves plain HTTP", CertFile, KeyFile)}
	}
	return tlsResults(cfg, src, certPEM, keyPEM, time.Now())
}

// tlsResults checks the certificate and key as of now.
func tlsResults(cfg *schema.Config, src Source, certPEM, keyPEM []byte, now time.Time) []Result {
	start := time.Now()
	var out []Result
	pair := newResult(GroupServer, "tls certificate and key", KeyFile)
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "does not match") {
			msg = fmt.Sprintf("%s is not the private key of the certificate in %s: put the key that was made with this certificate in %s, or issue a new certificate for this key", KeyFile, CertFile, KeyFile)
		} else {
			msg = fmt.Sprintf("%s and %s do not load: %v: both must be PEM, the key unencrypted", CertFile, KeyFile, err)
		}
		return []Result{pair.fail(start, "%s", msg)}
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		return []Result{pair.fail(start, "%s: %v", CertFile, err)}
	}
	out = append(out, pair.ok(start, "%s is the private key of %s (%s)", KeyFile, CertFile, describeCert(leaf)))

	host := hostOf(cfg.ServerHostname)
	name := newResult(GroupServer, "tls hostname", "SERVER_HOSTNAME")
	if err := leaf.VerifyHostname(host); err != nil {
		out = append(out, name.fail(start, "the certificate in %s is for %s, not %s: issue a certificate for %s, or set SERVER_HOSTNAME to a name it covers",
			CertFile, certNames(leaf), host, host))
	} else {
		out = append(out, name.ok(start, "the certificate covers %s", host))
	}

	valid := newResult(GroupServer, "tls validity", CertFile)
	validNow := true
	switch left := leaf.NotAfter.Sub(now); {
	case now.Before(leaf.NotBefore):
		validNow = false
		out = append(out, valid.fail(start, "the certificate is not valid before %s: check this host's clock, or wait", leaf.NotBefore.UTC().Format(time.RFC3339)))
	case left <= 0:
		validNow = false
		out = append(out, valid.fail(start, "the certificate expired on %s: renew it (`wharf config tls` makes a new one)", leaf.NotAfter.UTC().Format(time.RFC3339)))
	case left < ExpiryWarning:
		out = append(out, valid.ok(start, "valid until %s, which is in %d days: renew it soon", leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24)))
	default:
		out = append(out, valid.ok(start, "valid until %s", leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	out = append(out, chainResult(src, cfg.ServerHostname, kp, leaf, now, validNow, start))
	return out
}

// chainResult verifies the certificate's chain against the system roots plus
// extra_ca_certs. A chain in ssl.cert that does not verify fails; a lone certificate that no
// trusted CA signed (self-signed, or a private CA) is reported but passes, as clients can be
// told to trust it.
func chainResult(src Source, server string, kp tls.Certificate, leaf *x509.Certificate, now time.Time, validNow bool, start time.Time) Result {
	r := newResult(GroupServer, "tls chain", CertFile)
	opts := x509.VerifyOptions{Roots: extraCAs(src), Intermediates: x509.NewCertPool(), CurrentTime: now}
	if !validNow {
		// The validity result says what is wrong with the dates; check the chain as it stood.
		opts.CurrentTime = leaf.NotBefore.Add(time.Second)
	}
	for i, der := range kp.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return r.fail(start, "certificate %d in %s does not parse: %v", i+2, CertFile, err)
		}
		opts.Intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(opts)
	switch {
	case err == nil:
		top := chains[0][len(chains[0])-1]
		return r.ok(start, "chains to %s", top.Subject.CommonName)
	case len(kp.Certificate) > 1:
		return r.fail(start, "the chain in %s does not verify: %v: put the server's certificate first, then each intermediate, and add the root CA to %s/ if it is private",
			CertFile, err, ExtraCADir)
	}
	return r.ok(start, "not signed by a CA in the system roots or %s/ (%v): clients must be told to trust its CA (e.g. /etc/containers/certs.d/%s/ca.crt)",
		ExtraCADir, err, server)
}

// hostOf is SERVER_HOSTNAME without its port.
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no host name (it has no subject alternative names)"
	}
	return strings.Join(names, ", ")
}

func describeCert(c *x509.Certificate) string {
	return fmt.Sprintf("subject %q, issued by %q", c.Subject.CommonName, c.Issuer.CommonName)
}
