package tls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/configtool/tlsgen"
	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestConfigTLSThenServeHTTPS follows the documented path: `wharf config tls` makes the CA and
// the certificate, `wharf serve` serves HTTPS with them, and skopeo, trusting the CA through a
// certs.d directory as the command says, pushes and pulls an image. Without the CA skopeo
// refuses the server; plain HTTP and TLS 1.1 to the HTTPS port fail.
func TestConfigTLSThenServeHTTPS(t *testing.T) {
	port := testservers.FreePort(t)
	host := "localhost:" + strconv.Itoa(port)
	dir := newConfigDir(t, "SERVER_HOSTNAME: "+host+"\nPREFERRED_URL_SCHEME: https\n", nil)

	out, err := exec.Command(testservers.WharfBinary(t), "config", "tls", "--config-dir", dir,
		"--hostname", "localhost", "--ip", "127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("wharf config tls: %v\n%s", err, out)
	}
	caFile := filepath.Join(dir, tlsgen.CADirName, tlsgen.CACertFile)
	for _, want := range []string{
		"mkdir -p /etc/containers/certs.d/" + host,
		"cp " + caFile + " /etc/containers/certs.d/" + host + "/ca.crt",
		"/etc/docker/certs.d/" + host + "/ca.crt",
		"update-ca-certificates", "update-ca-trust",
		filepath.Join(dir, "ssl.cert"), filepath.Join(dir, "ssl.key"),
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("wharf config tls output lacks %q:\n%s", want, out)
		}
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	s := startServe(t, "127.0.0.1:"+strconv.Itoa(port), dir)
	client := s.waitHTTPS(t, roots, "localhost")
	if want := "Serving https://" + host + " on 127.0.0.1:" + strconv.Itoa(port); !s.printed(want) {
		t.Errorf("start-up output lacks %q:\n%s", want, s.Logs())
	}

	// The chain served is ssl.cert: the server certificate for the names asked, then the CA.
	chain := servedCertificate(t, s.Addr, "localhost", roots)
	if len(chain) != 2 || !chain[1].Equal(mustParse(t, caPEM)) || chain[0].VerifyHostname("127.0.0.1") != nil {
		t.Errorf("served chain: %d certificates, leaf names %v %v", len(chain), chain[0].DNSNames, chain[0].IPAddresses)
	}
	resp, err := client.Get("https://" + s.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if realm := resp.Header.Get("WWW-Authenticate"); !strings.Contains(realm, `realm="https://`+host+`/v2/auth"`) {
		t.Errorf("GET /v2/ challenge %q, want an https realm on %s", realm, host)
	}

	pushAndPull(t, host+"/admin/app:v1", certDir(t, caPEM))

	// Without the CA, skopeo refuses the server's certificate.
	src, _ := imageDir(t)
	if out, err := skopeo(t, "copy", "--dest-cert-dir", t.TempDir(), "--dest-creds", adminUser+":"+adminPassword,
		"dir:"+src, "docker://"+host+"/admin/app:v2"); err == nil || !strings.Contains(out, "x509") {
		t.Errorf("skopeo without the CA: err %v, output:\n%s", err, out)
	}

	// Plain HTTP to the HTTPS port gets no registry.
	plain, err := http.Get("http://" + s.Addr + "/v2/")
	if err != nil {
		t.Fatalf("plain HTTP to the HTTPS port: %v", err)
	}
	body, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	if plain.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
		t.Errorf("plain HTTP to the HTTPS port answered %s: %s", plain.Status, body)
	}
	// TLS below 1.2 is refused.
	if c, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

// TestConfigTLSResignKeepsCA runs `wharf config tls` twice: the second run refuses to replace
// the files until --force, then signs the new certificate with the same CA, so a server
// restarted with it is still trusted by clients that trust the CA.
func TestConfigTLSResignKeepsCA(t *testing.T) {
	dir := t.TempDir()
	bin := testservers.WharfBinary(t)
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"config", "tls", "--config-dir", dir}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("--hostname", "localhost"); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, tlsgen.CADirName, tlsgen.CACertFile))
	out, err := run("--hostname", "localhost", "--ip", "127.0.0.1")
	if err == nil || !strings.Contains(out, "--force") || !strings.Contains(out, "already exists") {
		t.Fatalf("second run without --force: %v\n%s", err, out)
	}
	if out, err := run("--hostname", "localhost", "--ip", "127.0.0.1", "--force"); err != nil || !strings.Contains(out, "Signed with the certificate authority") {
		t.Fatalf("second run with --force: %v\n%s", err, out)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, tlsgen.CADirName, tlsgen.CACertFile))
	if string(caBefore) != string(caAfter) {
		t.Fatal("the CA changed between runs")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caBefore)
	port := testservers.FreePort(t)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("SERVER_HOSTNAME: 127.0.0.1:"+strconv.Itoa(port)+"\n"), 0o600)
	s := startServe(t, "127.0.0.1:"+strconv.Itoa(port), dir)
	// PREFERRED_URL_SCHEME is http here: with a certificate the server serves https anyway,
	// hands out https URLs and says why.
	client := s.waitHTTPS(t, roots, "127.0.0.1")
	resp, err := client.Get("https://" + s.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if realm := resp.Header.Get("WWW-Authenticate"); !strings.Contains(realm, `realm="https://127.0.0.1:`) {
		t.Errorf("realm %q is not https", realm)
	}
	if !s.printed("PREFERRED_URL_SCHEME: https") {
		t.Errorf("no warning about PREFERRED_URL_SCHEME http:\n%s", s.Logs())
	}
}

