package installer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/images"
	"github.com/wharf-registry/wharf/systemd"
)

// Defaults of an installation.
const (
	DefaultPort          = 8443
	DefaultInitUser      = "init"
	DefaultHealthTimeout = 10 * time.Minute
)

// ErrPrerequisites means the host lacks what the install needs; the findings say what.
var ErrPrerequisites = errors.New("the host does not meet the prerequisites")

// InstallOptions say what `wharf install` installs and how.
type InstallOptions struct {
	Layout Layout
	// Bundle is an offline bundle to install from; empty means online: the wharf image is
	// built from Binary, PostgreSQL and Redis are pulled.
	Bundle string
	// Binary and Version make the wharf image of an online install (default: the running
	// wharf and its version).
	Binary, Version string
	// PostgresImage and RedisImage are the references an online install pulls.
	PostgresImage, RedisImage string
	// Hostname and Port are the registry's address for clients (default: the host's name,
	// DefaultPort).
	Hostname string
	Port     int
	// SSLCert and SSLKey are the user's certificate and key; without them the installer
	// makes a CA and a certificate.
	SSLCert, SSLKey string
	// InitUser is the first user (a superuser), with InitPassword (generated when empty).
	InitUser, InitPassword string
	// HealthTimeout bounds the wait for the registry to answer (default 10 minutes).
	HealthTimeout time.Duration
	// Out receives what the installer does, a line per step.
	Out io.Writer
	// Progress shows long reads (verifying and loading the bundle).
	Progress airgap.Progress
}

// imageSource is where the images of an install or upgrade come from.
type imageSource struct {
	version string
	// refs are the images by component.
	refs map[string]string
	// load puts the component's image in Podman; nil for images already present.
	load func(ctx context.Context, p *Podman, component string) error
	// ids are the image IDs the bundle promises (empty for online).
	ids    map[string]string
	bundle *airgap.Bundle
}

func (s *imageSource) Close() {
	if s.bundle != nil {
		s.bundle.Close()
	}
}

// openBundle verifies the bundle completely and returns the images it holds. Nothing on
// the host changes before this succeeds.
func openBundle(ctx context.Context, path string, prog airgap.Progress, out io.Writer) (*imageSource, error) {
	fmt.Fprintf(out, "verifying the bundle %s\n", path)
	b, err := airgap.OpenContext(ctx, path, prog)
	if err != nil {
		return nil, fmt.Errorf("the bundle %s cannot be used, nothing was changed: %w", path, err)
	}
	man := b.Manifest()
	if missing := man.Missing(componentNames); len(missing) > 0 {
		b.Close()
		return nil, fmt.Errorf("the bundle %s has no image for %s, nothing was changed: make one with `wharf bundle create` that has them", path, strings.Join(missing, ", "))
	}
	if want := "linux/" + runtime.GOARCH; man.Platform != "" && !strings.HasPrefix(man.Platform, want) {
		b.Close()
		return nil, fmt.Errorf("the bundle %s is for %s, this host is %s, nothing was changed: make a bundle for %s", path, man.Platform, want, want)
	}
	src := &imageSource{version: man.WharfVersion, refs: map[string]string{}, ids: map[string]string{}, bundle: b}
	if m, ok := man.Image("registry"); ok && m.Version != "" {
		src.version = m.Version
	}
	for _, c := range componentNames {
		m, _ := man.Image(c)
		src.refs[c], src.ids[c] = m.Ref, m.ImageID
	}
	src.load = func(ctx context.Context, p *Podman, component string) error {
		rc, m, err := b.OpenImage(component)
		if err != nil {
			return err
		}
		defer rc.Close()
		task := prog.Start("loading "+component+" image", m.Size)
		defer task.Done()
		names, err := p.Load(&countingReader{r: rc, task: task})
		if err != nil {
			return fmt.Errorf("loading the %s image from the bundle: %w", component, err)
		}
		if !slices.Contains(names, m.Ref) && !slices.Contains(names, "localhost/"+m.Ref) {
			return fmt.Errorf("the bundle's %s image loaded as %v, not %s", component, names, m.Ref)
		}
		return nil
	}
	return src, nil
}

