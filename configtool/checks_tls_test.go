package configtool

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCert is a certificate made for a test, with its key.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (c testCert) certPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

func (c testCert) keyPEM(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// certSpec describes a certificate to make: a CA when ca is set, else a server certificate
// for dns and ips; signed by parent (self-signed when nil).
type certSpec struct {
	cn                  string
	ca                  bool
	dns                 []string
	ips                 []net.IP
	notBefore, notAfter time.Time
}

var serial int64

func makeCert(t *testing.T, spec certSpec, parent *testCert) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: spec.cn},
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
	}
	if spec.ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	signerCert, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: c, key: key}
}

func TestTLSCheck(t *testing.T) {
	now := time.Now()
	root := makeCert(t, certSpec{cn: "Test Root CA", ca: true}, nil)
	inter := makeCert(t, certSpec{cn: "Test Intermediate CA", ca: true}, &root)
	otherRoot := makeCert(t, certSpec{cn: "Other Root CA", ca: true}, nil)
	leaf := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}}, &inter)
	direct := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}}, &root)
	selfSigned := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}}, nil)
	ipCert := makeCert(t, certSpec{cn: "10.0.0.5", ips: []net.IP{net.ParseIP("10.0.0.5")}}, &root)
	expired := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}, notBefore: now.Add(-60 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)}, &root)
	future := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}, notBefore: now.Add(48 * time.Hour), notAfter: now.Add(90 * 24 * time.Hour)}, &root)
	soon := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}, notAfter: now.Add(10 * 24 * time.Hour)}, &root)
	stranger := makeCert(t, certSpec{cn: "registry.example.com", dns: []string{"registry.example.com"}}, &root)

	const host = "SERVER_HOSTNAME: registry.example.com\nPREFERRED_URL_SCHEME: https\n"
	rootCA := map[string]string{"extra_ca_certs/root.crt": root.certPEM()}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name   string
		config string
		files  map[string]string
		wants  []want
	}{
		{"full chain to a private root in extra_ca_certs", host,
			with(rootCA, CertFile, leaf.certPEM()+inter.certPEM(), KeyFile, leaf.keyPEM(t)),
			[]want{
				{StatusOK, "tls certificate and key", KeyFile, []string{"registry.example.com", "Test Intermediate CA"}},
				{StatusOK, "tls hostname", "SERVER_HOSTNAME", []string{"covers registry.example.com"}},
				{StatusOK, "tls validity", CertFile, []string{"valid until"}},
				{StatusOK, "tls chain", CertFile, []string{"Test Root CA"}},
			}},
		{"host with a port", "SERVER_HOSTNAME: registry.example.com:8443\n",
			with(rootCA, CertFile, direct.certPEM(), KeyFile, direct.keyPEM(t)),
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", []string{"registry.example.com"}}, {StatusOK, "tls validity", "", nil}, {StatusOK, "tls chain", "", nil}}},
		{"IP address", "SERVER_HOSTNAME: 10.0.0.5:443\n",
			with(rootCA, CertFile, ipCert.certPEM(), KeyFile, ipCert.keyPEM(t)),
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", []string{"10.0.0.5"}}, {StatusOK, "tls validity", "", nil}, {StatusOK, "tls chain", "", nil}}},
		{"key of another certificate", host,
			with(rootCA, CertFile, direct.certPEM(), KeyFile, stranger.keyPEM(t)),
			[]want{{StatusFailed, "tls certificate and key", KeyFile, []string{"is not the private key", CertFile}}}},
		{"hostname not covered", "SERVER_HOSTNAME: quay.example.org\n",
			with(rootCA, CertFile, direct.certPEM(), KeyFile, direct.keyPEM(t)),
			[]want{
				{StatusOK, "tls certificate and key", "", nil},
				{StatusFailed, "tls hostname", "SERVER_HOSTNAME", []string{"for registry.example.com, not quay.example.org"}},
				{StatusOK, "tls validity", "", nil},
				{StatusOK, "tls chain", "", nil},
			}},
		{"expired", host,
			with(rootCA, CertFile, expired.certPEM(), KeyFile, expired.keyPEM(t)),
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", nil},
				{StatusFailed, "tls validity", CertFile, []string{"expired on", "renew"}},
				{StatusOK, "tls chain", "", nil}}},
		{"not yet valid", host,
			with(rootCA, CertFile, future.certPEM(), KeyFile, future.keyPEM(t)),
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", nil},
				{StatusFailed, "tls validity", CertFile, []string{"not valid before", "clock"}},
				{StatusOK, "tls chain", "", nil}}},
		{"expires within 30 days", host,
			with(rootCA, CertFile, soon.certPEM(), KeyFile, soon.keyPEM(t)),
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", nil},
				{StatusOK, "tls validity", CertFile, []string{"renew it soon", "in 9 days"}},
				{StatusOK, "tls chain", "", nil}}},
		{"chain whose root is not trusted", host,
			map[string]string{"extra_ca_certs/other.crt": otherRoot.certPEM(), CertFile: leaf.certPEM() + inter.certPEM(), KeyFile: leaf.keyPEM(t)},
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", nil}, {StatusOK, "tls validity", "", nil},
				{StatusFailed, "tls chain", CertFile, []string{"does not verify", ExtraCADir}}}},
		{"leaf without its intermediate", host,
			with(rootCA, CertFile, leaf.certPEM(), KeyFile, leaf.keyPEM(t)),
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", nil}, {StatusOK, "tls validity", "", nil},
				{StatusOK, "tls chain", CertFile, []string{"not signed by a CA", "certs.d/registry.example.com"}}}},
		{"self-signed", host,
			map[string]string{CertFile: selfSigned.certPEM(), KeyFile: selfSigned.keyPEM(t)},
			[]want{{StatusOK, "tls certificate and key", "", nil}, {StatusOK, "tls hostname", "", nil}, {StatusOK, "tls validity", "", nil},
				{StatusOK, "tls chain", CertFile, []string{"clients must be told to trust"}}}},
		{"no certificate", "SERVER_HOSTNAME: registry.example.com\n", nil,
			[]want{{StatusSkipped, "tls", CertFile, []string{"plain HTTP"}}}},
		{"ACME", "SERVER_HOSTNAME: registry.example.com\nPREFERRED_URL_SCHEME: https\nFEATURE_ACME_TLS: true\nACME_EMAIL: ops@example.com\n", nil,
			[]want{{StatusSkipped, "tls", CertFile, []string{"ACME"}}}},
		{"external TLS termination", "SERVER_HOSTNAME: registry.example.com\nPREFERRED_URL_SCHEME: https\nEXTERNAL_TLS_TERMINATION: true\n", nil,
			[]want{{StatusSkipped, "tls", CertFile, []string{"EXTERNAL_TLS_TERMINATION"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkGroup(t, GroupServer, c.config, c.files), c.wants...)
		})
	}
}

