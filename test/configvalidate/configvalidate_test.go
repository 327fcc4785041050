// Package configvalidate tests `wharf config validate` as a user runs it: the built wharf
// binary, a config directory, and the output and exit status.
package configvalidate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// run runs `wharf ARGS...` in dir and returns its standard output, standard error and exit
// status.
func run(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testservers.WharfBinary(t), args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run wharf %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// writeConfig makes a config directory holding config.yaml.
func writeConfig(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustContain(t *testing.T, what, out string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

func TestEmbeddedDefaultIsValid(t *testing.T) {
	dir := writeConfig(t, "SERVER_HOSTNAME: localhost:8080\n")
	// No DIR: the current directory.
	out, errOut, code := run(t, dir, "config", "validate")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	mustContain(t, "output", out,
		"Validated config.yaml in "+dir,
		"ok      database sqlite: the embedded database (DB_URI unset) at "+filepath.Join(dir, "wharf-data", "wharf.db")+" does not exist yet",
		"ok      storage location default: LocalStorage "+filepath.Join(dir, "wharf-data", "storage"),
		"skipped redis ping:",
		"skipped server tls:",
		"\nvalid: 2 checks passed, 5 skipped\n")
	if _, err := os.Stat(filepath.Join(dir, "wharf-data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("validation created the data directory (%v); it must change nothing", err)
	}
}

func TestSchemaErrorIsInvalid(t *testing.T) {
	dir := writeConfig(t, "SERVER_HOSTNAME: localhost:8080\n\nFEATURE_MAILING: yes please\nMAIL_SERVER: smtp.example.com\n")
	out, errOut, code := run(t, t.TempDir(), "config", "validate", dir)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
	}
	mustContain(t, "output", out, "config.yaml:3: FEATURE_MAILING: ", "\ninvalid: 1 problem\n")
	if strings.Contains(out, "database") {
		t.Errorf("reachability checks ran on an invalid config:\n%s", out)
	}
}

func TestConsistencyProblemIsInvalid(t *testing.T) {
	dir := writeConfig(t, "SERVER_HOSTNAME: registry.example.com\nPREFERRED_URL_SCHEME: https\nFEATURE_MAILING: true\n")
	out, _, code := run(t, t.TempDir(), "config", "validate", dir)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, out)
	}
	mustContain(t, "output", out,
		"config.yaml:2: PREFERRED_URL_SCHEME: https needs a certificate",
		"config.yaml:3: MAIL_SERVER: FEATURE_MAILING is true, so MAIL_SERVER is required",
		"\ninvalid: 2 problems\n")
}

func TestUnreachablePostgres(t *testing.T) {
	port := testservers.FreePort(t)
	config := fmt.Sprintf("SERVER_HOSTNAME: localhost:8080\nDB_URI: postgresql://quay:secret@127.0.0.1:%d/quay\n", port)
	dir := writeConfig(t, config)
	out, errOut, code := run(t, t.TempDir(), "config", "validate", "--timeout", "5s", dir)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", code, out, errOut)
	}
	mustContain(t, "output", out,
		fmt.Sprintf("FAILED  database connection: cannot connect to PostgreSQL at 127.0.0.1:%d", port),
		"connection refused", "check the host and port in DB_URI",
		"\nunreachable: 1 check failed\n")
	if strings.Contains(out, "secret") {
		t.Errorf("the output shows the database password:\n%s", out)
	}

	// --offline skips the reachability checks: the same config is valid.
	out, errOut, code = run(t, t.TempDir(), "config", "validate", "--offline", dir)
	if code != 0 {
		t.Fatalf("--offline: exit %d, want 0\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "database") || strings.Contains(out, "storage") {
		t.Errorf("--offline ran reachability checks:\n%s", out)
	}
	mustContain(t, "--offline output", out, "\nvalid: ")

	// --json prints the report as JSON, with the same exit status.
	out, errOut, code = run(t, t.TempDir(), "config", "validate", "--json", dir)
	if code != 3 {
		t.Fatalf("--json: exit %d, want 3\n%s%s", code, out, errOut)
	}
	var rep struct {
		Dir      string `json:"dir"`
		State    string `json:"state"`
		ExitCode int    `json:"exit_code"`
		Problems []any  `json:"problems"`
		Checks   []struct {
			Group, Check, Path, Status, Message string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if rep.Dir != dir || rep.State != "unreachable" || rep.ExitCode != 3 || rep.Problems == nil {
		t.Errorf("JSON report: dir %q, state %q, exit_code %d, problems %v", rep.Dir, rep.State, rep.ExitCode, rep.Problems)
	}
	failed := 0
	for _, c := range rep.Checks {
		if c.Status == "failed" {
			failed++
			if c.Group != "database" || c.Path != "DB_URI" || !strings.Contains(c.Message, "connection refused") {
				t.Errorf("failed check %+v, want the database's", c)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d failed checks in JSON, want 1", failed)
	}
}

// A production config whose services all answer: PostgreSQL, Redis and S3 (MinIO).
func TestProductionConfigIsValid(t *testing.T) {
	pg := testservers.Postgres(t)
	redis := testservers.Redis(t, testservers.RedisOptions{Password: "redis-pw"})
	minio := testservers.MinIO(t)
	bucket := minio.NewBucket(t)
	config := fmt.Sprintf(`SERVER_HOSTNAME: registry.example.com
DB_URI: %s
BUILDLOGS_REDIS: {host: %s, port: %d, password: redis-pw}
USER_EVENTS_REDIS: {host: %s, port: %d, password: redis-pw}
DISTRIBUTED_STORAGE_CONFIG:
  s3:
    - S3Storage
    - endpoint_url: %s
      s3_bucket: %s
      storage_path: /registry
      s3_access_key: %s
      s3_secret_key: %s
DISTRIBUTED_STORAGE_PREFERENCE: [s3]
`, pg.NewDatabase(t), redis.Host, redis.Port, redis.Host, redis.Port, minio.Endpoint, bucket, minio.AccessKey, minio.SecretKey)
	dir := writeConfig(t, config)
	out, errOut, code := run(t, t.TempDir(), "config", "validate", dir)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	mustContain(t, "output", out,
		"ok      database connection: connected to PostgreSQL at "+pg.Addr,
		"ok      database version: PostgreSQL ",
		"ok      database privileges:",
		"ok      redis ping BUILDLOGS_REDIS and USER_EVENTS_REDIS: Redis at "+redis.Addr()+" answered PING with PONG",
		"ok      storage location s3: S3Storage bucket "+bucket+" at "+minio.Endpoint+": wrote, read back and deleted a probe object",
		"\nvalid: 5 checks passed, 4 skipped\n")
}

func TestToolErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	cases := []struct {
		name  string
		args  []string
		words []string
	}{
		{"missing directory", []string{"config", "validate", missing}, []string{"no config.yaml in " + missing, "wharf config wizard"}},
		{"directory without config.yaml", []string{"config", "validate", t.TempDir()}, []string{"no config.yaml", "wharf config wizard"}},
		{"bad timeout", []string{"config", "validate", "--timeout", "0s", writeConfig(t, "SERVER_HOSTNAME: x\n")}, []string{"--timeout", "positive duration"}},
		{"two directories", []string{"config", "validate", "a", "b"}, []string{"accepts at most 1 arg"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, t.TempDir(), c.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			mustContain(t, "standard error", errOut, c.words...)
		})
	}
}
