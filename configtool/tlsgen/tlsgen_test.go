package tlsgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssueChainVerifies(t *testing.T) {
	for _, kt := range []KeyType{ECDSA, RSA} {
		t.Run(string(kt), func(t *testing.T) {
			ca, err := NewCA("test CA", kt, 48*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			subjects := Subjects{DNSNames: []string{"registry.example.com", "*.apps.example.com"}, IPs: []net.IP{net.ParseIP("10.0.0.5").To4(), net.ParseIP("fd00::5")}}
			issued, err := ca.Issue(subjects, kt, 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			certs, err := ParseCertificates(issued.CertPEM())
			if err != nil || len(certs) != 2 {
				t.Fatalf("ssl.cert holds %d certificates (%v), want the leaf and the CA", len(certs), err)
			}
			leaf := certs[0]
			if !certs[1].Equal(ca.Cert) {
				t.Error("the second certificate of the chain is not the CA")
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(ca.CertPEM())
			for _, name := range []string{"registry.example.com", "x.apps.example.com", "10.0.0.5", "fd00::5"} {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
					t.Errorf("the certificate does not verify for %s: %v", name, err)
				}
			}
			for _, name := range []string{"example.com", "a.b.apps.example.com", "10.0.0.6"} {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err == nil {
					t.Errorf("the certificate verifies for %s, which it does not name", name)
				}
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || leaf.IsCA {
				t.Errorf("leaf usages %v, CA %v", leaf.ExtKeyUsage, leaf.IsCA)
			}
			if !ca.Cert.IsCA || !ca.Cert.MaxPathLenZero || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Error("the CA is not a path-length-0 CA that may sign certificates")
			}
			switch k := issued.Key.(type) {
			case *ecdsa.PrivateKey:
				if kt != ECDSA || k.Curve != elliptic.P256() {
					t.Errorf("key %T for %s", k, kt)
				}
			case *rsa.PrivateKey:
				if kt != RSA || k.N.BitLen() != 3072 {
					t.Errorf("RSA key of %d bits for %s", k.N.BitLen(), kt)
				}
			default:
				t.Errorf("key type %T", k)
			}
			keyPEM, err := issued.KeyPEM()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePrivateKey(keyPEM)
			if err != nil || !publicKeysEqual(back.Public(), leaf.PublicKey) {
				t.Errorf("ssl.key does not hold the certificate's key: %v", err)
			}
		})
	}
}

func TestIssueRefusals(t *testing.T) {
	ca, err := NewCA("short CA", ECDSA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		subjects Subjects
		validity time.Duration
		want     string
	}{
		{"no names", Subjects{}, time.Minute, "at least one host name"},
		{"beyond the CA", Subjects{DNSNames: []string{"a.example"}}, 48 * time.Hour, "within a day: use a new CA"},
		{"no validity", Subjects{DNSNames: []string{"a.example"}}, 0, "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.Issue(tc.subjects, ECDSA, tc.validity); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewKey("dsa"); err == nil || !strings.Contains(err.Error(), `use "ecdsa" or "rsa"`) {
		t.Errorf("NewKey(dsa): %v", err)
	}
}

func TestLoadCA(t *testing.T) {
	root, err := NewCA("root", ECDSA, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rootKeyPEM, _ := root.KeyPEM()
	ecKey := root.Key.(*ecdsa.PrivateKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	rsaCA, err := NewCA("rsa root", RSA, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaCA.Key.(*rsa.PrivateKey))
	leaf, err := root.Issue(Subjects{DNSNames: []string{"leaf.example"}}, ECDSA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leafKeyPEM, _ := leaf.KeyPEM()
	block := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: headers})
	}
	tests := []struct {
		name      string
		cert, key []byte
		want      string // "" means it loads
	}{
		{"PKCS#8", root.CertPEM(), rootKeyPEM, ""},
		{"SEC 1", root.CertPEM(), block("EC PRIVATE KEY", sec1, nil), ""},
		{"PKCS#1", rsaCA.CertPEM(), block("RSA PRIVATE KEY", pkcs1, nil), ""},
		{"key after other blocks", root.CertPEM(), append(root.CertPEM(), rootKeyPEM...), ""},
		{"key of another CA", root.CertPEM(), block("RSA PRIVATE KEY", pkcs1, nil), "does not belong"},
		{"server certificate", leaf.CertPEM(), leafKeyPEM, "not a CA certificate"},
		{"encrypted key", root.CertPEM(), block("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}, nil), "openssl pkey"},
		{"legacy encrypted key", root.CertPEM(), block("EC PRIVATE KEY", sec1, map[string]string{"Proc-Type": "4,ENCRYPTED"}), "encrypted"},
		{"no certificate", rootKeyPEM, rootKeyPEM, "no PEM certificate"},
		{"no key", root.CertPEM(), root.CertPEM(), "no PEM private key"},
		{"garbage key", root.CertPEM(), block("PRIVATE KEY", []byte("junk"), nil), "parse PRIVATE KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca, err := LoadCA(tc.cert, tc.key)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ca.Issue(Subjects{DNSNames: []string{"x.example"}}, ECDSA, time.Hour); err != nil {
					t.Errorf("the loaded CA cannot sign: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestIntermediateCAChain signs with an intermediate CA given with its parent: the chain in
// ssl.cert carries both, so clients that trust only the root verify it.
func TestIntermediateCAChain(t *testing.T) {
	root, err := NewCA("root", ECDSA, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	root.Cert.MaxPathLenZero = false // a root that may sign intermediates
	tmpl := *root.Cert
	tmpl.MaxPathLen = 1
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, root.Key.Public(), root.Key)
	if err != nil {
		t.Fatal(err)
	}
	root.Cert, _ = x509.ParseCertificate(der)
	inter, err := NewCA("intermediate", ECDSA, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	itmpl := *inter.Cert
	der, err = x509.CreateCertificate(rand.Reader, &itmpl, root.Cert, inter.Key.Public(), root.Key)
	if err != nil {
		t.Fatal(err)
	}
	interCert, _ := x509.ParseCertificate(der)
	interKeyPEM, _ := inter.KeyPEM()
	loaded, err := LoadCA(append(CertificatePEM(interCert), root.CertPEM()...), interKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := loaded.Issue(Subjects{DNSNames: []string{"reg.example"}}, ECDSA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := ParseCertificates(issued.CertPEM())
	if len(certs) != 3 {
		t.Fatalf("chain of %d certificates, want leaf, intermediate, root", len(certs))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters.AddCert(certs[1])
	if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: "reg.example", Roots: roots, Intermediates: inters}); err != nil {
		t.Errorf("chain does not verify to the root: %v", err)
	}
}
