package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// commandTimeout bounds one client command.
const commandTimeout = 3 * time.Minute

// clients runs real registry clients as one user against one registry. Every client keeps
// its configuration and credentials in the clients' own temporary directory: DOCKER_CONFIG
// (crane), HOME (regctl, which logs in to its own ~/.regctl/config.json), an auth file
// (skopeo --authfile, REGISTRY_AUTH_FILE), an oras --registry-config file, and a
// containers policy and registries.conf (skopeo, podman).
type clients struct {
	t    testing.TB
	w    *testservers.Wharf
	host string
	// user is "" for an anonymous client.
	user, password string

	dir        string
	env        []string
	authFile   string
	orasConfig string
	policy     string
	regctlSet  bool
}

// newClients prepares clients that sign in as user (or stay anonymous when user is ""),
// addressing the registry by the name it advertises.
func newClients(t testing.TB, w *testservers.Wharf, user, password string) *clients {
	t.Helper()
	return newClientsAt(t, w, advertisedHost(t, w), user, password)
}

// newClientsAt prepares clients that address the registry as host.
func newClientsAt(t testing.TB, w *testservers.Wharf, host, user, password string) *clients {
	t.Helper()
	dir := t.TempDir()
	c := &clients{t: t, w: w, host: host, user: user, password: password, dir: dir}
	home := filepath.Join(dir, "home")
	dockerConfig := filepath.Join(dir, "docker")
	runtime := filepath.Join(dir, "run")
	for _, d := range []string{home, dockerConfig, runtime} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// One docker-style credentials file serves crane (DOCKER_CONFIG) and skopeo (--authfile);
	// oras gets a copy of its own.
	auths := map[string]any{}
	if user != "" {
		auths[c.host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
	}
	c.authFile = filepath.Join(dockerConfig, "config.json")
	writeFile(t, c.authFile, mustJSON(t, map[string]any{"auths": auths}))
	c.orasConfig = filepath.Join(dir, "oras-auth.json")
	writeFile(t, c.orasConfig, mustJSON(t, map[string]any{"auths": auths}))
	c.policy = filepath.Join(dir, "policy.json")
	writeFile(t, c.policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`))
	registries := filepath.Join(dir, "registries.conf")
	writeFile(t, registries, []byte("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n"))
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, k := range []string{"HOME=", "DOCKER_CONFIG=", "REGISTRY_AUTH_FILE=", "XDG_RUNTIME_DIR=", "XDG_CONFIG_HOME=",
			"CONTAINERS_REGISTRIES_CONF=", "REGCTL_CONFIG=", "HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy="} {
			if strings.HasPrefix(kv, k) {
				return true
			}
		}
		return false
	})
	c.env = append(env,
		"HOME="+home,
		"DOCKER_CONFIG="+dockerConfig,
		"REGISTRY_AUTH_FILE="+c.authFile,
		"XDG_RUNTIME_DIR="+runtime,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"CONTAINERS_REGISTRIES_CONF="+registries,
		"NO_PROXY=*",
	)
	return c
}

// advertisedHost returns host:port as the registry names itself in its token realm. Clients
// address the registry by that name, as the server's start-up message tells users to: the
// embedded default calls itself localhost:PORT while it listens on 127.0.0.1:PORT, and oras
// refuses a bearer realm on loopback whose host differs from the registry's (see
// TestListenAddressRealm).
func advertisedHost(t testing.TB, w *testservers.Wharf) string {
	t.Helper()
	realm := tokenRealm(t, w.URL)
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		t.Fatalf("GET %s/v2/: bad token realm %q", w.URL, realm)
	}
	return u.Host
}

// tokenRealm returns the realm of the Bearer challenge that GET /v2/ answers at base.
func tokenRealm(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	m := regexp.MustCompile(`realm="([^"]+)"`).FindStringSubmatch(challenge)
	if resp.StatusCode != http.StatusUnauthorized || m == nil {
		t.Fatalf("GET %s/v2/ without credentials: %s, WWW-Authenticate %q; want 401 with a Bearer realm", base, resp.Status, challenge)
	}
	return m[1]
}

