package main

import (
	"context"
	"encoding/json"
	"errors"
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
	"sync"
	"syscall"
	"time"
)

// process is a registry server started by the benchmark.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	out  *tailWriter
}

// startProcess starts bin in its own process group (so a terminal's Ctrl-C reaches only the
// benchmark, which stops its servers itself) and has the kernel kill it if the benchmark dies.
func startProcess(name, bin string, args, env []string) (*process, error) {
	p := &process{name: name, out: &tailWriter{max: 64 << 10}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// pid is the server's process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the server has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// alive returns an error with the server's last output if it has ended.
func (p *process) alive() error {
	if p.exited() {
		return fmt.Errorf("%s exited (%v); its last output:\n%s", p.name, p.cmd.ProcessState, p.out.String())
	}
	return nil
}

// waitHealthy polls url until it answers 200.
func (p *process) waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := p.alive(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 on %s within %s; its output:\n%s", p.name, url, timeout, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server: SIGTERM, then SIGKILL after a grace period.
func (p *process) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuTime returns the user plus system CPU time the server has used so far.
func (p *process) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid()) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%s CPU time: %w", p.name, err)
	}
	return parseProcStatCPU(string(b))
}

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on every Linux architecture
// Go supports).
const clockTick = 10 * time.Millisecond

// parseProcStatCPU reads utime+stime from the text of /proc/PID/stat.
func parseProcStatCPU(stat string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may contain spaces: fields are counted
	// after its closing parenthesis, where field 3 (state) comes first.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	f := strings.Fields(stat[i+1:])
	// utime and stime are fields 14 and 15 of the whole line, so 11 and 12 here (0-based).
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc/PID/stat format: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc/PID/stat format: bad utime/stime")
	}
	return time.Duration(ut+st) * clockTick, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// freePort returns a TCP port on the loopback interface that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cleanEnv returns the environment without variables whose names start with any prefix.
func cleanEnv(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

// version runs bin with --version and returns its first line.
func version(bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Wharf's first superuser and the password the benchmark gives it.
const (
	wharfUser     = "admin"
	wharfPassword = "registrybench-password"
	benchRepo     = "admin/bench"
)

// startWharf runs `wharf serve` on the embedded default (SQLite and local disk) and returns
// the registry and a source of bearer tokens for benchRepo.
func startWharf(ctx context.Context, bin, dataDir string) (*process, *registryClient, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	env := append(cleanEnv("WHARF_"), "WHARF_INITIAL_PASSWORD="+wharfPassword)
	p, err := startProcess("wharf", bin, []string{"serve", "--data-dir", dataDir, "--listen", host, "--log-level", "warn"}, env)
	if err != nil {
		return nil, nil, err
	}
	base := "http://" + host
	if err := p.waitHealthy(ctx, base+"/health/instance", time.Minute); err != nil {
		p.stop()
		return nil, nil, err
	}
	c := newRegistryClient("wharf", base, benchRepo)
	c.token = func(ctx context.Context) (string, error) { return wharfToken(ctx, c, wharfUser, wharfPassword) }
	return p, c, nil
}

// wharfToken logs in at Wharf's token endpoint for pull and push on the client's repository.
// It learns the endpoint and the service name from the registry's challenge: the realm names
// SERVER_HOSTNAME (localhost:PORT on the embedded default), so only its path is used, on the
// address the benchmark connects to.
func wharfToken(ctx context.Context, c *registryClient, user, password string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/v2/", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("wharf: GET /v2/: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return "", fmt.Errorf("wharf: GET /v2/ without credentials answered %s, want 401 with a challenge", resp.Status)
	}
	ch := parseChallenge(resp.Header.Get("WWW-Authenticate"))
	realm, err := url.Parse(ch["realm"])
	if err != nil || ch["realm"] == "" {
		return "", fmt.Errorf("wharf: unusable challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
	u := c.base.ResolveReference(&url.URL{Path: realm.Path})
	q := url.Values{}
	q.Set("service", ch["service"])
	q.Set("scope", "repository:"+c.repo+":pull,push")
	u.RawQuery = q.Encode()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.SetBasicAuth(user, password)
	resp, err = c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("wharf: token request: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("wharf: token request %s: %s: %s", u, resp.Status, body)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", fmt.Errorf("wharf: token response: %w", err)
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", fmt.Errorf("wharf: token response without a token: %s", body)
	}
	return tok.Token, nil
}

// parseChallenge reads the parameters of a `Bearer k="v",k2="v2"` challenge.
func parseChallenge(h string) map[string]string {
	out := map[string]string{}
	_, rest, ok := strings.Cut(h, " ")
	if !ok {
		return out
	}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				out[k] = v[1:]
				break
			}
			out[k] = v[1 : 1+end]
			rest = v[2+end:]
		} else {
			val, r, _ := strings.Cut(v, ",")
			out[k] = strings.TrimSpace(val)
			rest = r
		}
	}
	return out
}

