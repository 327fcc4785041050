package testservers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/configtool/tlsgen"
)

// S3Server is a running S3-compatible server (MinIO) and the root credentials to use it.
type S3Server struct {
	// Endpoint is the base URL, such as "http://localhost:9000". It names the server
	// "localhost" so that its host differs from registries under test on 127.0.0.1: HTTP
	// clients drop the registry's Authorization header only when a redirect changes host,
	// and S3 refuses presigned URLs that also carry one.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// CACertPEM is the test CA that signed the server's certificate, when it serves HTTPS
	// (MinIOTLS); nil otherwise.
	CACertPEM []byte
}

var (
	minioOnce   sync.Once
	minioServer *S3Server
	minioErr    error
	bucketSeq   atomic.Int64
)

// MinIO returns the test binary's MinIO server, starting it on first use. If it cannot start,
// every caller fails with the reason.
func MinIO(t testing.TB) *S3Server {
	t.Helper()
	bin := LookTool(t, "minio")
	minioOnce.Do(func() {
		// Stays the answer if the start ends the calling test (t.Fatal inside FreePort).
		minioErr = errors.New("an earlier test stopped while starting MinIO")
		api := FreePort(t)
		console := FreePort(t)
		for console == api {
			console = FreePort(t)
		}
		minioServer, minioErr = startMinIO(bin, api, console)
	})
	if minioErr != nil {
		t.Fatalf("start MinIO: %v", minioErr)
	}
	return minioServer
}

var (
	minioTLSOnce   sync.Once
	minioTLSServer *S3Server
	minioTLSErr    error
)

// MinIOTLS returns the test binary's second MinIO server, which serves HTTPS with a
// certificate for localhost and 127.0.0.1 signed by a CA of its own (CACertPEM): for tests
// of trusting extra_ca_certs/.
func MinIOTLS(t testing.TB) *S3Server {
	t.Helper()
	bin := LookTool(t, "minio")
	minioTLSOnce.Do(func() {
		minioTLSErr = errors.New("an earlier test stopped while starting MinIO")
		minioTLSServer, minioTLSErr = startMinIOTLS(bin, FreePort(t), FreePort(t))
	})
	if minioTLSErr != nil {
		t.Fatalf("start MinIO with TLS: %v", minioTLSErr)
	}
	return minioTLSServer
}

func startMinIOTLS(bin string, apiPort, consolePort int) (*S3Server, error) {
	ca, err := tlsgen.NewCA("Wharf test MinIO CA", tlsgen.ECDSA, 7*24*time.Hour)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Issue(tlsgen.Subjects{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, tlsgen.ECDSA, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	keyPEM, err := leaf.KeyPEM()
	if err != nil {
		return nil, err
	}
	certs, err := privateDir("minio-certs")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(certs, "public.crt"), leaf.CertPEM(), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(certs, "private.key"), keyPEM, 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return startMinIOWith(bin, apiPort, consolePort, certs, pool, ca.CertPEM())
}

// startMinIO runs `minio server` on free loopback ports in a private data directory and waits
// until it reports itself live.
func startMinIO(bin string, apiPort, consolePort int) (*S3Server, error) {
	return startMinIOWith(bin, apiPort, consolePort, "", nil, nil)
}

// startMinIOWith is startMinIO serving HTTPS from certsDir (public.crt, private.key) when it
// is set, verified with roots.
func startMinIOWith(bin string, apiPort, consolePort int, certsDir string, roots *x509.CertPool, caPEM []byte) (*S3Server, error) {
	dir, err := privateDir("minio")
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if certsDir != "" {
		scheme = "https"
	}
	srv := &S3Server{
		Endpoint:  scheme + "://localhost:" + strconv.Itoa(apiPort),
		AccessKey: "wharf-" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
		CACertPEM: caPEM,
	}
	var out Output
	args := []string{"server", dir,
		"--address", "127.0.0.1:" + strconv.Itoa(apiPort),
		"--console-address", "127.0.0.1:" + strconv.Itoa(consolePort),
		"--quiet"}
	if certsDir != "" {
		args = append(args, "--certs-dir", certsDir)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cmd.Environ(),
		"MINIO_ROOT_USER="+srv.AccessKey,
		"MINIO_ROOT_PASSWORD="+srv.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CONFIG_ENV_FILE=/dev/null", // ignore a system-wide /etc/default/minio
	)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startProcess(cmd); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := func() bool { return errors.Is(cmd.Process.Signal(syscall.Signal(0)), os.ErrProcessDone) }
	if err := waitHTTP200With(&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		srv.Endpoint+"/minio/health/live", 60*time.Second, exited); err != nil {
		return nil, fmt.Errorf("%w; MinIO's output ends:\n%s", err, out.Tail(2048))
	}
	return srv, nil
}

// NewBucket creates a fresh, empty bucket and returns its name.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%d-%s", bucketSeq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Client returns an S3 client for the server, with path-style addressing (trusting its CA
// when it serves HTTPS).
func (s *S3Server) Client() *s3.Client {
	opts := s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		UsePathStyle: true,
	}
	if s.CACertPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.CACertPEM)
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	return s3.New(opts)
}

// waitHTTP200 polls url until it answers 200 OK, the timeout passes or the server has exited.
func waitHTTP200(url string, timeout time.Duration, exited func() bool) error {
	return waitHTTP200With(&http.Client{Timeout: 2 * time.Second}, url, timeout, exited)
}

// waitHTTP200With is waitHTTP200 with a client of the caller's (for HTTPS with a test CA).
func waitHTTP200With(client *http.Client, url string, timeout time.Duration, exited func() bool) error {
	deadline := time.Now().Add(timeout)
	last := fmt.Errorf("no answer yet")
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		if exited() {
			return fmt.Errorf("the server exited before %s answered 200: %w", url, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("GET %s did not answer 200 within %s: %w", url, timeout, last)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Output collects a process's output; it is written by the process's copier goroutines
// while a test reads it.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Output) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Output) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns at most the last n bytes written.
func (b *Output) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.Bytes()
	return string(s[max(0, len(s)-n):])
}
