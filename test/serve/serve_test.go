// Package serve tests `wharf serve` and `wharf user create` as a person runs them: the
// embedded default, start-up refusals of bad configuration, health checks, graceful shutdown,
// and users added to a running server's store.
package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// TestEmbeddedDefault starts wharf with no configuration at all, as `make run` does.
func TestEmbeddedDefault(t *testing.T) {
	bin := testservers.WharfBinary(t)
	dir := t.TempDir()
	port := testservers.FreePort(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	waitHealthy(t, url)
	pwFile := filepath.Join(dir, "wharf-data", "initial-admin-password")
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatalf("no initial password saved in the default data directory: %v\n%s", err, out.String())
	}
	password := strings.TrimSpace(string(pw))
	for _, want := range []string{"http://localhost:" + strconv.Itoa(port), `created superuser "admin"`, password, "podman login"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start-up output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"wharf.db", "storage"} {
		if _, err := os.Stat(filepath.Join(dir, "wharf-data", f)); err != nil {
			t.Errorf("embedded default did not create wharf-data/%s: %v", f, err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/v2/", nil)
	req.SetBasicAuth("admin", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ with the printed credentials: %v %v", resp, err)
	}
	resp.Body.Close()
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/health/instance")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy", url)
}

// TestBadConfigStopsStartup checks that a bad config.yaml stops start-up with the key's path.
func TestBadConfigStopsStartup(t *testing.T) {
	tests := []struct {
		name, config string
		want         []string
	}{
		{"unknown key", "SERVER_HOSTNAME: x:1\nFEATURE_ANONYMOUS_ACESS: true\n", []string{"line 2", "FEATURE_ANONYMOUS_ACESS", "unknown key"}},
		{"bad value", "DEFAULT_TAG_EXPIRATION: fortnight\n", []string{"line 1", "DEFAULT_TAG_EXPIRATION", "does not match pattern"}},
		{"bad storage", "DISTRIBUTED_STORAGE_CONFIG:\n  default:\n    - S3Storage\n    - storage_path: /x\n", []string{"DISTRIBUTED_STORAGE_CONFIG/default/1", "s3_bucket"}},
		{"undefined location", "DISTRIBUTED_STORAGE_PREFERENCE: [nowhere]\n", []string{"DISTRIBUTED_STORAGE_PREFERENCE/0", "nowhere"}},
		{"unreachable database", "DB_URI: postgresql://nobody@127.0.0.1:1/none?connect_timeout=2\n", []string{"connect to postgres database"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfgDir := t.TempDir()
			os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte(tc.config), 0o600)
			text := testservers.ServeRefuses(t, cfgDir)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("error lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestUserCreateWhileServing adds a user to the store of a running server.
func TestUserCreateWhileServing(t *testing.T) {
	for _, b := range []struct {
		name   string
		config func(t *testing.T) string
	}{
		{"sqlite-disk", func(*testing.T) string { return "" }},
		{"postgres-s3", func(t *testing.T) string { return testservers.PostgresS3Config(t, true) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: b.config(t)})
			ctx := context.Background()
			out, err := w.Run(ctx, "carols-password\n", "user", "create", "carol", "--password-stdin", "--email", "carol@example.com")
			if err != nil || !strings.Contains(out, "created user carol") {
				t.Fatalf("user create: %v\n%s", err, out)
			}
			out, err = w.Run(ctx, "another-password\n", "user", "create", "carol", "--password-stdin")
			if err == nil || !strings.Contains(out, "already exists") {
				t.Fatalf("duplicate user create: %v\n%s", err, out)
			}
			out, err = w.Run(ctx, "short\n", "user", "create", "dave", "--password-stdin")
			if err == nil || !strings.Contains(out, "password too short") {
				t.Fatalf("short password: %v\n%s", err, out)
			}
			out, err = w.Run(ctx, "long-enough-pw\n", "user", "create", "Not_Valid", "--password-stdin")
			if err == nil || !strings.Contains(out, "invalid user name") {
				t.Fatalf("invalid name: %v\n%s", err, out)
			}
			req, _ := http.NewRequest(http.MethodGet, w.URL+"/v2/", nil)
			req.SetBasicAuth("carol", "carols-password")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("the new user cannot log in: %v %v", resp, err)
			}
			resp.Body.Close()
		})
	}
}

// TestHealth checks Quay's health endpoints.
func TestHealth(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	for _, path := range []string{"/health/instance", "/health/endtoend"} {
		resp, err := http.Get(w.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Data struct {
				Services map[string]bool `json:"services"`
			} `json:"data"`
			StatusCode int `json:"status_code"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || body.StatusCode != 200 || !body.Data.Services["database"] || !body.Data.Services["storage"] {
			t.Fatalf("%s: %d %+v", path, resp.StatusCode, body)
		}
	}
}

// TestGracefulShutdown sends SIGTERM while an upload is in flight: the upload completes, new
// connections are refused, and the server exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	req, _ := http.NewRequest(http.MethodPost, w.URL+"/v2/admin/drain/blobs/uploads/", nil)
	req.SetBasicAuth(w.User, w.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %v %v", resp, err)
	}
	resp.Body.Close()
	location := resp.Header.Get("Location")

	data := make([]byte, 8<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	digest := fmt.Sprintf("sha256:%x", sum)
	conn, err := net.Dial("tcp", w.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := "Basic " + basic(w.User, w.Password)
	fmt.Fprintf(conn, "PUT %s?digest=%s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n",
		location, digest, w.Host, auth, len(data))
	conn.Write(data[:len(data)/2])
	time.Sleep(300 * time.Millisecond)

	stopped := make(chan struct{})
	go func() { w.Stop(t); close(stopped) }()
	time.Sleep(500 * time.Millisecond)
	if exited, _ := w.Exited(); exited {
		t.Fatal("the server exited with an upload in flight")
	}
	conn.Write(data[len(data)/2:])
	reply := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, _ := io.ReadAtLeast(conn, reply, 12)
	if !strings.HasPrefix(string(reply[:n]), "HTTP/1.1 201") {
		t.Fatalf("in-flight upload during shutdown answered:\n%s", reply[:n])
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after the in-flight request finished")
	}
	if _, code := w.Exited(); code != 0 {
		t.Fatalf("server exit code %d after SIGTERM:\n%s", code, w.Logs())
	}
	// The blob survived the shutdown.
	w.Restart(t)
	req, _ = http.NewRequest(http.MethodHead, w.URL+"/v2/admin/drain/blobs/"+digest, nil)
	req.SetBasicAuth(w.User, w.Password)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("blob uploaded during shutdown is missing after restart: %v %v", resp, err)
	}
}

func basic(user, pass string) string {
	return strings.TrimSpace(base64Encode(user + ":" + pass))
}

// TestUserInitialize checks that with FEATURE_USER_INITIALIZE the server creates no user on
// first start (as Quay) and that the first user comes through /api/v1/user/initialize, once:
// what `wharf install` relies on.
func TestUserInitialize(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_USER_INITIALIZE: true\nSUPER_USERS: [init]\n"})
	if logs := w.Logs(); !strings.Contains(logs, "No users yet: create the first with POST /api/v1/user/initialize") {
		t.Errorf("start-up output does not say how to create the first user:\n%s", logs)
	}
	initialize := func(user, password string) int {
		body := strings.NewReader(`{"username":"` + user + `","password":"` + password + `","email":"` + user + `@example.com"}`)
		resp, err := http.Post(w.URL+"/api/v1/user/initialize", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	loginCode := func(user, password string) int {
		req, _ := http.NewRequest(http.MethodGet, w.URL+"/v2/", nil)
		req.SetBasicAuth(user, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := loginCode("admin", w.Password); code != http.StatusUnauthorized {
		t.Errorf("the harness's admin can log in (%d): the server created a user on its own", code)
	}
	if code := initialize("init", "init-password-1"); code != http.StatusOK {
		t.Fatalf("initialize: %d", code)
	}
	if code := loginCode("init", "init-password-1"); code != http.StatusOK {
		t.Errorf("the initialized user cannot log in: %d", code)
	}
	if code := initialize("other", "other-password-1"); code != http.StatusBadRequest {
		t.Errorf("second initialize: %d, want 400", code)
	}
}

// TestDBWait starts `wharf serve --db-wait` before its PostgreSQL answers, as the installer's
// units do at boot: the server waits, says so, and serves once the database comes up.
func TestDBWait(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	db, err := url.Parse(testservers.Postgres(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	target := db.Host
	port := testservers.FreePort(t)
	db.Host = "127.0.0.1:" + strconv.Itoa(port)
	cfgDir := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	cfg := "SERVER_HOSTNAME: " + listen + "\nDB_URI: " + db.String() + "\n"
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out testservers.Output
	cmd := exec.Command(testservers.WharfBinary(t), "serve", "--config-dir", cfgDir, "--data-dir", t.TempDir(), "--listen", listen, "--db-wait", "2m")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// The database's port answers nothing for a few seconds.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "waiting for the database") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of waiting for the database:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", db.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	waitHealthy(t, "http://"+listen)
}