// Token auth settings of the distribution registry.
const (
	peerService = "registrybench-distribution"
	peerIssuer  = "registrybench"
)

// startDistribution configures and runs `registry serve` with filesystem storage under dir
// and token auth trusting a key generated here; the returned client mints its own tokens.
func startDistribution(ctx context.Context, bin, dir string) (*process, *registryClient, error) {
	key, err := newPeerKey()
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	cfg := peerConfig{
		Addr:       host,
		RootDir:    filepath.Join(dir, "storage"),
		CertBundle: filepath.Join(dir, "token-signer.pem"),
		Realm:      "http://" + host + "/token-not-served",
		Service:    peerService,
		Issuer:     peerIssuer,
	}
	if err := os.WriteFile(cfg.CertBundle, key.certPEM, 0o600); err != nil {
		return nil, nil, err
	}
	yml, err := cfg.configYAML()
	if err != nil {
		return nil, nil, err
	}
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, yml, 0o600); err != nil {
		return nil, nil, err
	}
	// REGISTRY_* variables would override the config file, so none are passed on. The
	// registry exports OpenTelemetry traces by default (OTLP to a local collector); with no
	// collector here that is wasted work and error noise, so the exporters are set to none, as
	// an operator without a collector would.
	env := append(cleanEnv("REGISTRY_", "OTEL_"), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	p, err := startProcess("distribution", bin, []string{"serve", cfgFile}, env)
	if err != nil {
		return nil, nil, err
	}
	base := "http://" + host
	// /v2/ answers 401 with token auth; the listener being up and the app answering is
	// what matters, so wait on a request that the registry answers 200 to: /v2/ with a token.
	c := newRegistryClient("distribution", base, benchRepo)
	c.token = func(context.Context) (string, error) {
		return key.mint(tokenSpec{
			Issuer: peerIssuer, Service: peerService, Subject: "registrybench",
			Access: []resourceAccess{{Type: "repository", Name: benchRepo, Actions: []string{"pull", "push"}}},
			TTL:    2 * time.Hour,
		}, time.Now())
	}
	if err := waitPeer(ctx, p, c); err != nil {
		p.stop()
		return nil, nil, err
	}
	return p, c, nil
}

// waitPeer waits until the distribution registry answers GET /v2/ with a minted token: 200
// proves both that it is up and that it accepts the benchmark's tokens.
func waitPeer(ctx context.Context, p *process, c *registryClient) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/v2/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.http.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				return nil
			case http.StatusUnauthorized:
				return fmt.Errorf("distribution refused the minted token: %s %s (WWW-Authenticate: %s); its output:\n%s",
					resp.Status, body, resp.Header.Get("WWW-Authenticate"), p.out.String())
			}
		}
		if err := p.alive(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("distribution did not answer on %s within a minute; its output:\n%s", c.base, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
