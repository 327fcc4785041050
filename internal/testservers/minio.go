package testservers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// startMinIO runs `minio server` on free loopback ports in a private data directory and waits
// until it reports itself live.
func startMinIO(bin string, apiPort, consolePort int) (*S3Server, error) {
	dir, err := privateDir("minio")
	if err != nil {
		return nil, err
	}
	srv := &S3Server{
		Endpoint:  "http://localhost:" + strconv.Itoa(apiPort),
		AccessKey: "wharf-" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
	}
	var out lockedBuffer
	cmd := exec.Command(bin, "server", dir,
		"--address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--console-address", "127.0.0.1:"+strconv.Itoa(consolePort),
		"--quiet")
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
	if err := waitHTTP200(srv.Endpoint+"/minio/health/live", 60*time.Second, exited); err != nil {
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

// Client returns an S3 client for the server, with path-style addressing.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		UsePathStyle: true,
	})
}

// waitHTTP200 polls url until it answers 200 OK, the timeout passes or the server has exited.
func waitHTTP200(url string, timeout time.Duration, exited func() bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
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

// lockedBuffer collects a process's output; it is written by the process's copier goroutines
// while the harness may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Tail returns at most the last n bytes written.
func (b *lockedBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.Bytes()
	return string(s[max(0, len(s)-n):])
}