// The TLS check reads only the config directory, so it runs under --offline too.
func TestTLSCheckRunsOffline(t *testing.T) {
	expired := makeCert(t, certSpec{cn: "localhost", dns: []string{"localhost"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}, nil)
	dir := configDir(t, "SERVER_HOSTNAME: localhost:8443\nDB_URI: postgresql://u:p@127.0.0.1:1/db\n", map[string]string{CertFile: expired.certPEM(), KeyFile: expired.keyPEM(t)})
	rep := validateDir(t, dir, Options{Offline: true})
	for _, r := range rep.Checks {
		if r.Group != GroupServer {
			t.Errorf("offline validation ran %s %s", r.Group, r.Check)
		}
	}
	if rep.ExitCode() != ExitUnreachable || rep.Reachable() {
		t.Fatalf("an expired certificate offline: exit %d, want %d; checks:\n%s", rep.ExitCode(), ExitUnreachable, dump(rep.Checks))
	}
}

func TestTLSFileProblems(t *testing.T) {
	c := makeCert(t, certSpec{cn: "localhost", dns: []string{"localhost"}}, nil)
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
	cases := []struct {
		name   string
		config string
		files  map[string]string
		path   string
		line   int
		words  []string
	}{
		{"certificate without key", "SERVER_HOSTNAME: localhost\n", map[string]string{CertFile: c.certPEM()}, KeyFile, 0, []string{"ssl.key is missing"}},
		{"key without certificate", "SERVER_HOSTNAME: localhost\n", map[string]string{KeyFile: c.keyPEM(t)}, CertFile, 0, []string{"ssl.cert is missing"}},
		{"certificate that is not PEM", "SERVER_HOSTNAME: localhost\n", map[string]string{CertFile: "hello", KeyFile: c.keyPEM(t)}, CertFile, 0, []string{"no PEM certificate"}},
		{"encrypted key", "SERVER_HOSTNAME: localhost\n", map[string]string{CertFile: c.certPEM(), KeyFile: encrypted}, KeyFile, 0, []string{"unencrypted private key"}},
		{"https without a certificate", "SERVER_HOSTNAME: localhost\nPREFERRED_URL_SCHEME: https\n", nil, "PREFERRED_URL_SCHEME", 2, []string{"ssl.cert", "FEATURE_ACME_TLS", "EXTERNAL_TLS_TERMINATION"}},
		{"a key in extra_ca_certs", "SERVER_HOSTNAME: localhost\n", map[string]string{"extra_ca_certs/ca.pem": c.certPEM() + c.keyPEM(t)}, "extra_ca_certs/ca.pem", 0, []string{"PRIVATE KEY", "keep only CA certificates"}},
		{"garbage in extra_ca_certs", "SERVER_HOSTNAME: localhost\n", map[string]string{"extra_ca_certs/ca.pem": "not a certificate"}, "extra_ca_certs/ca.pem", 0, []string{"holds no PEM certificate"}},
		{"broken certificate in extra_ca_certs", "SERVER_HOSTNAME: localhost\n", map[string]string{"extra_ca_certs/ca.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "extra_ca_certs/ca.pem", 0, []string{"not a valid certificate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := problemsOf(t, tc.config, tc.files)
			if len(problems) != 1 {
				t.Errorf("got %d problems, want 1: %v", len(problems), problems)
			}
			expectProblem(t, problems, tc.path, tc.line, tc.words...)
		})
	}
	ok := []struct {
		name   string
		config string
		files  map[string]string
	}{
		{"https with a certificate", "SERVER_HOSTNAME: localhost\nPREFERRED_URL_SCHEME: https\n", map[string]string{CertFile: c.certPEM(), KeyFile: c.keyPEM(t), "extra_ca_certs/ca.pem": c.certPEM()}},
		{"https behind a proxy", "SERVER_HOSTNAME: localhost\nPREFERRED_URL_SCHEME: https\nEXTERNAL_TLS_TERMINATION: true\n", nil},
		{"https by ACME", "SERVER_HOSTNAME: localhost\nPREFERRED_URL_SCHEME: https\nFEATURE_ACME_TLS: true\nACME_EMAIL: ops@example.com\n", nil},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			if problems := problemsOf(t, tc.config, tc.files); len(problems) != 0 {
				t.Errorf("problems in a good config: %v", problems)
			}
		})
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com":      "registry.example.com",
		"registry.example.com:8443": "registry.example.com",
		"[::1]:8443":                "::1",
		"10.0.0.5":                  "10.0.0.5",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
	if !strings.Contains(certNames(&x509.Certificate{}), "no host name") {
		t.Error("certNames of a certificate without names does not say so")
	}
}
