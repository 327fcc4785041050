// Package tlsgen makes the TLS files a registry serves: a root certificate authority and a
// server certificate it signs, with the host names and IP addresses clients use as
// subjectAltNames. It is what `wharf config tls` runs; the test harness uses it too.
//
// Keys are ECDSA P-256 unless RSA is asked for: P-256 gives the strength of RSA 3072 with
// smaller certificates and faster handshakes, and every client of a registry (podman, skopeo,
// docker, containerd, browsers, curl) accepts it. RSA keys are 3072 bits, for tools that
// still insist on RSA.
package tlsgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// KeyType names a private key algorithm.
type KeyType string

// Key algorithms.
const (
	ECDSA KeyType = "ecdsa" // ECDSA on P-256 (the default)
	RSA   KeyType = "rsa"   // RSA, 3072 bits
)

// rsaBits is the size of RSA keys.
const rsaBits = 3072

// clockSkew backdates NotBefore so that clients whose clock runs a little late accept a
// certificate made a moment ago.
const clockSkew = 5 * time.Minute

// NewKey generates a private key of this type ("" means ECDSA).
func NewKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case ECDSA, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("key type %q: use %q or %q", t, ECDSA, RSA)
}

// CA is a certificate authority: its certificate, the certificates above it (empty for a
// root), and its private key.
type CA struct {
	Cert    *x509.Certificate
	Parents []*x509.Certificate
	Key     crypto.Signer
}

// NewCA makes a self-signed root CA valid for the given time. name goes into its common name,
// so that a person finding it in a trust store knows what it is for.
func NewCA(name string, keyType KeyType, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, errors.New("the CA's validity must be positive")
	}
	key, err := NewKey(keyType)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Wharf"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the new CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA from PEM: certPEM holds the CA's certificate first, then any certificates
// above it (which go into the chains it signs); keyPEM holds its unencrypted private key
// (PKCS#8, PKCS#1 or SEC 1).
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca := &CA{Cert: certs[0], Parents: certs[1:]}
	if !ca.Cert.IsCA || (ca.Cert.KeyUsage != 0 && ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0) {
		return nil, fmt.Errorf("the certificate %q is not a CA certificate (it may not sign certificates): give the CA's certificate, not a server's", ca.Cert.Subject)
	}
	if ca.Key, err = ParsePrivateKey(keyPEM); err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !publicKeysEqual(ca.Key.Public(), ca.Cert.PublicKey) {
		return nil, fmt.Errorf("the CA key does not belong to the CA certificate %q: give the key made with that certificate", ca.Cert.Subject)
	}
	return ca, nil
}

// Subjects are the names a server certificate is valid for.
type Subjects struct {
	DNSNames []string
	IPs      []net.IP
}

// Empty reports whether there is no name at all.
func (s Subjects) Empty() bool { return len(s.DNSNames) == 0 && len(s.IPs) == 0 }

// Strings lists the names, host names first.
func (s Subjects) Strings() []string {
	out := append([]string{}, s.DNSNames...)
	for _, ip := range s.IPs {
		out = append(out, ip.String())
	}
	return out
}

// Issued is a server certificate and its key.
type Issued struct {
	Cert *x509.Certificate
	// Chain is the CA's certificate and those above it, in order.
	Chain []*x509.Certificate
	Key   crypto.Signer
}

// Issue signs a server certificate for the subjects, valid for the given time (not beyond the
// CA's own expiry), with a new key of keyType.
func (ca *CA) Issue(subjects Subjects, keyType KeyType, validity time.Duration) (*Issued, error) {
	if subjects.Empty() {
		return nil, errors.New("a server certificate needs at least one host name or IP address")
	}
	if validity <= 0 {
		return nil, errors.New("the certificate's validity must be positive")
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		maxDays := int(ca.Cert.NotAfter.Sub(now).Hours() / 24)
		if maxDays < 1 {
			return nil, fmt.Errorf("the CA %q expires on %s, within a day: use a new CA", ca.Cert.Subject.CommonName, ca.Cert.NotAfter.Format(time.DateOnly))
		}
		return nil, fmt.Errorf("the CA %q expires on %s, before the %d days asked for: ask for %d days or fewer, or use a new CA",
			ca.Cert.Subject.CommonName, ca.Cert.NotAfter.Format(time.DateOnly), int(validity.Hours()/24), maxDays)
	}
	key, err := NewKey(keyType)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := key.(*rsa.PrivateKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: subjects.Strings()[0]},
		DNSNames:     subjects.DNSNames,
		IPAddresses:  subjects.IPs,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     usage,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign the server certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the new server certificate: %w", err)
	}
	chain := append([]*x509.Certificate{ca.Cert}, ca.Parents...)
	return &Issued{Cert: cert, Chain: chain, Key: key}, nil
}

// CertPEM is the server certificate followed by its chain, as ssl.cert holds it.
func (i *Issued) CertPEM() []byte {
	out := CertificatePEM(i.Cert)
	for _, c := range i.Chain {
		out = append(out, CertificatePEM(c)...)
	}
	return out
}

// KeyPEM is the server's private key in PKCS#8 PEM.
func (i *Issued) KeyPEM() ([]byte, error) { return PrivateKeyPEM(i.Key) }

// CertPEM is the CA's certificate in PEM: what clients trust.
func (ca *CA) CertPEM() []byte { return CertificatePEM(ca.Cert) }

// KeyPEM is the CA's private key in PKCS#8 PEM.
func (ca *CA) KeyPEM() ([]byte, error) { return PrivateKeyPEM(ca.Key) }

// CertificatePEM encodes one certificate as PEM.
func CertificatePEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// PrivateKeyPEM encodes a private key as PKCS#8 PEM.
func PrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertificates reads every CERTIFICATE block of a PEM file, in order.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found (expected a block starting with -----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}

// ParsePrivateKey reads the first private key of a PEM file: PKCS#8 ("PRIVATE KEY"), PKCS#1
// ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Encrypted keys are refused with the command
// that decrypts them.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found (expected a block such as -----BEGIN PRIVATE KEY-----)")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, errors.New("the private key is encrypted: decrypt it first, e.g. `openssl pkey -in KEY -out KEY.plain` (keep the result private)")
		}
		var key any
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// publicKeysEqual compares two public keys of any supported algorithm.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

// serial returns a random 128-bit serial number, as CAs should (RFC 5280 allows 20 octets).
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}
