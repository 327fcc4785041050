// Package installer installs, upgrades, inspects and removes Wharf on a host managed by
// systemd, with Podman running its components. It knows the registry only by its image, its
// config directory and its health endpoint.
package installer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dustin/go-humanize"
)

// Finding is the outcome of one prerequisite check: what was checked, whether the host
// passes, what was found, and, when it fails, what to do.
type Finding struct {
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Found   string `json:"found"`
	Fix     string `json:"fix,omitempty"`
	Warning bool   `json:"warning,omitempty"` // worth knowing, does not stop the install
}

// Requirements says what the install needs of the host.
type Requirements struct {
	// MinPodman is the oldest Podman that works (4.3: Debian 12's; Quadlet needs 4.4).
	MinPodman string
	// Ports are the TCP ports the install will publish on the host.
	Ports []int
	// DataDir is where the data will live; MinFreeBytes must be free on its filesystem, and
	// less than WarnFreeBytes gives a warning.
	DataDir                     string
	MinFreeBytes, WarnFreeBytes int64
	// Rootless installs for the current user instead of system-wide.
	Rootless bool
	// Root is prefixed to the host paths read (/proc, /sys, /run, /etc), for tests.
	Root string
}

// DefaultRequirements are those of a default install: Podman 4.3, port 8443, and under
// /var/lib/wharf 2 GiB free (the images, the database and some room to push), with a warning
// below 10 GiB.
func DefaultRequirements() Requirements {
	return Requirements{MinPodman: "4.3", Ports: []int{8443}, DataDir: "/var/lib/wharf", MinFreeBytes: 2 << 30, WarnFreeBytes: 10 << 30}
}

// Failed reports whether any finding stops the install.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if !f.OK && !f.Warning {
			return true
		}
	}
	return false
}

// CheckHost checks everything the install needs and returns one finding per check, in a
// fixed order; it changes nothing on the host.
func CheckHost(ctx context.Context, req Requirements) []Finding {
	out := []Finding{checkSystemd(req), checkPrivileges(req), checkPodman(ctx, req), checkCgroups(req)}
	for _, p := range req.Ports {
		out = append(out, checkPort(p))
	}
	out = append(out, checkDisk(req), checkSELinux(req), checkFirewalld(ctx))
	return out
}

func (r Requirements) path(p string) string { return filepath.Join(r.Root, p) }

func checkSystemd(req Requirements) Finding {
	f := Finding{Check: "systemd"}
	if st, err := os.Stat(req.path("/run/systemd/system")); err == nil && st.IsDir() {
		f.OK, f.Found = true, "systemd is the init system"
		return f
	}
	f.Found = "systemd is not running as the init system (no /run/systemd/system)"
	f.Fix = "install on a host booted with systemd: Wharf's components run as systemd units"
	return f
}

func checkPrivileges(req Requirements) Finding {
	f := Finding{Check: "privileges"}
	switch {
	case req.Rootless && os.Geteuid() == 0:
		f.Found, f.Fix = "running as root with --user", "run `wharf install --user` as the user who will own the registry, or drop --user to install system-wide"
	case !req.Rootless && os.Geteuid() != 0:
		f.Found, f.Fix = fmt.Sprintf("running as uid %d", os.Geteuid()), "run `wharf install` as root (sudo), or add --user for a rootless install"
	case req.Rootless:
		f.OK, f.Found = true, fmt.Sprintf("rootless, as uid %d", os.Geteuid())
	default:
		f.OK, f.Found = true, "root"
	}
	return f
}

// checkPodman runs `podman version` and compares the client version with MinPodman.
func checkPodman(ctx context.Context, req Requirements) Finding {
	f := Finding{Check: "podman"}
	if _, err := exec.LookPath("podman"); err != nil {
		f.Found, f.Fix = "podman is not installed", "install Podman "+req.MinPodman+" or newer (Debian/Ubuntu: apt-get install podman; RHEL: dnf install podman)"
		return f
	}
	v, err := PodmanVersion(ctx)
	if err != nil {
		f.Found, f.Fix = err.Error(), "check that `podman info` works on this host"
		return f
	}
	f.Found = "podman " + v
	if !VersionAtLeast(v, req.MinPodman) {
		f.Fix = "upgrade Podman to " + req.MinPodman + " or newer"
		return f
	}
	f.OK = true
	return f
}