// onlineSource builds the wharf image from the binary and pulls the others.
func onlineSource(opts InstallOptions) (*imageSource, error) {
	bin, version := opts.Binary, opts.Version
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the wharf binary: %w (give --bundle)", err)
		}
		bin = exe
	}
	def := images.Defaults(version)
	refs := map[string]string{"registry": def.Registry.Ref, "postgres": def.Postgres.Ref, "redis": def.Redis.Ref}
	if opts.PostgresImage != "" {
		refs["postgres"] = opts.PostgresImage
	}
	if opts.RedisImage != "" {
		refs["redis"] = opts.RedisImage
	}
	src := &imageSource{version: version, refs: refs}
	src.load = func(ctx context.Context, p *Podman, component string) error {
		if component != "registry" {
			return p.Pull(refs[component], nil)
		}
		img, err := images.Wharf(bin, version)
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(images.WriteArchive(pw, map[string]v1.Image{refs["registry"]: img})) }()
		_, err = p.Load(pr)
		pr.Close()
		return err
	}
	return src, nil
}

type countingReader struct {
	r    io.Reader
	task airgap.Task
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.task.Add(int64(n))
	return n, err
}

// loadImages puts every component's image in Podman, skipping those already there with the
// ID the source promises. It returns the references it loaded.
func loadImages(ctx context.Context, p *Podman, src *imageSource, out io.Writer) ([]string, error) {
	var loaded []string
	for _, c := range componentNames {
		ref := src.refs[c]
		id, err := p.ImageID(ref)
		if err != nil {
			return loaded, err
		}
		if id != "" && (src.ids[c] == "" || strings.TrimPrefix(src.ids[c], "sha256:") == id) {
			fmt.Fprintf(out, "image %s: already present\n", ref)
			continue
		}
		fmt.Fprintf(out, "image %s: loading\n", ref)
		if err := src.load(ctx, p, c); err != nil {
			return loaded, err
		}
		loaded = append(loaded, ref)
	}
	return loaded, nil
}

