package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayerClient: layer URLs naming registry.example:8443 are fetched from the address
// --connect-to maps it to, and the certificate, signed by a CA in extra_ca_certs/, is checked
// for the name in the URL.
func TestLayerClient(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "layer from "+r.Host)
	}))
	defer srv.Close()
	// httptest's certificate is for example.com (and 127.0.0.1).
	configDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(configDir, "extra_ca_certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(configDir, "extra_ca_certs", "registry.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "https://")
	for _, tc := range []struct {
		name      string
		configDir string
		connectTo []string
		url       string
		wantErr   string
		want      string
	}{
		{"mapped and trusted", configDir, []string{"example.com:8443=" + addr}, "https://example.com:8443/v2/ns/repo/blobs/x", "", "layer from example.com:8443"},
		{"without the CA", "", []string{"example.com:8443=" + addr}, "https://example.com:8443/v2/x", "certificate", ""},
		{"name the certificate lacks", configDir, []string{"other.example:8443=" + addr}, "https://other.example:8443/v2/x", "certificate", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, err := layerClient(tc.configDir, tc.connectTo)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("GET %s: %v, want an error about %s", tc.url, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != tc.want {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
		})
	}
	for _, bad := range []string{"example.com=1.2.3.4:5", "example.com:1", "a:1=b"} {
		if _, err := layerClient("", []string{bad}); err == nil {
			t.Errorf("--connect-to %q accepted", bad)
		}
	}
}
