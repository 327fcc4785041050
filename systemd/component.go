package systemd

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Component is one long-running container of a Wharf installation ("registry",
// "postgres", "redis"; later "scanner" and "builder"). The installer fills it; Generate
// turns it into a unit file. Its unit is wharf-NAME.service and its container
// wharf-NAME.
//
// Secrets never go in Env: unit files are world-readable and `systemctl show`
// prints them to any user. Put secret values in an EnvFiles file (mode 0600, owned by
// the installing user) or in a Podman secret (Secrets); Generate refuses Env keys
// that look like secrets.
type Component struct {
	// Name is the short name: lower-case letters, digits and '-', starting with a letter.
	Name string
	// Description is the unit's description; default "Wharf NAME".
	Description string
	// Image is the image reference the container runs, e.g. "localhost/wharf/wharf:1.2.0".
	Image string
	// Command replaces the image's command (the words after the image in `podman run`).
	Command []string
	// Env holds non-secret environment variables for the container.
	Env map[string]string
	// EnvFiles are absolute host paths of env files (KEY=VALUE lines) read by Podman
	// when the container starts: the place for secrets such as database passwords.
	EnvFiles []string
	// Secrets are Podman secrets (`podman secret create`) exposed to the container as
	// environment variables.
	Secrets []Secret
	// Ports are published host ports.
	Ports []Port
	// Volumes are host directories (or named Podman volumes) mounted into the container.
	Volumes []Volume
	// Network is the Podman network the container joins, by its short name ("wharf");
	// Generate writes one network unit per name. Empty means Podman's default network.
	Network string
	// Requires names components that must be running first: the unit gets Requires=
	// and After= on them, so starting this one starts them and stopping them stops it.
	Requires []string
	// After names components that, when also started, start first (ordering only).
	After []string
	// Health is the container's health check; nil for none.
	Health *Health
	// User runs the container's process as a numeric "UID" or "UID:GID"; empty keeps
	// the image's user. (Quadlet in Podman 4.4 takes only numbers.)
	User string
	// Restart is the unit's Restart= policy; default "always".
	Restart string
	// StartTimeout bounds how long starting may take (TimeoutStartSec=), including an
	// image pull; default 5 minutes.
	StartTimeout time.Duration
	// StopTimeout is how long the container gets to stop on SIGTERM before SIGKILL;
	// default 10 seconds.
	StopTimeout time.Duration
}

// Port publishes a container port on the host.
type Port struct {
	// HostIP is the host address to listen on; empty means all addresses.
	HostIP string
	// Host is the host port.
	Host uint16
	// Container is the port inside the container.
	Container uint16
	// Protocol is "tcp" (the default when empty) or "udp".
	Protocol string
}

// Volume mounts a host path (or a named Podman volume) into the container.
type Volume struct {
	// HostPath is an absolute host path or the name of a Podman volume.
	HostPath string
	// ContainerPath is the absolute path inside the container.
	ContainerPath string
	// Options are mount options such as "Z" (SELinux private label), "z" (shared
	// label), "U" (chown to the container's user, for rootless installs) or "ro".
	Options []string
}

// Health is a container health check run by Podman. Set exactly one of Cmd and
// Shell.
type Health struct {
	// Cmd is the check run directly, without a shell (for images that have none, such
	// as the wharf image): at least two words, e.g. {"wharf", "health"}. Podman would
	// run a one-word check through /bin/sh.
	Cmd []string
	// Shell is the check run by /bin/sh -c in the container, e.g. "pg_isready -U wharf".
	Shell string
	// Interval between checks; default Podman's (30s).
	Interval time.Duration
	// Timeout of one check; default Podman's (30s).
	Timeout time.Duration
	// StartPeriod during which failures do not count; default 0.
	StartPeriod time.Duration
	// Retries is how many consecutive failures make the container unhealthy; 0 keeps
	// Podman's default (3).
	Retries int
	// OnFailure is what Podman does when the container turns unhealthy: "none"
	// (default), "kill" (the unit then fails and systemd restarts it), "restart" or "stop".
	OnFailure string
}

// Secret exposes a Podman secret to the container as an environment variable.
type Secret struct {
	// Name is the Podman secret's name.
	Name string
	// Env is the variable the container sees it as.
	Env string
}

var (
	nameRE       = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	envKeyRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	volumeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	volumeOptRE  = regexp.MustCompile(`^[A-Za-z0-9=_-]+$`)
	userRE       = regexp.MustCompile(`^[0-9]{1,10}(:[0-9]{1,10})?$`)
	// Words in an environment key that mark a secret.
	secretWords = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "PRIVATE_KEY", "ACCESS_KEY"}
	// Characters that unit files or Quadlet would read specially in a path.
	pathSpecials = `%$"'\;`
	restarts     = []string{"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"}
	onFailures   = []string{"", "none", "kill", "restart", "stop"}
)

