package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The JWK thumbprint is what distribution v3 uses as the trusted key id of a certificate in its
// rootcertbundle; RFC 8037 (appendix A.3) gives the thumbprint of its example Ed25519 key.
func TestJWKThumbprintRFC8037(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jwkThumbprint(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("thumbprint %s, want %s", got, want)
	}
}

// A minted token must be what distribution's token access controller accepts: a compact JWS
// with alg EdDSA, kid = the thumbprint of the certificate's key and no x5c, signed by that key,
// with the issuer, audience, lifetime and access claims it checks.
func TestMintedTokenMatchesDistributionFormat(t *testing.T) {
	k, err := newPeerKey()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(k.certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("certPEM is not a PEM certificate: %q", k.certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certKey, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("certificate key is %T, want ed25519", cert.PublicKey)
	}

	now := time.Now()
	raw, err := k.mint(tokenSpec{
		Issuer: "iss-x", Service: "svc-y", Subject: "someone",
		Access: []resourceAccess{{Type: "repository", Name: "admin/bench", Actions: []string{"pull", "push"}}},
		TTL:    time.Hour,
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("part %q is not unpadded base64url: %v", s, err)
		}
		return b
	}
	var header map[string]any
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "EdDSA" {
		t.Errorf("alg %v, want EdDSA", header["alg"])
	}
	if header["kid"] != jwkThumbprint(certKey) {
		t.Errorf("kid %v, want the certificate key's thumbprint %s", header["kid"], jwkThumbprint(certKey))
	}
	for _, h := range []string{"x5c", "jwk", "crit"} {
		if _, ok := header[h]; ok {
			t.Errorf("header has %q; the kid form needs none", h)
		}
	}
	if !ed25519.Verify(certKey, []byte(parts[0]+"."+parts[1]), dec(parts[2])) {
		t.Error("signature does not verify with the certificate's key")
	}

	var claims struct {
		Iss    string          `json:"iss"`
		Sub    string          `json:"sub"`
		Aud    json.RawMessage `json:"aud"`
		Exp    int64           `json:"exp"`
		Nbf    int64           `json:"nbf"`
		Iat    int64           `json:"iat"`
		Jti    string          `json:"jti"`
		Access []struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	// distribution accepts aud as a string or a list of strings.
	var aud []string
	if err := json.Unmarshal(claims.Aud, &aud); err != nil {
		var one string
		if err := json.Unmarshal(claims.Aud, &one); err != nil {
			t.Fatalf("aud %s is neither a string nor a list", claims.Aud)
		}
		aud = []string{one}
	}
	if claims.Iss != "iss-x" || !slices.Contains(aud, "svc-y") || claims.Sub != "someone" || claims.Jti == "" {
		t.Errorf("claims iss=%q aud=%v sub=%q jti=%q", claims.Iss, aud, claims.Sub, claims.Jti)
	}
	if claims.Exp <= now.Unix() || claims.Nbf > now.Unix() || claims.Iat > now.Unix()+1 {
		t.Errorf("lifetime nbf=%d iat=%d exp=%d around now=%d", claims.Nbf, claims.Iat, claims.Exp, now.Unix())
	}
	if len(claims.Access) != 1 || claims.Access[0].Type != "repository" || claims.Access[0].Name != "admin/bench" ||
		!slices.Equal(claims.Access[0].Actions, []string{"pull", "push"}) {
		t.Errorf("access %+v", claims.Access)
	}
}

func TestPeerConfigYAML(t *testing.T) {
	c := peerConfig{Addr: "127.0.0.1:5000", RootDir: "/tmp/a dir/storage", CertBundle: "/tmp/a dir/cert.pem",
		Realm: "http://127.0.0.1:5000/token", Service: "svc", Issuer: "iss"}
	b, err := c.configYAML()
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version string `yaml:"version"`
		Log     struct {
			Level     string `yaml:"level"`
			AccessLog struct {
				Disabled bool `yaml:"disabled"`
			} `yaml:"accesslog"`
		} `yaml:"log"`
		Storage struct {
			Filesystem struct {
				RootDirectory string `yaml:"rootdirectory"`
			} `yaml:"filesystem"`
			Cache struct {
				BlobDescriptor string `yaml:"blobdescriptor"`
			} `yaml:"cache"`
		} `yaml:"storage"`
		HTTP struct {
			Addr string `yaml:"addr"`
		} `yaml:"http"`
		Auth struct {
			Token struct {
				Realm, Service, Issuer string
				RootCertBundle         string `yaml:"rootcertbundle"`
			} `yaml:"token"`
		} `yaml:"auth"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if cfg.Version != "0.1" || cfg.Log.Level != "error" || !cfg.Log.AccessLog.Disabled ||
		cfg.Storage.Filesystem.RootDirectory != c.RootDir || cfg.Storage.Cache.BlobDescriptor != "inmemory" ||
		cfg.HTTP.Addr != c.Addr || cfg.Auth.Token.Realm != c.Realm || cfg.Auth.Token.Service != "svc" ||
		cfg.Auth.Token.Issuer != "iss" || cfg.Auth.Token.RootCertBundle != c.CertBundle {
		t.Errorf("config does not say what was asked:\n%s", b)
	}
}
