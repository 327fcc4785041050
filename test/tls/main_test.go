// Package tls tests Wharf's TLS as a person sets it up: `wharf config tls` makes the
// certificate and `wharf serve` serves HTTPS with it to skopeo; EXTERNAL_TLS_TERMINATION serves
// plain HTTP behind a TLS-terminating proxy while handing out https URLs; and with
// FEATURE_ACME_TLS the server obtains, keeps and renews its certificate from Pebble, the ACME
// test server, which validates the TLS-ALPN-01 challenge on the server's own port.
package tls

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

const (
	adminUser     = "admin"
	adminPassword = "wharf-tls-test-password"
)

// serve is a `wharf serve` process started for a test. The harness's StartWharf checks health
// over plain HTTP only, so these tests start the server themselves, to wait for health over
// HTTPS with the CA they expect.
type serve struct {
	Addr      string // 127.0.0.1:PORT, the listen address
	ConfigDir string
	DataDir   string

	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	out  *testservers.Output
}

// newConfigDir makes a config directory holding config.yaml and the files given (by their
// path inside it, such as "extra_ca_certs/ca.crt").
func newConfigDir(t *testing.T, config string, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string][]byte{"config.yaml": []byte(config)}
	for name, data := range files {
		all[name] = data
	}
	for name, data := range all {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startServe starts `wharf serve` on addr with the config directory and a new data directory.
// It does not wait: see waitHTTPS, waitHTTP and waitLog.
func startServe(t *testing.T, addr, configDir string) *serve {
	t.Helper()
	s := &serve{Addr: addr, ConfigDir: configDir, DataDir: t.TempDir(), bin: testservers.WharfBinary(t)}
	s.start(t)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *serve) start(t *testing.T) {
	t.Helper()
	s.out = &testservers.Output{}
	s.cmd = exec.Command(s.bin, "serve", "--config-dir", s.ConfigDir, "--data-dir", s.DataDir, "--listen", s.Addr, "--log-level", "debug")
	s.cmd.Env = append(os.Environ(), "WHARF_INITIAL_PASSWORD="+adminPassword)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start wharf serve: %v", err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
}

// stop sends SIGTERM and waits for the server to end.
func (s *serve) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("wharf serve did not stop within 40s of SIGTERM")
	}
}

// restart stops the server and starts it again on the same address, config and data.
func (s *serve) restart(t *testing.T) {
	t.Helper()
	s.stop(t)
	s.start(t)
}

// Logs returns what the server printed.
func (s *serve) Logs() string { return s.out.String() }

// waitHTTPS waits until GET /health/instance answers 200 over TLS verified against roots for
// serverName, and returns that client.
func (s *serve) waitHTTPS(t *testing.T, roots *x509.CertPool, serverName string) *http.Client {
	t.Helper()
	client := httpsClient(roots, serverName)
	s.waitHealthy(t, client, "https://"+s.Addr)
	return client
}

// waitHTTP waits until GET /health/instance answers 200 over plain HTTP.
func (s *serve) waitHTTP(t *testing.T) {
	t.Helper()
	s.waitHealthy(t, &http.Client{Timeout: 5 * time.Second}, "http://"+s.Addr)
}

func (s *serve) waitHealthy(t *testing.T, client *http.Client, base string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for {
		resp, err := client.Get(base + "/health/instance")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-s.done:
			t.Fatalf("wharf serve exited before %s was healthy:\n%s", base, s.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not healthy within 90s (last: %v):\n%s", base, last, s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLog waits until the server's output holds want.
func (s *serve) waitLog(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.Logs(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("wharf serve did not print %q within %s:\n%s", want, timeout, s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// printed reports whether the server's output holds want, waiting up to ten seconds for it:
// the output reaches the test through a pipe, a little after the server wrote it.
func (s *serve) printed(want string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Logs(), want) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// httpsClient verifies servers against roots alone, for serverName whatever the URL's host.
func httpsClient(roots *x509.CertPool, serverName string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
	}}
}

// servedCertificate connects to addr as serverName and returns the chain the server
// presented, verified against roots.
func servedCertificate(t *testing.T, addr, serverName string, roots *x509.CertPool) []*x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		t.Fatalf("TLS to %s as %s: %v", addr, serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates
}

// imageDir writes a one-layer image in skopeo's dir: layout and returns the directory and the
// layer's content.
func imageDir(t *testing.T) (dir string, layer []byte) {
	t.Helper()
	dir = t.TempDir()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer = []byte("layer bytes sent over TLS " + t.Name())
	write := func(b []byte) string {
		sum := fmt.Sprintf("%x", sha256.Sum256(b))
		if err := os.WriteFile(filepath.Join(dir, sum), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + sum
	}
	cd, ld := write(config), write(layer)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`, cd, len(config), ld, len(layer))
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("Directory Transport Version: 1.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, layer
}

// skopeo runs skopeo with a policy accepting any image, returning its combined output.
func skopeo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testservers.LookTool(t, "skopeo")
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--policy", policy}, args...)...)
	// No registries.conf or certs.d of the machine running the tests may help or hinder.
	cmd.Env = append(os.Environ(), "REGISTRIES_CONFIG_PATH="+filepath.Join(t.TempDir(), "registries.conf"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pushAndPull pushes a new image to ref with skopeo trusting the CA certificates in certDir,
// pulls it back the same way, and checks that the layer survived.
func pushAndPull(t *testing.T, ref, certDir string) {
	t.Helper()
	src, layer := imageDir(t)
	creds := adminUser + ":" + adminPassword
	if out, err := skopeo(t, "copy", "--dest-cert-dir", certDir, "--dest-creds", creds, "dir:"+src, "docker://"+ref); err != nil {
		t.Fatalf("skopeo push to %s over verified TLS: %v\n%s", ref, err, out)
	}
	dst := t.TempDir()
	if out, err := skopeo(t, "copy", "--src-cert-dir", certDir, "--src-creds", creds, "docker://"+ref, "dir:"+dst); err != nil {
		t.Fatalf("skopeo pull from %s over verified TLS: %v\n%s", ref, err, out)
	}
	if got := pulledLayer(t, dst); !bytes.Equal(got, layer) {
		t.Fatalf("the pulled layer is %q, want %q", got, layer)
	}
}

// pulledLayer reads the first layer of an image in skopeo's dir: layout, uncompressed (skopeo
// compresses layers it pushes).
func pulledLayer(t *testing.T, dir string) []byte {
	t.Helper()
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil || len(m.Layers) == 0 {
		t.Fatalf("pulled manifest: %v: %s", err, data)
	}
	blob, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(m.Layers[0].Digest, "sha256:")))
	if err != nil {
		t.Fatalf("pulled layer: %v", err)
	}
	if zr, err := gzip.NewReader(bytes.NewReader(blob)); err == nil {
		if blob, err = io.ReadAll(zr); err != nil {
			t.Fatalf("pulled layer: %v", err)
		}
	}
	return blob
}

// certDir makes a directory holding caPEM as ca.crt, as /etc/containers/certs.d/HOST does.
func certDir(t *testing.T, caPEM []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}