// Install installs Wharf, or, when the same version is installed already, checks that it
// runs and changes nothing.
func Install(ctx context.Context, opts InstallOptions) (*State, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = airgap.NewProgress(io.Discard)
	}
	l := opts.Layout
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	if opts.Port < 1 || opts.Port > 65535 {
		return nil, fmt.Errorf("--port %d: give a TCP port, 1-65535", opts.Port)
	}
	if opts.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("finding the host's name: %w (give --hostname)", err)
		}
		opts.Hostname = h
	}
	if (opts.SSLCert == "") != (opts.SSLKey == "") {
		return nil, errors.New("give both --ssl-cert and --ssl-key, or neither for a generated certificate")
	}
	if opts.HealthTimeout == 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}

	prev, err := ReadState(l)
	if err != nil && !errors.Is(err, ErrNotInstalled) {
		return nil, err
	}

	// Everything that can refuse the install does so before the host changes.
	req := DefaultRequirements()
	req.Rootless, req.DataDir = l.Rootless, l.DataDir
	req.Ports = []int{opts.Port}
	if prev != nil && prev.Port == opts.Port {
		req.Ports = nil // the installed registry holds it
	}
	findings := CheckHost(ctx, req)
	for _, f := range findings {
		switch {
		case !f.OK && !f.Warning:
			fmt.Fprintf(out, "missing: %s: %s; %s\n", f.Check, f.Found, f.Fix)
		case f.Warning && f.Fix != "":
			fmt.Fprintf(out, "warning: %s: %s; %s\n", f.Check, f.Found, f.Fix)
		}
	}
	if Failed(findings) {
		return nil, fmt.Errorf("%w: fix what is listed above and run the install again; nothing was changed", ErrPrerequisites)
	}
	var src *imageSource
	if opts.Bundle != "" {
		src, err = openBundle(ctx, opts.Bundle, opts.Progress, out)
	} else {
		if opts.Version == "" {
			return nil, errors.New("an online install needs the version of the wharf image to build (this wharf reports none): give --bundle")
		}
		src, err = onlineSource(opts)
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if prev != nil && prev.Version != src.version {
		return nil, fmt.Errorf("wharf %s is installed here; to move to %s run `wharf upgrade --bundle FILE`, nothing was changed", prev.Version, src.version)
	}
	podmanVersion, err := PodmanVersion(ctx)
	if err != nil {
		return nil, err
	}
	flavour, err := systemd.ChooseFlavour(podmanVersion)
	if err != nil {
		return nil, err
	}

	mgr, err := systemd.New(ctx, l.Rootless)
	if err != nil {
		return nil, err
	}
	defer mgr.Close()
	podman, err := ConnectPodman(ctx, l.Rootless, mgr)
	if err != nil {
		return nil, err
	}
	if _, err := loadImages(ctx, podman, src, out); err != nil {
		return nil, err
	}

	st := &State{
		Version: src.version, Images: src.refs, Hostname: opts.Hostname, Port: opts.Port,
		Rootless: l.Rootless, Flavour: string(flavour), ConfigDir: l.ConfigDir, DataDir: l.DataDir,
		Installed: time.Now().UTC(),
	}
	if prev != nil {
		st.Installed, st.Updated, st.InitUser = prev.Installed, prev.Updated, prev.InitUser
		st.PreviousVersion, st.PreviousImages = prev.PreviousVersion, prev.PreviousImages
	}
	if st.UnitDir, err = systemd.DefaultUnitDir(flavour, l.Rootless); err != nil {
		return nil, err
	}
	initUser := opts.InitUser
	if initUser == "" {
		initUser = DefaultInitUser
	}
	if st.InitUser != "" {
		initUser = st.InitUser
	}
	changed, caCert, err := writeConfig(ctx, l, opts, initUser)
	if err != nil {
		return nil, err
	}
	st.CACert = caCert
	for _, c := range changed {
		fmt.Fprintf(out, "wrote %s\n", c)
	}

	plan, err := unitPlan(st)
	if err != nil {
		return nil, err
	}
	st.Units = plan.Units
	written, err := plan.Write()
	if err != nil {
		return nil, err
	}
	for _, w := range written {
		fmt.Fprintf(out, "wrote %s\n", filepath.Join(plan.Dir, w))
	}
	if err := startUnits(ctx, mgr, plan, len(written) > 0 || len(changed) > 0, out); err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, st, opts.HealthTimeout, out, registryFailing(mgr)); err != nil {
		return nil, fmt.Errorf("%w; see `journalctl%s -u wharf-registry` and `wharf status`", err, userFlag(l.Rootless))
	}
	shown := "" // a generated password, printed once in the summary
	if st.InitUser == "" {
		password := opts.InitPassword
		generated := password == ""
		if generated {
			password = newPassword()
		}
		created, err := initializeUser(ctx, st, initUser, password)
		if err != nil {
			return nil, err
		}
		st.InitUser = initUser
		if created {
			fmt.Fprintf(out, "created the superuser %s\n", initUser)
			if generated {
				shown = password
			}
		} else {
			fmt.Fprintf(out, "the database already has users (kept from an earlier installation): no user created\n")
		}
	}
	if prev == nil || len(written) > 0 || len(changed) > 0 {
		if err := st.Write(); err != nil {
			return nil, err
		}
	}
	if prev != nil && len(written) == 0 && len(changed) == 0 {
		fmt.Fprintf(out, "wharf %s is installed and healthy: nothing changed\n", st.Version)
	} else {
		fmt.Fprintf(out, "wharf %s is installed\n", st.Version)
	}
	summary(out, st, shown)
	return st, nil
}

// writeConfig writes the config directory: secrets (kept from an earlier install), TLS,
// redis.conf, the registry's config.yaml, and the data directories, each owned by the
// container user that reads it. It returns the files it wrote and the CA certificate.
func writeConfig(ctx context.Context, l Layout, opts InstallOptions, initUser string) (changed []string, caCert string, err error) {
	h := files{rootless: l.Rootless}
	for _, d := range []string{l.ConfigDir, l.RegistryConfigDir(), l.RedisConfigDir(), l.DataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := os.Chmod(l.ConfigDir, 0o700); err != nil {
		return nil, "", err
	}
	sec, ok, err := loadSecrets(l)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		sec = secrets{Postgres: newSecret(), Redis: newSecret()}
	}
	env := fmt.Sprintf("# PostgreSQL's password, read by the wharf-postgres unit.\nPOSTGRES_PASSWORD=%s\n", sec.Postgres)
	if c, err := writeIfChanged(l.PostgresEnv(), []byte(env), 0o600); err != nil {
		return nil, "", err
	} else if c {
		changed = append(changed, l.PostgresEnv())
	}
	redisConf := filepath.Join(l.RedisConfigDir(), "redis.conf")
	conf := fmt.Sprintf("# Written by `wharf install`.\nrequirepass %s\nappendonly yes\ndir /data\n", sec.Redis)
	if c, err := writeIfChanged(redisConf, []byte(conf), 0o600); err != nil {
		return nil, "", err
	} else if c {
		changed = append(changed, redisConf)
	}
	caCert, tlsChanged, err := tlsFiles(l, opts.Hostname, opts.SSLCert, opts.SSLKey)
	if err != nil {
		return nil, "", err
	}
	if tlsChanged {
		changed = append(changed, filepath.Join(l.RegistryConfigDir(), "ssl.cert"), filepath.Join(l.RegistryConfigDir(), "ssl.key"))
	}
	cfg, err := registryConfig(configSpec{Hostname: opts.Hostname, Port: opts.Port, InitUser: initUser, Secrets: sec})
	if err != nil {
		return nil, "", err
	}
	cfgPath := filepath.Join(l.RegistryConfigDir(), "config.yaml")
	if c, err := writeIfChanged(cfgPath, cfg, 0o600); err != nil {
		return nil, "", err
	} else if c {
		changed = append(changed, cfgPath)
	}
	for _, c := range componentNames {
		if err := os.MkdirAll(l.DataPath(c), 0o755); err != nil {
			return nil, "", fmt.Errorf("creating %s: %w", l.DataPath(c), err)
		}
	}
	if err := validateConfig(ctx, l); err != nil {
		return nil, "", err
	}
	// Owners last: the registry runs as 1001, Redis reads its config as 999.
	reg := images.WharfUID
	if err := h.chown(ctx, l.RegistryConfigDir(), reg, images.WharfGID, true); err != nil {
		return nil, "", err
	}
	if err := h.chown(ctx, l.DataPath("registry"), reg, images.WharfGID, false); err != nil {
		return nil, "", err
	}
	if err := h.chown(ctx, l.RedisConfigDir(), 999, 999, true); err != nil {
		return nil, "", err
	}
	return changed, caCert, nil
}