// TestTLSStartupRefusals checks that configurations that cannot serve what they promise stop
// `wharf serve` before it listens, with one line saying what to do.
func TestTLSStartupRefusals(t *testing.T) {
	ca, err := tlsgen.NewCA("refusals test CA", tlsgen.ECDSA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(tlsgen.Subjects{DNSNames: []string{"localhost"}}, tlsgen.ECDSA, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := tlsgen.NewKey(tlsgen.ECDSA)
	if err != nil {
		t.Fatal(err)
	}
	otherKeyPEM, _ := tlsgen.PrivateKeyPEM(otherKey)
	tests := []struct {
		name   string
		config string
		files  map[string][]byte
		want   []string
	}{
		{"https without a certificate", "PREFERRED_URL_SCHEME: https\n", nil,
			[]string{"PREFERRED_URL_SCHEME is https", "wharf config tls", "EXTERNAL_TLS_TERMINATION", "FEATURE_ACME_TLS"}},
		{"certificate without key", "PREFERRED_URL_SCHEME: https\n", map[string][]byte{"ssl.cert": issued.CertPEM()},
			[]string{"ssl.key is not", "wharf config tls"}},
		{"key without certificate", "", map[string][]byte{"ssl.key": otherKeyPEM},
			[]string{"ssl.cert is not"}},
		{"key of another certificate", "PREFERRED_URL_SCHEME: https\n", map[string][]byte{"ssl.cert": issued.CertPEM(), "ssl.key": otherKeyPEM},
			[]string{"load", "ssl.cert", "private key does not match"}},
		{"not PEM", "PREFERRED_URL_SCHEME: https\n", map[string][]byte{"ssl.cert": []byte("hello"), "ssl.key": []byte("world")},
			[]string{"load", "wharf config tls"}},
		{"ACME behind a TLS proxy", "PREFERRED_URL_SCHEME: https\nFEATURE_ACME_TLS: true\nEXTERNAL_TLS_TERMINATION: true\n", nil,
			[]string{"FEATURE_ACME_TLS", "EXTERNAL_TLS_TERMINATION", "both true"}},
		{"extra CA that is no certificate", "", map[string][]byte{"extra_ca_certs/corp.crt": []byte("not a certificate")},
			[]string{"extra_ca_certs", "corp.crt", "no PEM certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newConfigDir(t, "SERVER_HOSTNAME: localhost:8443\n"+tc.config, tc.files)
			text := testservers.ServeRefuses(t, dir)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("error lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func mustParse(t *testing.T, pemData []byte) *x509.Certificate {
	t.Helper()
	certs, err := tlsgen.ParseCertificates(pemData)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// hostPort is "localhost:PORT" for a listen address 127.0.0.1:PORT.
func hostPort(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "localhost:" + port
}
