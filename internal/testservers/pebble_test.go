package testservers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestPebble checks what tests rely on: the ACME directory answers over TLS trusted through
// ListenerCACert alone, the issuing root is a CA, every name resolves to 127.0.0.1 (and to no
// IPv6 address) in Pebble's DNS, nothing is issued before anyone asks, and Stop stops it.
func TestPebble(t *testing.T) {
	p := Pebble(t, PebbleOptions{CertificateValidity: time.Hour})

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.ListenerCACert) {
		t.Fatal("ListenerCACert holds no certificate")
	}
	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := trusting.Get(p.DirectoryURL)
	if err != nil {
		t.Fatalf("GET the directory trusting ListenerCACert: %v", err)
	}
	var dir map[string]any
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || dir["newOrder"] == nil || dir["newAccount"] == nil || dir["newNonce"] == nil {
		t.Fatalf("the directory is not an ACME directory: %v %v", dir, err)
	}
	if _, err := http.Get(p.DirectoryURL); err == nil {
		t.Error("the directory's certificate was trusted without ListenerCACert")
	}

	root := p.IssuerRoot(t)
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		t.Errorf("the issuing root is not a self-signed CA: %s", root.Subject)
	}

	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, p.DNSAddr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, "registry.wharf.test")
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
		t.Errorf("Pebble's DNS answers %v (%v) for registry.wharf.test, want [127.0.0.1]", addrs, err)
	}

	if n := p.Issued(); n != 0 {
		t.Errorf("Issued() = %d before any order", n)
	}
	p.Stop()
	if _, err := trusting.Get(p.DirectoryURL); err == nil {
		t.Error("the directory still answers after Stop")
	}
}