// startUnits reloads systemd when files changed, enables the units and starts them in
// order, restarting running ones whose files changed.
func startUnits(ctx context.Context, mgr systemd.Manager, plan *systemd.Plan, changed bool, out io.Writer) error {
	if changed {
		if err := mgr.DaemonReload(ctx); err != nil {
			return err
		}
	}
	if err := mgr.Enable(ctx, plan.Units...); err != nil {
		return err
	}
	for _, u := range plan.Units {
		st, err := mgr.Status(ctx, u)
		if err != nil {
			return err
		}
		switch {
		case st.Running() && !changed:
			continue
		case st.Running():
			fmt.Fprintf(out, "restarting %s\n", u)
			err = mgr.Restart(ctx, u)
		default:
			fmt.Fprintf(out, "starting %s\n", u)
			err = mgr.Start(ctx, u)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// initializeUser creates the first user through the registry's API; created is false when
// the database already has users.
func initializeUser(ctx context.Context, st *State, user, password string) (created bool, err error) {
	client, err := healthClient(st)
	if err != nil {
		return false, err
	}
	body, _ := json.Marshal(map[string]any{"username": user, "password": password, "email": user + "@" + st.Hostname})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d/api/v1/user/initialize", st.Port), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Errorf("creating the first user: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusBadRequest && strings.Contains(string(msg), "non-empty database"):
		return false, nil
	}
	return false, fmt.Errorf("creating the first user %s: %s: %s", user, resp.Status, bytes.TrimSpace(msg))
}

// newPassword returns a password of 20 letters and digits.
func newPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// summary prints where the registry is and how to use it, with the first user's password
// when it was generated here.
func summary(out io.Writer, st *State, password string) {
	host := fmt.Sprintf("%s:%d", st.Hostname, st.Port)
	fmt.Fprintf(out, "\nregistry:  %s\n", st.URL())
	if st.InitUser != "" {
		fmt.Fprintf(out, "superuser: %s", st.InitUser)
		if password != "" {
			fmt.Fprintf(out, ", password %s (shown once: keep it)", password)
		}
		fmt.Fprintln(out)
		fmt.Fprintf(out, "log in:    podman login -u %s %s\n", st.InitUser, host)
	}
	if st.CACert != "" {
		fmt.Fprintf(out, "CA:        %s\n", st.CACert)
		fmt.Fprintf(out, "trust it:  mkdir -p /etc/containers/certs.d/%s && cp %s /etc/containers/certs.d/%s/ca.crt\n", host, st.CACert, host)
	}
	fmt.Fprintf(out, "manage:    wharf status%s; systemctl%s status wharf-registry; journalctl%s -u wharf-registry\n",
		userArg(st.Rootless), userFlag(st.Rootless), userFlag(st.Rootless))
}

func userArg(rootless bool) string {
	if rootless {
		return " --user"
	}
	return ""
}