// ref names a reference in the registry: ref("admin/x:v1") is HOST/admin/x:v1.
func (c *clients) ref(name string) string { return c.host + "/" + name }

// run runs a client command and returns its standard output; the test fails if it fails.
func (c *clients) run(tool string, args ...string) string {
	c.t.Helper()
	out, stderr, err := c.exec(tool, "", args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s\n--- server log tail ---\n%s", tool, strings.Join(args, " "), err, out, stderr, tail(c.w.Logs(), 3000))
	}
	return out
}

// try runs a client command that may fail and returns its stdout, stderr and error.
func (c *clients) try(tool string, args ...string) (string, string, error) {
	c.t.Helper()
	return c.exec(tool, "", args...)
}

func (c *clients) exec(tool, stdin string, args ...string) (string, string, error) {
	c.t.Helper()
	bin := testservers.LookTool(c.t, tool)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", commandTimeout, err)
	}
	c.t.Logf("%s %s (%s, %v)", tool, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), errOrOK(err))
	return stdout.String(), stderr.String(), err
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// crane runs crane over plain HTTP with the clients' DOCKER_CONFIG.
func (c *clients) crane(args ...string) string {
	c.t.Helper()
	return c.run("crane", append(args, "--insecure")...)
}

// tryCrane runs crane and returns its combined output and error.
func (c *clients) tryCrane(args ...string) (string, error) {
	c.t.Helper()
	out, stderr, err := c.try("crane", append(args, "--insecure")...)
	return out + stderr, err
}

// skopeoArgs adds the clients' policy, credentials and plain-HTTP flags to a skopeo command.
func (c *clients) skopeoArgs(sub string, args ...string) []string {
	full := []string{"--policy", c.policy, sub}
	creds := []string{"--authfile", c.authFile}
	if c.user == "" {
		creds = []string{"--no-creds"}
	}
	switch sub {
	case "copy":
		full = append(full, "--src-tls-verify=false", "--dest-tls-verify=false")
		if c.user == "" {
			creds = []string{"--src-no-creds", "--dest-no-creds"}
		}
	default:
		full = append(full, "--tls-verify=false")
	}
	full = append(full, creds...)
	return append(full, args...)
}

// skopeo runs a skopeo subcommand (copy, inspect, delete, ...).
func (c *clients) skopeo(sub string, args ...string) string {
	c.t.Helper()
	return c.run("skopeo", c.skopeoArgs(sub, args...)...)
}

// trySkopeo runs a skopeo subcommand that may fail, returning combined output.
func (c *clients) trySkopeo(sub string, args ...string) (string, error) {
	c.t.Helper()
	out, stderr, err := c.try("skopeo", c.skopeoArgs(sub, args...)...)
	return out + stderr, err
}

// oras runs an oras command over plain HTTP with the clients' registry config.
func (c *clients) oras(args ...string) string {
	c.t.Helper()
	return c.run("oras", append(args, "--plain-http", "--registry-config", c.orasConfig)...)
}

// regctl runs a regctl command; the first call registers the registry as plain HTTP and
// logs in, keeping regctl's configuration under the clients' HOME.
func (c *clients) regctl(args ...string) string {
	c.t.Helper()
	if !c.regctlSet {
		c.run("regctl", "registry", "set", c.host, "--tls", "disabled")
		if c.user != "" {
			if out, stderr, err := c.exec("regctl", c.password, "registry", "login", c.host, "--user", c.user, "--pass-stdin"); err != nil {
				c.t.Fatalf("regctl registry login: %v\n%s%s", err, out, stderr)
			}
		}
		c.regctlSet = true
	}
	return c.run("regctl", args...)
}

