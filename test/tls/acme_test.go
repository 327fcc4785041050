package tls

import (
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// acmeHost is the name Wharf asks Pebble to certify; Pebble's DNS resolves it to 127.0.0.1.
const acmeHost = "registry.wharf.test"

// acmeConfig is config.yaml for a server on port that gets its certificate from pebble.
func acmeConfig(port int, pebble *testservers.PebbleServer) string {
	return fmt.Sprintf(`SERVER_HOSTNAME: %s:%d
PREFERRED_URL_SCHEME: https
FEATURE_ACME_TLS: true
ACME_DIRECTORY_URL: %s
ACME_EMAIL: admin@wharf.test
`, acmeHost, port, pebble.DirectoryURL)
}

// startACME starts Pebble, validating TLS-ALPN-01 on a free port, and `wharf serve` on that
// port getting its certificate from it. Pebble's HTTPS listener is trusted through
// extra_ca_certs/ when trustPebble is set.
func startACME(t *testing.T, opts testservers.PebbleOptions, trustPebble bool) (*serve, *testservers.PebbleServer) {
	t.Helper()
	port := testservers.FreePort(t)
	opts.TLSPort = port
	pebble := testservers.Pebble(t, opts)
	files := map[string][]byte{}
	if trustPebble {
		files["extra_ca_certs/pebble-listener.crt"] = pebble.ListenerCACert
	}
	s := startServe(t, "127.0.0.1:"+strconv.Itoa(port), newConfigDir(t, acmeConfig(port, pebble), files))
	return s, pebble
}

// checkIssuedByPebble checks that the served chain is Pebble's certificate for acmeHost and
// returns its leaf.
func checkIssuedByPebble(t *testing.T, s *serve, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	chain := servedCertificate(t, s.Addr, acmeHost, roots)
	leaf := chain[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != acmeHost {
		t.Errorf("served certificate names %v, want [%s]", leaf.DNSNames, acmeHost)
	}
	if !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("served certificate issued by %q, want Pebble's intermediate", leaf.Issuer)
	}
	return leaf
}

// TestACME has `wharf serve` obtain its certificate from Pebble: Pebble validates the
// TLS-ALPN-01 challenge on Wharf's own port, Wharf then serves the certificate Pebble issued
// for SERVER_HOSTNAME, and the registry works over it. A restart serves the stored certificate
// without ordering a new one.
func TestACME(t *testing.T) {
	s, pebble := startACME(t, testservers.PebbleOptions{}, true)
	roots := pebble.IssuerRoots(t)
	client := s.waitHTTPS(t, roots, acmeHost)
	leaf := checkIssuedByPebble(t, s, roots)
	if n := pebble.Issued(); n != 1 {
		t.Errorf("Pebble issued %d certificates, want 1", n)
	}
	for _, want := range []string{
		"Serving https://" + acmeHost + ":",
		"Obtained the TLS certificate for " + acmeHost + " from " + pebble.DirectoryURL,
	} {
		if !s.printed(want) {
			t.Errorf("wharf serve output lacks %q:\n%s", want, tail(s.Logs()))
		}
	}
	// Pebble validated for real: it connected to Wharf's port, which answered the TLS-ALPN-01
	// challenge (certmagic logs each answer).
	if !s.printed(`msg="served key authentication certificate" logger=acme challenge=tls-alpn-01`) {
		t.Errorf("wharf serve did not answer a TLS-ALPN-01 challenge:\n%s", tail(s.Logs()))
	}
	resp, err := client.Get("https://" + s.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if realm := resp.Header.Get("WWW-Authenticate"); !strings.Contains(realm, `realm="https://`+acmeHost+":") {
		t.Errorf("GET /v2/ challenge %q, want an https realm on %s", realm, acmeHost)
	}

	s.restart(t)
	s.waitHTTPS(t, roots, acmeHost)
	again := checkIssuedByPebble(t, s, roots)
	if again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart the server serves serial %x, want the stored %x", again.SerialNumber, leaf.SerialNumber)
	}
	if n := pebble.Issued(); n != 1 {
		t.Errorf("after a restart Pebble issued %d certificates, want still 1", n)
	}
	if !s.printed("using the TLS certificate from the ACME store") {
		t.Errorf("the restarted server did not say it used the stored certificate:\n%s", tail(s.Logs()))
	}
}

// TestACMERenewal gives certificates a lifetime short enough that certmagic counts them as due
// for renewal: the restarted server renews the stored certificate and serves the new one.
func TestACMERenewal(t *testing.T) {
	s, pebble := startACME(t, testservers.PebbleOptions{CertificateValidity: 20 * time.Minute}, true)
	roots := pebble.IssuerRoots(t)
	s.waitHTTPS(t, roots, acmeHost)
	first := checkIssuedByPebble(t, s, roots)

	s.restart(t)
	s.waitLog(t, "Renewed the TLS certificate for "+acmeHost, time.Minute)
	s.waitHTTPS(t, roots, acmeHost)
	renewed := checkIssuedByPebble(t, s, roots)
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("the server still serves serial %x after renewing", first.SerialNumber)
	}
	if renewed.NotAfter.Before(first.NotAfter) {
		t.Errorf("renewed certificate expires %s, before the first's %s", renewed.NotAfter, first.NotAfter)
	}
	if n := pebble.Issued(); n != 2 {
		t.Errorf("Pebble issued %d certificates, want 2", n)
	}
}

// TestACMEUntrustedDirectory leaves Pebble's listener CA out of extra_ca_certs/: Wharf cannot
// talk to the ACME directory, says what to do, and has no certificate to serve.
func TestACMEUntrustedDirectory(t *testing.T) {
	s, pebble := startACME(t, testservers.PebbleOptions{}, false)
	s.waitLog(t, "the ACME directory's TLS certificate is not trusted: put its CA certificate (PEM) in extra_ca_certs/", 2*time.Minute)
	if !s.printed("x509: certificate signed by unknown authority") {
		t.Errorf("the failure does not give the TLS error:\n%s", tail(s.Logs()))
	}
	if n := pebble.Issued(); n != 0 {
		t.Errorf("Pebble issued %d certificates", n)
	}
	if _, err := httpsClient(pebble.IssuerRoots(t), acmeHost).Get("https://" + s.Addr + "/health/instance"); err == nil {
		t.Error("the server answered HTTPS without a certificate")
	}
}
