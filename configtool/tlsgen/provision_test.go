package tlsgen

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// verifyDir checks the files a Provision run left in dir: ssl.cert is a leaf for names
// followed by the CA in caFile, and verifies against it alone; ssl.key holds the leaf's key
// with mode 0600.
func verifyDir(t *testing.T, dir, caFile string, names ...string) *x509.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	caCerts, _ := ParseCertificates(caPEM)
	if len(certs) < 2 || !certs[1].Equal(caCerts[0]) {
		t.Fatalf("ssl.cert holds %d certificates; the second is not the CA of %s", len(certs), caFile)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, n := range names {
		if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: n, Roots: roots}); err != nil {
			t.Errorf("ssl.cert does not verify for %s against %s: %v", n, caFile, err)
		}
	}
	if got := len(certs[0].DNSNames) + len(certs[0].IPAddresses); got != len(names) {
		t.Errorf("ssl.cert names %v %v, want exactly %v", certs[0].DNSNames, certs[0].IPAddresses, names)
	}
	keyFile := filepath.Join(dir, KeyFile)
	checkMode(t, keyFile, 0o600)
	keyPEM, _ := os.ReadFile(keyFile)
	key, err := ParsePrivateKey(keyPEM)
	if err != nil || !publicKeysEqual(key.Public(), certs[0].PublicKey) {
		t.Errorf("ssl.key does not hold the certificate's key: %v", err)
	}
	return certs[0]
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o", path, got, want)
	}
}

func TestProvisionNewCAThenReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config") // created by Provision
	res, err := Provision(Request{ConfigDir: dir, Hostnames: []string{"registry.example.com"}, IPs: []net.IP{net.ParseIP("10.0.0.5")}, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, CADirName, CACertFile)
	if !res.CACreated || res.CACertFile != caFile || res.CAKeyFile != filepath.Join(dir, CADirName, CAKeyFile) {
		t.Errorf("result %+v", res)
	}
	first := verifyDir(t, dir, caFile, "registry.example.com", "10.0.0.5")
	if d := time.Until(first.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("certificate valid for %s, want 30 days", d)
	}
	checkMode(t, res.CAKeyFile, 0o600)
	checkMode(t, filepath.Join(dir, CADirName), 0o700)
	caBefore, _ := os.ReadFile(caFile)
	certBefore, _ := os.ReadFile(filepath.Join(dir, CertFile))

	// Without --force nothing is replaced.
	_, err = Provision(Request{ConfigDir: dir, Hostnames: []string{"other.example.com"}})
	if err == nil || !strings.Contains(err.Error(), "already exists: add --force") {
		t.Fatalf("second run without Force: %v", err)
	}
	if certNow, _ := os.ReadFile(filepath.Join(dir, CertFile)); !bytes.Equal(certNow, certBefore) {
		t.Error("a refused run changed ssl.cert")
	}
	// With it, the same CA signs the new certificate.
	res, err = Provision(Request{ConfigDir: dir, Hostnames: []string{"other.example.com"}, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.CACreated {
		t.Error("a second run made a new CA")
	}
	if caNow, _ := os.ReadFile(caFile); !bytes.Equal(caNow, caBefore) {
		t.Error("the CA certificate changed")
	}
	verifyDir(t, dir, caFile, "other.example.com")
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestProvisionWithOwnCA(t *testing.T) {
	ca, err := NewCA("corporate CA", ECDSA, 2*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	caFile, keyFile := filepath.Join(src, "corp.pem"), filepath.Join(src, "corp.key")
	keyPEM, _ := ca.KeyPEM()
	os.WriteFile(caFile, ca.CertPEM(), 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)

	dir := t.TempDir()
	res, err := Provision(Request{ConfigDir: dir, Hostnames: []string{"reg.corp.example"}, CACertFile: caFile, CAKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if res.CACreated || res.CAKeyFile != "" || res.CACertFile != caFile {
		t.Errorf("result %+v", res)
	}
	verifyDir(t, dir, caFile, "reg.corp.example")
	if _, err := os.Stat(filepath.Join(dir, CADirName)); err == nil {
		t.Error("a CA directory was made although a CA was given")
	}
}

// TestProvisionHostnameFromConfig certifies SERVER_HOSTNAME's host when no name is given.
func TestProvisionHostnameFromConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("SERVER_HOSTNAME: quay.example.org:8443\nDB_URI: whatever\n"), 0o600)
	res, err := Provision(Request{ConfigDir: dir, CADir: filepath.Join(t.TempDir(), "ca")})
	if err != nil {
		t.Fatal(err)
	}
	if res.ServerHostname != "quay.example.org:8443" {
		t.Errorf("ServerHostname %q", res.ServerHostname)
	}
	verifyDir(t, dir, res.CACertFile, "quay.example.org")
	if filepath.Dir(res.CAKeyFile) == filepath.Join(dir, CADirName) {
		t.Error("CADir was not honoured")
	}
}

func TestProvisionRefusals(t *testing.T) {
	shortCA, err := NewCA("short", ECDSA, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	keyPEM, _ := shortCA.KeyPEM()
	os.WriteFile(filepath.Join(caDir, CACertFile), shortCA.CertPEM(), 0o644)
	os.WriteFile(filepath.Join(caDir, CAKeyFile), keyPEM, 0o600)
	halfDir := t.TempDir()
	os.WriteFile(filepath.Join(halfDir, CACertFile), shortCA.CertPEM(), 0o644)

	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"no config dir", Request{Hostnames: []string{"a.example"}}, "--config-dir"},
		{"no names", Request{}, "--hostname NAME"},
		{"bad name", Request{Hostnames: []string{"a.example:5000"}}, "without a port"},
		{"CA cert without key", Request{Hostnames: []string{"a.example"}, CACertFile: "x.pem"}, "both --ca-cert and --ca-key"},
		{"missing CA files", Request{Hostnames: []string{"a.example"}, CACertFile: "/nonexistent/ca.pem", CAKeyFile: "/nonexistent/ca.key"}, "read CA certificate"},
		{"negative days", Request{Hostnames: []string{"a.example"}, Days: -1}, "positive"},
		{"key type", Request{Hostnames: []string{"a.example"}, KeyType: "dsa"}, `use "ecdsa" or "rsa"`},
		{"kept CA expires first", Request{Hostnames: []string{"a.example"}, CADir: caDir, Days: 30}, "ask for 1 days or fewer, or use a new CA"},
		{"kept CA without key", Request{Hostnames: []string{"a.example"}, CADir: halfDir}, "holds only one of rootCA.pem and rootCA.key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "no config dir" {
				tc.req.ConfigDir = t.TempDir()
			}
			_, err := Provision(tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if tc.req.ConfigDir != "" {
				if _, err := os.Stat(filepath.Join(tc.req.ConfigDir, KeyFile)); err == nil {
					t.Error("a refused run wrote ssl.key")
				}
			}
		})
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		name      string
		config    string
		hostnames []string
		want, not []string
	}{
		{"server hostname with port", "SERVER_HOSTNAME: reg.example.com:8443\n", []string{"reg.example.com"},
			[]string{"mkdir -p /etc/containers/certs.d/reg.example.com:8443", "/etc/docker/certs.d/reg.example.com:8443/ca.crt",
				"/usr/local/share/ca-certificates/wharf-ca.crt && sudo update-ca-certificates",
				"/etc/pki/ca-trust/source/anchors/wharf-ca.crt && sudo update-ca-trust", "Made a new certificate authority", "mode 0600"},
			[]string{"Warning", ":PORT"}},
		{"no config", "", []string{"reg.example.com"},
			[]string{"/etc/containers/certs.d/reg.example.com:PORT", "leave \":PORT\" out when it is 443"}, []string{"Warning"}},
		{"hostname not certified", "SERVER_HOSTNAME: reg.example.com\n", []string{"other.example.com"},
			[]string{"Warning: SERVER_HOSTNAME reg.example.com is not among the certificate's names", "--hostname reg.example.com --force"}, nil},
		{"wildcard covers hostname", "SERVER_HOSTNAME: reg.example.com\n", []string{"*.example.com"}, []string{"certs.d/reg.example.com/ca.crt"}, []string{"Warning"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(tc.config), 0o600)
			}
			res, err := Provision(Request{ConfigDir: dir, Hostnames: tc.hostnames})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := res.Report(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range append(tc.want, res.CACertFile, filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)) {
				if !strings.Contains(out, w) {
					t.Errorf("report lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("report holds %q:\n%s", n, out)
				}
			}
		})
	}
}
