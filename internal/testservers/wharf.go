package testservers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	wharfOnce sync.Once
	wharfBin  string
	wharfErr  error
)

// WharfBinary returns the wharf binary under test: $WHARF_BINARY when set, else one built from
// this module once per test binary, static (CGO_ENABLED=0) as `make build` makes it, so that
// an image with no C library can run it too.
func WharfBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WHARF_BINARY"); p != "" {
		return p
	}
	wharfOnce.Do(func() {
		var out []byte
		out, wharfErr = exec.Command("go", "env", "GOMOD").Output()
		if wharfErr != nil {
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := privateDir("bin")
		if err != nil {
			wharfErr = err
			return
		}
		wharfBin = filepath.Join(dir, "wharf")
		cmd := exec.Command("go", "build", "-trimpath", "-o", wharfBin, "./cmd/wharf")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			wharfErr = fmt.Errorf("go build ./cmd/wharf: %v\n%s", err, out)
		}
	})
	if wharfErr != nil {
		t.Fatalf("build wharf: %v", wharfErr)
	}
	return wharfBin
}

// Wharf is a `wharf serve` process started for a test.
type Wharf struct {
	// Host is host:port as clients name the registry (also SERVER_HOSTNAME).
	Host string
	// URL is http://Host.
	URL       string
	ConfigDir string
	DataDir   string
	// User and Password are the first superuser's credentials.
	User, Password string

	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *syncWriter
}

// WharfOptions configure StartWharf.
type WharfOptions struct {
	// Config is config.yaml without SERVER_HOSTNAME (the harness adds it); empty runs the
	// embedded default with no config file at all.
	Config string
	// Env adds environment variables.
	Env []string
	// Port is the port to listen on (0: a free one). Tests that must name the server before
	// it starts (e.g. in an OpenID provider's redirect URIs) pick one with FreePort.
	Port int
	// Files are written into the config directory beside config.yaml (e.g.
	// "extra_ca_certs/ldap.crt").
	Files map[string][]byte
}