// Default timeouts for components that leave them zero.
const (
	DefaultStartTimeout = 5 * time.Minute
	DefaultStopTimeout  = 10 * time.Second
)

// validate checks one component on its own; references between components are
// checked by Generate.
func (c *Component) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if !nameRE.MatchString(c.Name) {
		bad("name %q: use 1-32 lower-case letters, digits and '-', starting with a letter", c.Name)
	}
	if err := checkText("description", c.Description); err != nil {
		errs = append(errs, err)
	}
	if c.Image == "" {
		bad("no image: set the image reference the container runs")
	} else if strings.IndexFunc(c.Image, unicode.IsSpace) >= 0 || strings.ContainsAny(c.Image, `"'\%$`) {
		bad("image %q: an image reference has no spaces, quotes, '%%' or '$'", c.Image)
	}
	for i, arg := range c.Command {
		if flag, _, withValue := strings.Cut(arg, "="); withValue && secretFlag(flag) ||
			i > 0 && !strings.Contains(c.Command[i-1], "=") && secretFlag(c.Command[i-1]) {
			bad("command word %d is the value of a secret flag, which would sit in a world-readable unit file: pass it in an env file (EnvFiles) or a mounted 0600 config file instead", i+1)
		}
		if arg == "" {
			bad("command word %d is empty: Quadlet drops empty words, leave it out", i+1)
		} else if err := checkText(fmt.Sprintf("command word %d", i+1), arg); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range sortedKeys(c.Env) {
		if !envKeyRE.MatchString(k) {
			bad("environment variable %q: use letters, digits and '_', not starting with a digit", k)
			continue
		}
		if looksSecret(k) {
			bad("environment variable %s looks like a secret: unit files are world-readable, so put it in an env file (EnvFiles, mode 0600) or a Podman secret", k)
		}
		if err := checkText("environment variable "+k, c.Env[k]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range c.EnvFiles {
		if !filepath.IsAbs(f) || filepath.Clean(f) != f || strings.IndexFunc(f, unicode.IsSpace) >= 0 || strings.ContainsAny(f, pathSpecials) {
			bad("env file %q: give a clean absolute path without blanks or any of %s", f, pathSpecials)
		} else if err := checkText("env file", f); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range c.Secrets {
		if !volumeNameRE.MatchString(s.Name) {
			bad("secret %q: a Podman secret name uses letters, digits, '_', '.' and '-'", s.Name)
		}
		if !envKeyRE.MatchString(s.Env) {
			bad("secret %q: environment variable %q: use letters, digits and '_', not starting with a digit", s.Name, s.Env)
		}
	}
	for _, p := range c.Ports {
		if err := p.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, v := range c.Volumes {
		if err := v.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Network != "" && !nameRE.MatchString(c.Network) {
		bad("network %q: use 1-32 lower-case letters, digits and '-', starting with a letter", c.Network)
	}
	for _, dep := range slices.Concat(c.Requires, c.After) {
		if dep == c.Name {
			bad("depends on itself")
		}
	}
	if c.Health != nil {
		if err := c.Health.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.User != "" && !userRE.MatchString(c.User) {
		bad("user %q: give a numeric UID or UID:GID (Quadlet in Podman 4.4 takes only numbers)", c.User)
	}
	if c.Restart != "" && !slices.Contains(restarts, c.Restart) {
		bad("restart policy %q: want one of %s", c.Restart, strings.Join(restarts, ", "))
	}
	if c.StartTimeout < 0 || (c.StartTimeout > 0 && c.StartTimeout < time.Second) {
		bad("start timeout %s: give at least 1s, or 0 for the default %s", c.StartTimeout, DefaultStartTimeout)
	}
	if c.StopTimeout < 0 || (c.StopTimeout > 0 && c.StopTimeout < time.Second) {
		bad("stop timeout %s: give at least 1s, or 0 for the default %s", c.StopTimeout, DefaultStopTimeout)
	}
	if len(errs) > 0 {
		return fmt.Errorf("component %q: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

func (p Port) validate() error {
	if p.Host == 0 || p.Container == 0 {
		return fmt.Errorf("port %d:%d: host and container ports must be 1-65535", p.Host, p.Container)
	}
	if p.HostIP != "" {
		if _, err := netip.ParseAddr(p.HostIP); err != nil {
			return fmt.Errorf("port %d: host address %q is not an IP address", p.Host, p.HostIP)
		}
	}
	if p.Protocol != "" && p.Protocol != "tcp" && p.Protocol != "udp" {
		return fmt.Errorf("port %d: protocol %q: want tcp or udp", p.Host, p.Protocol)
	}
	return nil
}

// spec returns the port as Podman's --publish takes it: [IP:]HOST:CONTAINER[/udp].
func (p Port) spec() string {
	s := fmt.Sprintf("%d:%d", p.Host, p.Container)
	if p.HostIP != "" {
		ip := netip.MustParseAddr(p.HostIP)
		if ip.Is6() && !ip.Is4In6() {
			s = "[" + ip.String() + "]:" + s
		} else {
			s = ip.String() + ":" + s
		}
	}
	if p.Protocol == "udp" {
		s += "/udp"
	}
	return s
}

func (v Volume) validate() error {
	if filepath.IsAbs(v.HostPath) {
		if filepath.Clean(v.HostPath) != v.HostPath || strings.ContainsAny(v.HostPath, ":,") {
			return fmt.Errorf("volume %q: give a clean absolute host path without ':' or ','", v.HostPath)
		}
	} else if !volumeNameRE.MatchString(v.HostPath) || strings.HasSuffix(v.HostPath, ".volume") {
		return fmt.Errorf("volume %q: give an absolute host path or a Podman volume name", v.HostPath)
	}
	if !filepath.IsAbs(v.ContainerPath) || filepath.Clean(v.ContainerPath) != v.ContainerPath || strings.ContainsAny(v.ContainerPath, ":,") {
		return fmt.Errorf("volume %q: container path %q: give a clean absolute path without ':' or ','", v.HostPath, v.ContainerPath)
	}
	for _, p := range []string{v.HostPath, v.ContainerPath} {
		if err := checkText("volume path", p); err != nil {
			return err
		}
		if strings.IndexFunc(p, unicode.IsSpace) >= 0 || strings.ContainsAny(p, pathSpecials) {
			return fmt.Errorf("volume path %q: a path in a unit file cannot hold blanks or any of %s; choose another path", p, pathSpecials)
		}
	}
	for _, o := range v.Options {
		if !volumeOptRE.MatchString(o) {
			return fmt.Errorf("volume %q: mount option %q: use options such as Z, z, U, ro", v.HostPath, o)
		}
	}
	return nil
}

// spec returns the volume as Podman's --volume takes it: SRC:DST[:OPTS].
func (v Volume) spec() string {
	s := v.HostPath + ":" + v.ContainerPath
	if len(v.Options) > 0 {
		s += ":" + strings.Join(v.Options, ",")
	}
	return s
}

func (h *Health) validate() error {
	switch {
	case len(h.Cmd) > 0 && h.Shell != "":
		return errors.New("health check has both Cmd and Shell: set one")
	case len(h.Cmd) == 1:
		return fmt.Errorf("health check command %q has one word: Podman would run it through /bin/sh; add an argument or use Shell", h.Cmd[0])
	case len(h.Cmd) > 1:
		if w := strings.ToUpper(h.Cmd[0]); w == "CMD" || w == "CMD-SHELL" || w == "NONE" {
			return fmt.Errorf("health check command starts with %q, which Podman reads as a keyword: give the program and its arguments", h.Cmd[0])
		}
		for _, w := range h.Cmd {
			if err := checkText("health command", w); err != nil {
				return err
			}
		}
	case strings.TrimSpace(h.Shell) == "":
		return errors.New("health check has no command: set Health.Cmd or Health.Shell, or leave Health nil")
	default:
		if err := checkText("health command", h.Shell); err != nil {
			return err
		}
		if strings.HasPrefix(strings.TrimSpace(h.Shell), "[") {
			return fmt.Errorf("health shell command %q looks like a JSON array: use Cmd for a command without a shell", h.Shell)
		}
	}
	for _, d := range []time.Duration{h.Interval, h.Timeout, h.StartPeriod} {
		if d < 0 {
			return fmt.Errorf("health check duration %s is negative", d)
		}
	}
	if h.Retries < 0 {
		return fmt.Errorf("health check retries %d is negative", h.Retries)
	}
	if !slices.Contains(onFailures, h.OnFailure) {
		return fmt.Errorf("health check on-failure action %q: want none, kill, restart or stop", h.OnFailure)
	}
	return nil
}

// checkText refuses control characters (newlines would end a unit file line) and
// text that is not UTF-8.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%s contains a control character (%q): unit files cannot hold it", what, s[i:i+1])
	}
	return nil
}

// secretFlag reports whether a command-line word is a flag whose value would be a
// secret, such as --requirepass or --password.
func secretFlag(word string) bool {
	if !strings.HasPrefix(word, "-") {
		return false
	}
	w := strings.ToUpper(strings.TrimLeft(word, "-"))
	return strings.Contains(w, "PASS") || looksSecret(w)
}

func looksSecret(key string) bool {
	k := strings.ToUpper(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