// registryResponse is a response of the registry's HTTP API, body read.
type registryResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorCode returns the first OCI error code of an error body, or "".
func (r registryResponse) errorCode() string {
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(r.Body, &body) != nil || len(body.Errors) == 0 {
		return ""
	}
	return body.Errors[0].Code
}

// http sends a request to the registry with the clients' credentials (HTTP Basic, which
// Wharf accepts besides bearer tokens) and follows redirects to blob storage.
func (c *clients) http(method, path string, header http.Header) registryResponse {
	c.t.Helper()
	return c.httpBody(method, path, header, nil)
}

// httpBody is http with a request body.
func (c *clients) httpBody(method, path string, header http.Header, body []byte) registryResponse {
	c.t.Helper()
	req, err := http.NewRequest(method, c.w.URL+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return registryResponse{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// acceptAll asks for every manifest media type the registry stores.
var acceptAll = http.Header{"Accept": {mtOCIManifest, mtOCIIndex, mtDockerManifest, "application/vnd.docker.distribution.manifest.list.v2+json"}}

// manifest fetches a manifest by tag or digest and fails the test unless it is there.
func (c *clients) manifest(repo, ref string) registryResponse {
	c.t.Helper()
	r := c.http(http.MethodGet, "/v2/"+repo+"/manifests/"+ref, acceptAll)
	if r.Status != http.StatusOK {
		c.t.Fatalf("GET manifest %s:%s: %d %s", repo, ref, r.Status, r.Body)
	}
	return r
}

// blob fetches a blob and fails the test unless it is there.
func (c *clients) blob(repo, dg string) []byte {
	c.t.Helper()
	r := c.http(http.MethodGet, "/v2/"+repo+"/blobs/"+dg, nil)
	if r.Status != http.StatusOK {
		c.t.Fatalf("GET blob %s@%s: %d %s", repo, dg, r.Status, r.Body)
	}
	return r.Body
}

// assertManifestGone checks that a reference no longer resolves: HEAD answers 404 and GET
// says MANIFEST_UNKNOWN.
func (c *clients) assertManifestGone(repo, ref string) {
	c.t.Helper()
	head := c.http(http.MethodHead, "/v2/"+repo+"/manifests/"+ref, acceptAll)
	if head.Status != http.StatusNotFound {
		c.t.Errorf("HEAD %s:%s after delete: status %d, want 404", repo, ref, head.Status)
	}
	get := c.http(http.MethodGet, "/v2/"+repo+"/manifests/"+ref, acceptAll)
	if get.Status != http.StatusNotFound || get.errorCode() != "MANIFEST_UNKNOWN" {
		c.t.Errorf("GET %s:%s after delete: %d %s, want 404 MANIFEST_UNKNOWN", repo, ref, get.Status, get.Body)
	}
}

// assertManifestIs checks with HEAD that a reference resolves to the digest.
func (c *clients) assertManifestIs(repo, ref, dg string) {
	c.t.Helper()
	head := c.http(http.MethodHead, "/v2/"+repo+"/manifests/"+ref, acceptAll)
	if head.Status != http.StatusOK || head.Header.Get("Docker-Content-Digest") != dg {
		c.t.Errorf("HEAD %s:%s: status %d digest %q, want 200 %s", repo, ref, head.Status, head.Header.Get("Docker-Content-Digest"), dg)
	}
}

// assertBlobs checks that got holds exactly the blobs of want, byte for byte.
func assertBlobs(t testing.TB, what string, got, want map[string][]byte) {
	t.Helper()
	for d, b := range want {
		g, ok := got[d]
		switch {
		case !ok:
			t.Errorf("%s: blob %s (%d bytes) is missing", what, d, len(b))
		case !bytes.Equal(g, b):
			t.Errorf("%s: blob %s differs: got %d bytes, want %d", what, d, len(g), len(b))
		}
	}
	for d := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("%s: unexpected blob %s (%d bytes)", what, d, len(got[d]))
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