// StartWharf starts `wharf serve` on a free loopback port and waits until /health/instance
// answers. The server is stopped (SIGTERM) when the test ends.
func StartWharf(t testing.TB, opts WharfOptions) *Wharf {
	t.Helper()
	port := opts.Port
	if port == 0 {
		port = FreePort(t)
	}
	w := &Wharf{
		Host:     "127.0.0.1:" + strconv.Itoa(port),
		DataDir:  t.TempDir(),
		User:     "admin",
		Password: "wharf-test-password",
		bin:      WharfBinary(t),
	}
	w.URL = "http://" + w.Host
	if opts.Config != "" {
		w.ConfigDir = t.TempDir()
		cfg := "SERVER_HOSTNAME: " + w.Host + "\n" + opts.Config
		if err := os.WriteFile(filepath.Join(w.ConfigDir, "config.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		for name, data := range opts.Files {
			path := filepath.Join(w.ConfigDir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.start(t, opts.Env)
	t.Cleanup(func() { w.Stop(t) })
	return w
}

func (w *Wharf) start(t testing.TB, env []string) {
	t.Helper()
	args := []string{"serve", "--data-dir", w.DataDir, "--listen", w.Host, "--log-level", "debug"}
	if w.ConfigDir != "" {
		args = append(args, "--config-dir", w.ConfigDir)
	}
	w.log = &syncWriter{w: &bytes.Buffer{}}
	w.cmd = exec.Command(w.bin, args...)
	w.cmd.Env = append(append(os.Environ(), "WHARF_INITIAL_PASSWORD="+w.Password), env...)
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start wharf: %v", err)
	}
	w.done = make(chan struct{})
	go func() { w.cmd.Wait(); close(w.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(w.URL + "/health/instance")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-w.done:
			t.Fatalf("wharf serve exited before it was healthy:\n%s", w.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wharf serve was not healthy within a minute:\n%s", w.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logs returns what the server printed.
func (w *Wharf) Logs() string {
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	return w.log.w.String()
}

// Stop sends SIGTERM and waits for a graceful exit.
func (w *Wharf) Stop(t testing.TB) {
	select {
	case <-w.done:
		return
	default:
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(40 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
		t.Errorf("wharf serve did not stop within 40s of SIGTERM")
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (w *Wharf) Kill() {
	w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
}

// Exited reports whether the process has ended, and its exit code.
func (w *Wharf) Exited() (bool, int) {
	select {
	case <-w.done:
		return true, w.cmd.ProcessState.ExitCode()
	default:
		return false, 0
	}
}

// Restart starts the server again on the same port, configuration and data.
func (w *Wharf) Restart(t testing.TB) {
	t.Helper()
	w.Stop(t)
	w.start(t, nil)
}

// Run runs another wharf subcommand against the same configuration and data, returning its
// combined output.
func (w *Wharf) Run(ctx context.Context, stdin string, args ...string) (string, error) {
	full := append([]string{}, args...)
	full = append(full, "--data-dir", w.DataDir)
	if w.ConfigDir != "" {
		full = append(full, "--config-dir", w.ConfigDir)
	}
	cmd := exec.CommandContext(ctx, w.bin, full...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// PostgresS3Config returns config.yaml lines for a fresh PostgreSQL database and a fresh MinIO
// bucket, with proxied or redirected blob downloads.
func PostgresS3Config(t testing.TB, proxy bool) string {
	t.Helper()
	db := Postgres(t).NewDatabase(t)
	s3 := MinIO(t)
	bucket := s3.NewBucket(t)
	return fmt.Sprintf(`DB_URI: %s
DISTRIBUTED_STORAGE_CONFIG:
  s3:
    - S3Storage
    - s3_bucket: %s
      storage_path: /wharf/registry
      s3_access_key: %s
      s3_secret_key: %s
      s3_region: %s
      endpoint_url: %s
DISTRIBUTED_STORAGE_PREFERENCE: [s3]
FEATURE_PROXY_STORAGE: %t
`, db, bucket, s3.AccessKey, s3.SecretKey, s3.Region, s3.Endpoint, proxy)
}

// PostgresRadosGWConfig is PostgresS3Config with the bucket named through Quay's
// RadosGWStorage driver (hostname, port, is_secure), as Ceph and other S3-compatible stores
// are configured.
func PostgresRadosGWConfig(t testing.TB, proxy bool) string {
	t.Helper()
	db := Postgres(t).NewDatabase(t)
	s3 := MinIO(t)
	bucket := s3.NewBucket(t)
	u, err := url.Parse(s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`DB_URI: %s
DISTRIBUTED_STORAGE_CONFIG:
  ceph:
    - RadosGWStorage
    - hostname: %s
      port: %s
      is_secure: false
      access_key: %s
      secret_key: %s
      bucket_name: %s
      storage_path: /radosgw/registry
DISTRIBUTED_STORAGE_PREFERENCE: [ceph]
FEATURE_PROXY_STORAGE: %t
`, db, u.Hostname(), u.Port(), s3.AccessKey, s3.SecretKey, bucket, proxy)
}

// ServeRefuses runs `wharf serve` on the config directory (a new data directory, a free
// port), expects it to refuse to start with one line starting "wharf: ", as every command
// promises, and returns that line.
func ServeRefuses(t testing.TB, configDir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, WharfBinary(t), "serve", "--config-dir", configDir, "--data-dir", t.TempDir(),
		"--listen", "127.0.0.1:"+strconv.Itoa(FreePort(t)))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("wharf serve started:\n%s", out)
	}
	text := strings.TrimSpace(string(out))
	if strings.Count(text, "\n") != 0 || !strings.HasPrefix(text, "wharf: ") {
		t.Errorf("want a one-line reason starting with 'wharf: ', got:\n%s", text)
	}
	return text
}
