package testservers

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NewPodmanRunner prepares a private podman (as NewPodman does) that can also run containers
// on this host: its containers.conf selects runc and cgroupfs and sets default ulimits
// (nofile 20000, nproc 32768), without which Debian's podman 4.3 cannot start a container here,
// and its containers join a bridge network of their own by default (a bridge and a random
// subnet of 10.128.0.0/10 that no host interface uses), so that tests running at the same time
// do not share addresses. The containers are removed when the test ends.
func NewPodmanRunner(t testing.TB) *PodmanRunner {
	t.Helper()
	LookTool(t, "runc", "/usr/sbin")
	p := NewPodman(t)
	dir := t.TempDir()
	network := "wharf-test-" + randomHex(4)
	conf := filepath.Join(dir, "containers.conf")
	body := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "bridge"

[network]
network_backend = "netavark"
network_config_dir = %q
default_network = %q

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"
`, filepath.Join(dir, "networks"), network)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p.env = append(p.env, "CONTAINERS_CONF="+conf)
	// podman run refuses an auth file that REGISTRY_AUTH_FILE names but does not exist.
	if _, err := os.Stat(p.authFile); err != nil {
		if err := os.WriteFile(p.authFile, []byte(`{"auths":{}}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { p.Run("", "rm", "--all", "--force", "--time", "0") })
	if err := writeNetwork(filepath.Join(dir, "networks"), network); err != nil {
		t.Fatal(err)
	}
	return &PodmanRunner{Podman: p, Network: network}
}

// PodmanRunner is a private podman that runs containers (NewPodmanRunner).
type PodmanRunner struct {
	*Podman
	// Network is the bridge network the containers join.
	Network string
}

// writeNetwork writes the config of a bridge network named name into podman's network config
// directory, with a bridge name and subnet of its own: podman would pick the first free ones
// it sees, and two test processes creating networks at once would see the same ones.
func writeNetwork(dir, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	used := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				used[ipn.IP.Mask(net.CIDRMask(24, 32)).String()] = true
			}
		}
	}
	var subnet string
	for {
		b := make([]byte, 2)
		rand.Read(b)
		subnet = fmt.Sprintf("10.%d.%d.0", 128+int(b[0])%64, b[1])
		if !used[subnet] {
			break
		}
	}
	id := make([]byte, 32)
	rand.Read(id)
	cfg := map[string]any{
		"name":              name,
		"id":                hex.EncodeToString(id),
		"driver":            "bridge",
		"network_interface": "wt" + hex.EncodeToString(id[:4]),
		"created":           time.Now().UTC().Format(time.RFC3339Nano),
		"subnets":           []map[string]string{{"subnet": subnet + "/24", "gateway": strings.TrimSuffix(subnet, "0") + "1"}},
		"ipv6_enabled":      false,
		"internal":          false,
		"dns_enabled":       true,
		"ipam_options":      map[string]string{"driver": "host-local"},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600)
}

// Container is a container a test started with Podman.RunContainer.
type Container struct {
	p *Podman
	// ID is the container's ID.
	ID string
}

// RunContainer starts a container in the background with `podman run -d ARGS...` (options, the
// image and its command) and removes it when the test ends. On
// failure, it fails the test with podman's output.
func (p *PodmanRunner) RunContainer(args ...string) *Container {
	p.t.Helper()
	out := p.Must(append([]string{"run", "-d"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	c := &Container{p: p.Podman, ID: strings.TrimSpace(lines[len(lines)-1])}
	p.t.Cleanup(func() { p.Run("", "rm", "--force", "--time", "2", c.ID) })
	return c
}

// Logs returns the container's output so far.
func (c *Container) Logs() string {
	out, err := c.p.Run("", "logs", c.ID)
	if err != nil {
		return fmt.Sprintf("(podman logs: %v) %s", err, out)
	}
	return out
}

// Inspect returns a field of `podman inspect` by its Go template, e.g. "{{.State.Pid}}".
func (c *Container) Inspect(format string) string {
	c.p.t.Helper()
	return strings.TrimSpace(c.p.Must("inspect", "--format", format, c.ID))
}

// Running reports whether the container is still running.
func (c *Container) Running() bool {
	out, err := c.p.Run("", "inspect", "--format", "{{.State.Running}}", c.ID)
	return err == nil && strings.TrimSpace(out) == "true"
}

// PID returns the host process ID of the container's first process.
func (c *Container) PID() int {
	c.p.t.Helper()
	pid, err := strconv.Atoi(c.Inspect("{{.State.Pid}}"))
	if err != nil || pid <= 0 {
		c.p.t.Fatalf("container %s has no process: %v\n%s", c.ID, err, c.Logs())
	}
	return pid
}

// WaitReady calls ready until it returns nil and fails the test, with the container's logs,
// when the container stops first or timeout passes.
func (c *Container) WaitReady(timeout time.Duration, ready func() error) {
	c.p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		if !c.Running() {
			c.p.t.Fatalf("container %s stopped before it was ready (%v); its output:\n%s", c.ID, err, c.Logs())
		}
		if time.Now().After(deadline) {
			c.p.t.Fatalf("container %s was not ready within %s: %v; its output:\n%s", c.ID, timeout, err, c.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
