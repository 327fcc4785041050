package installer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/configtool"
	"github.com/wharf-registry/wharf/configtool/tlsgen"
	"github.com/wharf-registry/wharf/internal/atomicfile"
	"github.com/wharf-registry/wharf/systemd"
)

// Database account and names the installation uses.
const (
	dbUser = "wharf"
	dbName = "wharf"
)

// secrets are the passwords an installation makes once and keeps in its config directory;
// a later install or upgrade reads them back (the database was initialised with them).
type secrets struct {
	Postgres, Redis string
}

// newSecret returns 32 random characters from [a-z2-7]: safe in URIs, env files and
// redis.conf without quoting.
func newSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// loadSecrets reads the passwords a previous install wrote; ok is false when there are none.
func loadSecrets(l Layout) (s secrets, ok bool, err error) {
	env, err := os.ReadFile(l.PostgresEnv())
	if errors.Is(err, fs.ErrNotExist) {
		return secrets{}, false, nil
	}
	if err != nil {
		return secrets{}, false, fmt.Errorf("reading %s: %w", l.PostgresEnv(), err)
	}
	s.Postgres = lineValue(env, "POSTGRES_PASSWORD=")
	conf, err := os.ReadFile(filepath.Join(l.RedisConfigDir(), "redis.conf"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return secrets{}, false, fmt.Errorf("reading redis.conf: %w", err)
	}
	s.Redis = lineValue(conf, "requirepass ")
	if s.Postgres == "" || s.Redis == "" {
		return secrets{}, false, fmt.Errorf("%s or %s has no password: restore them from a backup, or run `wharf uninstall --purge` and install again", l.PostgresEnv(), filepath.Join(l.RedisConfigDir(), "redis.conf"))
	}
	return s, true, nil
}

func lineValue(data []byte, prefix string) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// configSpec is what the registry's config.yaml is made from.
type configSpec struct {
	Hostname string
	Port     int
	InitUser string
	Secrets  secrets
}

// registryConfig returns config.yaml for the installation: PostgreSQL and Redis on the
// Podman network (reached by container name), blobs under the data directory, HTTPS with
// ssl.cert and ssl.key, and the first user as superuser, created through
// /api/v1/user/initialize.
func registryConfig(c configSpec) ([]byte, error) {
	redis := map[string]any{"host": systemd.ContainerName("redis"), "port": 6379, "password": c.Secrets.Redis}
	cfg := map[string]any{
		"SERVER_HOSTNAME":      net.JoinHostPort(c.Hostname, fmt.Sprint(c.Port)),
		"PREFERRED_URL_SCHEME": "https",
		"DB_URI": fmt.Sprintf("postgresql://%s:%s@%s:5432/%s?sslmode=disable",
			dbUser, c.Secrets.Postgres, systemd.ContainerName("postgres"), dbName),
		"BUILDLOGS_REDIS":                redis,
		"USER_EVENTS_REDIS":              redis,
		"DISTRIBUTED_STORAGE_CONFIG":     map[string]any{"default": []any{"LocalStorage", map[string]any{"storage_path": "storage"}}},
		"DISTRIBUTED_STORAGE_PREFERENCE": []string{"default"},
		"FEATURE_USER_INITIALIZE":        c.InitUser != "",
	}
	if c.InitUser != "" {
		cfg["SUPER_USERS"] = []string{c.InitUser}
	}
	var b bytes.Buffer
	b.WriteString("# Written by `wharf install`. Check changes with `wharf config validate " + "DIR" + "`, then\n" +
		"# restart the registry: systemctl restart wharf-registry.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("writing config.yaml: %w", err)
	}
	return b.Bytes(), nil
}

// validateConfig checks the registry's config directory with the config tool, offline (the
// database and Redis run only once the units start).
func validateConfig(ctx context.Context, l Layout) error {
	src, err := configtool.ReadDir(l.RegistryConfigDir())
	if err != nil {
		return err
	}
	rep, err := configtool.Validate(ctx, src, configtool.Options{Offline: true, DataDir: l.DataPath("registry")})
	if err != nil {
		return fmt.Errorf("checking the config the installer wrote: %w", err)
	}
	var msgs []string
	for _, p := range rep.Problems {
		msgs = append(msgs, p.String())
	}
	for _, c := range rep.Checks {
		if c.Status == configtool.StatusFailed {
			msgs = append(msgs, c.Group+": "+c.Message)
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("the config in %s is not valid: %s", l.RegistryConfigDir(), strings.Join(msgs, "; "))
	}
	return nil
}

// tlsFiles puts ssl.cert and ssl.key in the registry's config directory: the user's, or a
// certificate for the hostname, localhost and the loopback address signed by a CA the
// installer makes (and keeps, so later installs reuse it). It returns the CA certificate's
// path when the installer made or holds one.
func tlsFiles(l Layout, hostname, certFile, keyFile string) (caCert string, changed bool, err error) {
	dir := l.RegistryConfigDir()
	if certFile != "" {
		cert, err := os.ReadFile(certFile)
		if err != nil {
			return "", false, fmt.Errorf("--ssl-cert: %w", err)
		}
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return "", false, fmt.Errorf("--ssl-key: %w", err)
		}
		certs, err := tlsgen.ParseCertificates(cert)
		if err != nil {
			return "", false, fmt.Errorf("--ssl-cert %s: %w", certFile, err)
		}
		if _, err := tlsgen.ParsePrivateKey(key); err != nil {
			return "", false, fmt.Errorf("--ssl-key %s: %w", keyFile, err)
		}
		if err := certs[0].VerifyHostname(hostname); err != nil {
			return "", false, fmt.Errorf("--ssl-cert %s does not name the hostname %s (%v): give a certificate for it, or --hostname the name it has", certFile, hostname, err)
		}
		for _, f := range []struct {
			name string
			data []byte
			mode os.FileMode
		}{{tlsgen.CertFile, cert, 0o644}, {tlsgen.KeyFile, key, 0o600}} {
			c, err := writeIfChanged(filepath.Join(dir, f.name), f.data, f.mode)
			if err != nil {
				return "", false, err
			}
			changed = changed || c
		}
		return "", changed, nil
	}
	ca := filepath.Join(l.CADir(), tlsgen.CACertFile)
	if _, err := os.Stat(filepath.Join(dir, tlsgen.CertFile)); err != nil {
		subjects := []string{hostname}
		if hostname != "localhost" {
			subjects = append(subjects, "localhost")
		}
		res, err := tlsgen.Provision(tlsgen.Request{
			ConfigDir: dir, Hostnames: subjects, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, CADir: l.CADir(),
		})
		if err != nil {
			return "", false, fmt.Errorf("making the TLS certificate: %w", err)
		}
		ca, changed = res.CACertFile, true
	}
	pem, err := os.ReadFile(ca)
	if errors.Is(err, fs.ErrNotExist) {
		return "", changed, nil // ssl.cert from elsewhere: the user's business
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the CA certificate: %w", err)
	}
	// The registry (and the config tool checking its chain) trusts the CA as well.
	if err := os.MkdirAll(filepath.Join(dir, configtool.ExtraCADir), 0o755); err != nil {
		return "", false, err
	}
	c, err := writeIfChanged(filepath.Join(dir, configtool.ExtraCADir, "wharf-install-ca.pem"), pem, 0o644)
	return ca, changed || c, err
}

// writeIfChanged writes a file atomically when its content or mode differs; it reports
// whether it wrote.
func writeIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm() == mode {
			return false, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	return true, atomicfile.WriteFile(path, data, mode)
}
