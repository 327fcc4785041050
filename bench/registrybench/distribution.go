package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"
)

// The distribution registry (v3) verifies bearer tokens itself: its token access controller
// reads a bundle of root certificates (rootcertbundle) and trusts, besides certificate chains
// sent in an x5c header, any token whose "kid" header is the RFC 7638 JWK thumbprint of one of
// those certificates' public keys. The benchmark uses that form: one Ed25519 key (the
// algorithm Wharf signs its own tokens with), a self-signed certificate for the bundle, and
// tokens with kid = thumbprint and no x5c, which is the cheapest form for the registry to
// verify (a map lookup and one signature check, no chain building per request).

// peerKey is the token signing identity the benchmark gives the distribution registry.
type peerKey struct {
	private ed25519.PrivateKey
	public  ed25519.PublicKey
	// certPEM is the self-signed certificate of the public key, for rootcertbundle.
	certPEM []byte
	// kid is the key id the registry derives from the certificate.
	kid string
}

// newPeerKey generates an Ed25519 key and a self-signed certificate for it.
func newPeerKey() (*peerKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate token key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "registrybench token signer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("self-sign token certificate: %w", err)
	}
	return &peerKey{
		private: priv,
		public:  pub,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		kid:     jwkThumbprint(pub),
	}, nil
}

// jwkThumbprint returns the RFC 7638 thumbprint (SHA-256, unpadded base64url) of an Ed25519
// public key: the hash of its JWK with the required members in lexicographic order.
func jwkThumbprint(pub ed25519.PublicKey) string {
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// resourceAccess is one entry of a token's "access" claim, as the Docker token spec defines it.
type resourceAccess struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// peerClaims are the claims of a registry bearer token.
type peerClaims struct {
	jwt.RegisteredClaims
	Access []resourceAccess `json:"access"`
}

// tokenSpec says what a minted token grants and for whom.
type tokenSpec struct {
	Issuer, Service, Subject string
	Access                   []resourceAccess
	TTL                      time.Duration
}

// mint signs a bearer token (a compact JWS, alg EdDSA, kid = the certificate's thumbprint)
// that the distribution registry configured with this key's certificate accepts.
func (k *peerKey) mint(spec tokenSpec, now time.Time) (string, error) {
	jti := make([]byte, 12)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := peerClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    spec.Issuer,
			Subject:   spec.Subject,
			Audience:  jwt.ClaimStrings{spec.Service},
			ExpiresAt: jwt.NewNumericDate(now.Add(spec.TTL)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
		Access: spec.Access,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// peerConfig is what the benchmark chooses for the distribution registry.
type peerConfig struct {
	// Addr is host:port to listen on.
	Addr string
	// RootDir is the filesystem driver's rootdirectory.
	RootDir string
	// CertBundle is the file holding the token signing certificate.
	CertBundle string
	// Realm, Service and Issuer configure token auth.
	Realm, Service, Issuer string
}

// configYAML renders the registry's config.yml: filesystem storage with the in-memory blob
// descriptor cache (as the registry's shipped config-example.yml has), logs at error level with
// the access log off (Wharf at warn does not log requests either), and token auth.
func (c peerConfig) configYAML() ([]byte, error) {
	cfg := map[string]any{
		"version": "0.1",
		"log": map[string]any{
			"level":     "error",
			"accesslog": map[string]any{"disabled": true},
		},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": c.RootDir},
			"cache":      map[string]any{"blobdescriptor": "inmemory"},
		},
		"http": map[string]any{"addr": c.Addr},
		"auth": map[string]any{
			"token": map[string]any{
				"realm":          c.Realm,
				"service":        c.Service,
				"issuer":         c.Issuer,
				"rootcertbundle": c.CertBundle,
			},
		},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render registry config: %w", err)
	}
	return out, nil
}