// PodmanVersion returns the version of the podman command on PATH.
func PodmanVersion(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return "", errors.New("podman is not installed: install Podman 4.3 or newer")
	}
	out, err := exec.CommandContext(ctx, bin, "version", "--format", "{{.Client.Version}}").Output()
	if err != nil {
		return "", fmt.Errorf("`podman version` failed: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// VersionAtLeast compares dotted versions numerically (4.10 > 4.9); a suffix such as -dev
// after the numbers is ignored.
func VersionAtLeast(have, want string) bool {
	h, w := versionParts(have), versionParts(want)
	for i := 0; i < max(len(h), len(w)); i++ {
		var a, b int
		if i < len(h) {
			a = h[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return a > b
		}
	}
	return true
}

func versionParts(v string) []int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	var out []int
	for _, p := range strings.Split(v, ".") {
		end := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' })
		if end == 0 {
			break
		}
		if end > 0 {
			p = p[:end]
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			break
		}
		out = append(out, n)
		if end > 0 {
			break
		}
	}
	return out
}

// checkCgroups wants the unified cgroup v2 hierarchy (needed for rootless resource limits
// and what current Podman expects); v1 works rootful with a warning.
func checkCgroups(req Requirements) Finding {
	f := Finding{Check: "cgroups"}
	if _, err := os.Stat(req.path("/sys/fs/cgroup/cgroup.controllers")); err == nil {
		f.OK, f.Found = true, "cgroup v2 (unified)"
		return f
	}
	f.Found = "cgroup v1"
	if req.Rootless {
		f.Fix = "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2): rootless Podman needs it to limit and stop containers"
		return f
	}
	f.OK, f.Warning = true, true
	f.Fix = "cgroup v2 is recommended (boot with systemd.unified_cgroup_hierarchy=1)"
	return f
}

// checkPort tries to listen on the port on all addresses.
func checkPort(port int) Finding {
	f := Finding{Check: fmt.Sprintf("port %d", port)}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		f.Found = fmt.Sprintf("port %d is in use or not allowed: %v", port, err)
		f.Fix = fmt.Sprintf("stop what listens on %d (`ss -ltnp 'sport = :%d'` shows it) or choose another port with --port", port, port)
		if errors.Is(err, syscall.EACCES) {
			f.Fix = "ports below 1024 need root (or net.ipv4.ip_unprivileged_port_start); choose another port with --port"
		}
		return f
	}
	ln.Close()
	f.OK, f.Found = true, fmt.Sprintf("port %d is free", port)
	return f
}

// checkDisk measures free space on the filesystem that will hold DataDir (its nearest
// existing parent).
func checkDisk(req Requirements) Finding {
	f := Finding{Check: "disk"}
	dir := req.path(req.DataDir)
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		f.Found, f.Fix = fmt.Sprintf("cannot measure free space under %s: %v", dir, err), "check that "+req.DataDir+" can be created"
		return f
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	f.Found = fmt.Sprintf("%s free under %s", humanize.IBytes(uint64(free)), dir)
	if free < req.MinFreeBytes {
		f.Fix = fmt.Sprintf("free at least %s there, or choose another data directory with --data-dir", humanize.IBytes(uint64(req.MinFreeBytes)))
		return f
	}
	if free < req.WarnFreeBytes {
		f.OK, f.Warning = true, true
		f.Fix = fmt.Sprintf("pushed images will fill it soon: %s or more is better (or another data directory with --data-dir)", humanize.IBytes(uint64(req.WarnFreeBytes)))
		return f
	}
	f.OK = true
	return f
}

// checkSELinux reports SELinux's mode: enforcing works (volumes are labelled with :Z), and is
// worth knowing.
func checkSELinux(req Requirements) Finding {
	f := Finding{Check: "selinux", OK: true, Warning: true}
	b, err := os.ReadFile(req.path("/sys/fs/selinux/enforce"))
	switch {
	case err != nil:
		f.Found, f.Warning = "SELinux is not enabled", false
	case strings.TrimSpace(string(b)) == "1":
		f.Found, f.Fix = "SELinux is enforcing", "nothing to do: Wharf labels its volumes (:Z)"
		f.Warning = false
	default:
		f.Found = "SELinux is permissive"
		f.Fix = "nothing to do; Wharf also works when enforcing"
	}
	return f
}

// checkFirewalld reports whether firewalld runs, so that the person opens the port.
func checkFirewalld(ctx context.Context) Finding {
	f := Finding{Check: "firewalld", OK: true}
	bin, err := exec.LookPath("firewall-cmd")
	if err != nil {
		f.Found = "firewalld is not installed"
		return f
	}
	out, _ := exec.CommandContext(ctx, bin, "--state").CombinedOutput()
	if strings.TrimSpace(string(out)) != "running" {
		f.Found = "firewalld is not running"
		return f
	}
	f.Found, f.Warning = "firewalld is running", true
	f.Fix = "open the registry's port for clients: firewall-cmd --permanent --add-port=PORT/tcp && firewall-cmd --reload"
	return f
}
