package testservers

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/configtool/tlsgen"
)

// PebbleServer is Pebble, Let's Encrypt's ACME test server (Debian's pebble), started for one
// test. It validates challenges for real: it resolves every name through a mock DNS server
// (pebble-challtestsrv, from the same package) that answers 127.0.0.1 and no IPv6 address,
// then connects to that address on the TLS-ALPN-01 and HTTP-01 ports it was given.
type PebbleServer struct {
	// DirectoryURL is the ACME directory, https://127.0.0.1:PORT/dir.
	DirectoryURL string
	// ListenerCACert is the PEM certificate of the CA, made for this server alone, that signed
	// the certificate of Pebble's own HTTPS listeners: an ACME client must trust it.
	ListenerCACert []byte
	// DNSAddr is the mock DNS server Pebble resolves names with (UDP and TCP).
	DNSAddr string

	managementURL string
	client        *http.Client
	out           *Output
	pid           int
	done          chan struct{}
}

// PebbleOptions configure Pebble.
type PebbleOptions struct {
	// TLSPort is the port Pebble connects to for TLS-ALPN-01 validation, HTTPPort the one for
	// HTTP-01 (0: an unused port, so that the challenge fails).
	TLSPort, HTTPPort int
	// CertificateValidity is the lifetime of the certificates Pebble issues (0: Pebble's
	// default of five years; whole seconds).
	CertificateValidity time.Duration
}

// Pebble starts Pebble and its mock DNS server on free loopback ports, in a private directory;
// both are stopped when the test ends. Pebble is ready (its directory answers) on return.
func Pebble(t testing.TB, opts PebbleOptions) *PebbleServer {
	t.Helper()
	bin := LookTool(t, "pebble", "/usr/bin")
	dnsBin := LookTool(t, "pebble-challtestsrv", "/usr/bin")
	dir := t.TempDir()
	p := &PebbleServer{out: &Output{}}
	certFile, keyFile, err := p.writeListenerCert(dir)
	if err != nil {
		t.Fatalf("pebble: %v", err)
	}
	p.DNSAddr = startPebbleDNS(t, dnsBin)
	for _, port := range []*int{&opts.TLSPort, &opts.HTTPPort} {
		if *port == 0 {
			*port = FreePort(t)
		}
	}
	// A port found free may be taken before Pebble binds it: then try other ports.
	for attempt := 0; ; attempt++ {
		retry, err := p.start(t, bin, dir, certFile, keyFile, p.DNSAddr, opts)
		if err == nil {
			return p
		}
		if !retry || attempt == 2 {
			t.Fatalf("start pebble: %v", err)
		}
	}
}

// writeListenerCert makes a CA and a certificate it signs for localhost and 127.0.0.1, for
// Pebble's HTTPS listeners.
func (p *PebbleServer) writeListenerCert(dir string) (certFile, keyFile string, err error) {
	ca, err := tlsgen.NewCA("Wharf test Pebble listener CA", tlsgen.ECDSA, 24*time.Hour)
	if err != nil {
		return "", "", err
	}
	issued, err := ca.Issue(tlsgen.Subjects{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, tlsgen.ECDSA, 23*time.Hour)
	if err != nil {
		return "", "", err
	}
	keyPEM, err := issued.KeyPEM()
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "listener.pem"), filepath.Join(dir, "listener.key")
	if err := os.WriteFile(certFile, issued.CertPEM(), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	p.ListenerCACert = ca.CertPEM()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return certFile, keyFile, nil
}

// startPebbleDNS starts pebble-challtestsrv as a DNS server alone (its challenge servers off)
// answering 127.0.0.1 for every name and nothing for AAAA queries, and returns its address.
func startPebbleDNS(t testing.TB, bin string) string {
	t.Helper()
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		dnsPort, mgmtPort := FreePort(t), FreePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(dnsPort)
		out := &Output{}
		cmd := exec.Command(bin, "-dns01", addr, "-management", "127.0.0.1:"+strconv.Itoa(mgmtPort),
			"-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("run %s: %v", bin, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { stopGroup(cmd.Process.Pid, done) })
		// The DNS server answers over TCP too; its listener accepting means it is up.
		if last = waitTCPOrExit(addr, 15*time.Second, done); last == nil {
			return addr
		}
		last = fmt.Errorf("%w; its output ends:\n%s", last, out.Tail(2048))
	}
	t.Fatalf("start pebble-challtestsrv: %v", last)
	return ""
}

// start runs Pebble on two free ports and waits until its directory answers. retry reports
// that Pebble exited because a port was taken meanwhile.
func (p *PebbleServer) start(t testing.TB, bin, dir, certFile, keyFile, dnsAddr string, opts PebbleOptions) (retry bool, err error) {
	t.Helper()
	port, mgmt := FreePort(t), FreePort(t)
	for mgmt == port {
		mgmt = FreePort(t)
	}
	p.DirectoryURL = "https://127.0.0.1:" + strconv.Itoa(port) + "/dir"
	p.managementURL = "https://127.0.0.1:" + strconv.Itoa(mgmt)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(port),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       opts.HTTPPort,
		"tlsPort":                        opts.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      int64(opts.CertificateValidity / time.Second),
	}}
	data, err := json.Marshal(conf)
	if err != nil {
		return false, err
	}
	confFile := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(confFile, data, 0o600); err != nil {
		return false, err
	}
	cmd := exec.Command(bin, "-config", confFile, "-dnsserver", dnsAddr)
	cmd.Dir = dir
	// No artificial validation delays, and no nonces refused at random: the tests are about
	// Wharf, not about surviving Pebble's chaos.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	ready := func() error {
		resp, err := p.client.Get(p.DirectoryURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", p.DirectoryURL, resp.Status)
		}
		return nil
	}
	proc, retry, err := startForTest(t, "pebble", cmd, 30*time.Second, ready, "address already in use")
	if err != nil {
		return retry, err
	}
	p.out, p.pid, p.done = proc.out, cmd.Process.Pid, proc.done
	return false, nil
}

// IssuerRoot returns the root certificate that Pebble's issued certificates chain to (from
// its management interface, /roots/0). Pebble makes a new one each time it starts.
func (p *PebbleServer) IssuerRoot(t testing.TB) *x509.Certificate {
	t.Helper()
	resp, err := p.client.Get(p.managementURL + "/roots/0")
	if err != nil {
		t.Fatalf("pebble: get the issuing root: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble: get the issuing root: %s %v", resp.Status, err)
	}
	certs, err := tlsgen.ParseCertificates(body)
	if err != nil {
		t.Fatalf("pebble: the issuing root: %v", err)
	}
	return certs[0]
}

// IssuerRoots is a pool holding IssuerRoot alone.
func (p *PebbleServer) IssuerRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(p.IssuerRoot(t))
	return pool
}

// Issued counts the certificates Pebble has issued so far, from its log.
func (p *PebbleServer) Issued() int {
	return strings.Count(p.Logs(), "Issued certificate serial")
}

// Logs returns what Pebble printed.
func (p *PebbleServer) Logs() string { return p.out.Tail(1 << 20) }

// Stop stops Pebble (its mock DNS server stops with the test), as an ACME CA that went away.
func (p *PebbleServer) Stop() { stopGroup(p.pid, p.done) }

// waitTCPOrExit waits until addr accepts connections, the timeout passes or done is closed.
func waitTCPOrExit(addr string, timeout time.Duration, done <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited before %s accepted connections", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections within %s: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
