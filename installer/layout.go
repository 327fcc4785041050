package installer

import (
	"fmt"
	"os"
	"path/filepath"
)

// Layout is where an installation keeps its files on the host.
//
//	CONFIG/install.json        what was installed: version, images, port, hostname (State)
//	CONFIG/registry/           mounted read-only at /etc/wharf in the registry container:
//	                           config.yaml, ssl.cert, ssl.key (owned by the registry's user)
//	CONFIG/tls-ca/             the CA a generated certificate is signed by (rootCA.pem)
//	CONFIG/postgres.env        PostgreSQL's account and password (0600)
//	CONFIG/redis/redis.conf    Redis's password (0600, owned by Redis's user)
//	DATA/registry/             the registry's blobs
//	DATA/postgres/             the PostgreSQL cluster
//	DATA/redis/                Redis's snapshots
//	DATA/backup/               the database as it was before an upgrade, until it succeeds
//
// Root installs use /etc/wharf and /var/lib/wharf; rootless installs (--user) use
// $XDG_CONFIG_HOME/wharf and $XDG_DATA_HOME/wharf (~/.config/wharf, ~/.local/share/wharf).
type Layout struct {
	// Rootless is an installation for the calling user, run by `systemd --user`.
	Rootless bool
	// ConfigDir and DataDir are the two roots above.
	ConfigDir, DataDir string
}

// DefaultLayout returns the layout of a root or a rootless installation.
func DefaultLayout(rootless bool) (Layout, error) {
	if !rootless {
		return Layout{ConfigDir: "/etc/wharf", DataDir: "/var/lib/wharf"}, nil
	}
	config, err := os.UserConfigDir()
	if err != nil {
		return Layout{}, fmt.Errorf("finding the user's config directory: %w (set HOME or XDG_CONFIG_HOME)", err)
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Layout{}, fmt.Errorf("finding the user's data directory: %w (set HOME or XDG_DATA_HOME)", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	return Layout{Rootless: true, ConfigDir: filepath.Join(config, "wharf"), DataDir: filepath.Join(data, "wharf")}, nil
}

// StateFile is install.json.
func (l Layout) StateFile() string { return filepath.Join(l.ConfigDir, "install.json") }

// RegistryConfigDir is the registry's config directory on the host.
func (l Layout) RegistryConfigDir() string { return filepath.Join(l.ConfigDir, "registry") }

// CADir keeps the CA of a generated certificate.
func (l Layout) CADir() string { return filepath.Join(l.ConfigDir, "tls-ca") }

// PostgresEnv is the env file with PostgreSQL's credentials.
func (l Layout) PostgresEnv() string { return filepath.Join(l.ConfigDir, "postgres.env") }

// RedisConfigDir holds redis.conf; it is mounted at RedisConfigMount.
func (l Layout) RedisConfigDir() string { return filepath.Join(l.ConfigDir, "redis") }

// RedisConfigMount is where the Redis container sees RedisConfigDir.
const RedisConfigMount = "/etc/wharf-redis"

// DataPath is the data directory of one component.
func (l Layout) DataPath(component string) string { return filepath.Join(l.DataDir, component) }

// BackupDir keeps the database copy an upgrade makes.
func (l Layout) BackupDir() string { return filepath.Join(l.DataDir, "backup") }
