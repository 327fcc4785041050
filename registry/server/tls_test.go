package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/wharf-registry/wharf/configtool/tlsgen"
	"github.com/wharf-registry/wharf/schema"
)

func TestChooseTLSMode(t *testing.T) {
	tests := []struct {
		name              string
		scheme            string
		external, acme    bool
		haveCert, haveKey bool
		want              tlsMode
		wantErr           []string
	}{
		{"embedded default", "http", false, false, false, false, modeHTTP, nil},
		{"files", "https", false, false, true, true, modeFiles, nil},
		{"files with http scheme", "http", false, false, true, true, modeFiles, nil},
		{"external ignores files", "https", true, false, true, true, modeExternal, nil},
		{"external without files", "https", true, false, false, false, modeExternal, nil},
		{"external with a lone key", "https", true, false, false, true, modeExternal, nil},
		{"acme", "https", false, true, false, false, modeACME, nil},
		{"acme wins over files", "https", false, true, true, true, modeACME, nil},
		{"acme behind a proxy", "https", true, true, false, false, 0, []string{"FEATURE_ACME_TLS", "EXTERNAL_TLS_TERMINATION"}},
		{"https without certificate", "https", false, false, false, false, 0, []string{"wharf config tls", "FEATURE_ACME_TLS", "EXTERNAL_TLS_TERMINATION"}},
		{"certificate without key", "https", false, false, true, false, 0, []string{"ssl.key is not"}},
		{"key without certificate", "http", false, false, false, true, 0, []string{"ssl.cert is not"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &schema.Config{ServerHostname: "reg.example.com:8443", PreferredURLScheme: tc.scheme, ExternalTLSTermination: tc.external, FeatureACMETLS: tc.acme}
			got, err := chooseTLSMode(cfg, tc.haveCert, tc.haveKey)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("mode %d, want an error", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("mode %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// testCA makes a CA and a certificate for names it signs, as PEM.
func testCA(t *testing.T, validity time.Duration, names ...string) (ca *tlsgen.CA, certPEM, keyPEM []byte) {
	t.Helper()
	ca, err := tlsgen.NewCA("server test CA", tlsgen.ECDSA, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := tlsgen.ParseSubjects(names, nil)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(subjects, tlsgen.ECDSA, validity)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = issued.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return ca, issued.CertPEM(), keyPEM
}

func TestExtraCAs(t *testing.T) {
	ca, certPEM, _ := testCA(t, time.Hour, "ldap.example")
	leaf, _ := tlsgen.ParseCertificates(certPEM)

	if pool, err := ExtraCAs(""); pool != nil || err != nil {
		t.Errorf("no config dir: %v %v", pool, err)
	}
	if pool, err := ExtraCAs(t.TempDir()); pool != nil || err != nil {
		t.Errorf("no extra_ca_certs: %v %v", pool, err)
	}

	dir := t.TempDir()
	extra := filepath.Join(dir, ExtraCADir)
	os.MkdirAll(filepath.Join(extra, "subdir"), 0o700)
	os.WriteFile(filepath.Join(extra, ".hidden"), []byte("not PEM, but hidden"), 0o600)
	os.WriteFile(filepath.Join(extra, "corp.crt"), ca.CertPEM(), 0o600)
	pool, err := ExtraCAs(dir)
	if err != nil || pool == nil {
		t.Fatalf("extraCAs: %v %v", pool, err)
	}
	if _, err := leaf[0].Verify(x509.VerifyOptions{DNSName: "ldap.example", Roots: pool}); err != nil {
		t.Errorf("a certificate signed by the extra CA does not verify: %v", err)
	}

	os.WriteFile(filepath.Join(extra, "broken.crt"), []byte("-----BEGIN NOTHING-----"), 0o600)
	if _, err := ExtraCAs(dir); err == nil || !strings.Contains(err.Error(), "broken.crt holds no PEM certificate") {
		t.Errorf("a file without a certificate: %v", err)
	}
}

// TestNewTLSFiles loads ssl.cert and ssl.key, serves TLS 1.2+ with them, hands out https
// URLs, and warns about a certificate that does not name SERVER_HOSTNAME or has expired.
func TestNewTLSFiles(t *testing.T) {
	tests := []struct {
		name     string
		names    []string
		validity time.Duration
		wantWarn string
	}{
		{"good", []string{"reg.example.com"}, time.Hour, ""},
		{"other name", []string{"other.example.com"}, time.Hour, "does not name SERVER_HOSTNAME"},
		{"expired", []string{"reg.example.com"}, time.Nanosecond, "has expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca, certPEM, keyPEM := testCA(t, tc.validity, tc.names...)
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, CertFile), certPEM, 0o600)
			os.WriteFile(filepath.Join(dir, KeyFile), keyPEM, 0o600)
			time.Sleep(time.Millisecond)
			var logs bytes.Buffer
			cfg := &schema.Config{ServerHostname: "reg.example.com:8443", PreferredURLScheme: "http"}
			ts, err := newTLS(cfg, dir, t.TempDir(), nil, slog.New(slog.NewTextHandler(&logs, nil)), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if ts.mode != modeFiles || cfg.PreferredURLScheme != "https" {
				t.Errorf("mode %d, scheme %s; want files and https", ts.mode, cfg.PreferredURLScheme)
			}
			if !strings.Contains(logs.String(), "PREFERRED_URL_SCHEME: https") {
				t.Errorf("no warning about the http scheme:\n%s", logs.String())
			}
			if tc.wantWarn != "" && !strings.Contains(logs.String(), tc.wantWarn) {
				t.Errorf("logs lack %q:\n%s", tc.wantWarn, logs.String())
			}
			if tc.wantWarn == "" && strings.Contains(logs.String(), "clients will refuse") {
				t.Errorf("unexpected warning:\n%s", logs.String())
			}
			if !strings.Contains(ts.describe("127.0.0.1:8443"), "Serving https://reg.example.com:8443 on 127.0.0.1:8443 with "+filepath.Join(dir, CertFile)) {
				t.Errorf("describe: %s", ts.describe("127.0.0.1:8443"))
			}
			if tc.validity < time.Minute {
				return
			}
			addr := serveTLSForTest(t, ts)
			roots := x509.NewCertPool()
			roots.AddCert(ca.Cert)
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: tc.names[0]})
			if err != nil {
				t.Fatalf("TLS handshake: %v", err)
			}
			if v := conn.ConnectionState().Version; v < tls.VersionTLS12 {
				t.Errorf("TLS version %x", v)
			}
			conn.Close()
			if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: tc.names[0], MaxVersion: tls.VersionTLS11}); err == nil {
				c.Close()
				t.Error("TLS 1.1 accepted")
			}
		})
	}
}

// serveTLSForTest serves a trivial handler the way Run does, and returns the address.
func serveTLSForTest(t *testing.T, ts *tlsServing) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go ts.serve(srv, ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestNewTLSRefusals(t *testing.T) {
	_, certPEM, _ := testCA(t, time.Hour, "reg.example.com")
	_, _, otherKey := testCA(t, time.Hour, "reg.example.com")
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"key of another certificate", map[string][]byte{CertFile: certPEM, KeyFile: otherKey}, "private key does not match public key"},
		{"not PEM", map[string][]byte{CertFile: []byte("x"), KeyFile: []byte("y")}, "`wharf config tls` makes both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				os.WriteFile(filepath.Join(dir, name), data, 0o600)
			}
			cfg := &schema.Config{ServerHostname: "reg.example.com", PreferredURLScheme: "https"}
			_, err := newTLS(cfg, dir, t.TempDir(), nil, slog.New(slog.DiscardHandler), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestExternalKeepsScheme serves plain HTTP under EXTERNAL_TLS_TERMINATION without touching
// the https scheme, and says so.
func TestExternalKeepsScheme(t *testing.T) {
	cfg := &schema.Config{ServerHostname: "reg.example.com", PreferredURLScheme: "https", ExternalTLSTermination: true}
	ts, err := newTLS(cfg, t.TempDir(), t.TempDir(), nil, slog.New(slog.DiscardHandler), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if ts.mode != modeExternal || cfg.PreferredURLScheme != "https" {
		t.Fatalf("mode %d scheme %s", ts.mode, cfg.PreferredURLScheme)
	}
	addr := serveTLSForTest(t, ts)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("plain HTTP: %v", err)
	}
	resp.Body.Close()
	if got := ts.describe(addr); !strings.Contains(got, "plain HTTP on "+addr+" for https://reg.example.com") {
		t.Errorf("describe: %s", got)
	}
}

func TestACMEHint(t *testing.T) {
	unknown := fmt.Errorf("performing request: %w", x509.UnknownAuthorityError{})
	if h := acmeHint(unknown); !strings.Contains(h, "extra_ca_certs/") {
		t.Errorf("hint for an untrusted directory: %s", h)
	}
	if h := acmeHint(errors.New("connection refused")); !strings.Contains(h, "port 443") {
		t.Errorf("hint for other failures: %s", h)
	}
}

// TestSlogCore checks that certmagic's zap logs reach the slog handler with their level,
// message, logger name and fields, and that disabled levels are dropped.
func TestSlogCore(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	zl := zap.New(&slogCore{h: h}).Named("acme").With(zap.String("ca", "https://ca.example/dir"))
	zl.Debug("dropped")
	zl.Info("obtaining certificate", zap.String("identifier", "reg.example.com"), zap.Int("attempt", 2))
	zl.Warn("retrying", zap.Error(errors.New("boom")))
	zl.Error("failed")

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (debug dropped):\n%s", len(lines), buf.String())
	}
	first := lines[0]
	if first["level"] != "INFO" || first["msg"] != "obtaining certificate" || first["logger"] != "acme" ||
		first["identifier"] != "reg.example.com" || first["attempt"] != float64(2) || first["ca"] != "https://ca.example/dir" {
		t.Errorf("info line: %v", first)
	}
	if lines[1]["level"] != "WARN" || lines[1]["error"] != "boom" {
		t.Errorf("warn line: %v", lines[1])
	}
	if lines[2]["level"] != "ERROR" {
		t.Errorf("error line: %v", lines[2])
	}
}
