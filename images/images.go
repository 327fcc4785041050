// Package images says how each component image of a Wharf installation is assembled and what
// it promises at run time.
//
// The wharf image is built here from the static wharf binary, in Go, with no container engine
// (Wharf); PostgreSQL and Redis come from their upstream images (Defaults), whose runtime
// contract each Component records so that the installer and the systemd units know how to run
// them. Package images/debian builds equivalent PostgreSQL and Redis images from Debian's
// packages for machines with no access to the upstream registries. WriteArchive and
// ReadArchive move images in one archive that `podman load` reads.
package images

import (
	"strconv"
)

// Upstream references of the components Wharf does not build itself. Bundles made on a
// connected host take them from there; the installer can be told other references.
const (
	// PostgresRef is the official PostgreSQL 15 image.
	PostgresRef = "docker.io/library/postgres:15-bookworm"
	// RedisRef is the official Redis 7 image.
	RedisRef = "docker.io/library/redis:7-bookworm"
	// WharfRepository is the repository the wharf image is named in: WharfRepository:VERSION.
	WharfRepository = "localhost/wharf"
)

// Component is one container of a Wharf installation and the contract its image keeps at run
// time: what the installer must mount, pass and expose to run it.
//
// The PostgreSQL and Redis images (upstream, or built by images/debian) start as root, make
// DataDir theirs and drop to User, so an empty directory mounted there works. The wharf image
// runs as User from the start: the installer makes DataDir and ConfigDir on the host owned by
// User (rootless: inside the user namespace, `podman unshare chown`).
type Component struct {
	// Name names the component: "registry", "postgres", "redis" (and later "scanner",
	// "builder").
	Name string
	// Ref is the image's fully qualified reference.
	Ref string
	// Port is the TCP port the service listens on inside the container.
	Port int
	// DataDir is the directory inside the container that holds the service's state: mount
	// persistent storage here.
	DataDir string
	// ConfigDir, when set, is the directory inside the container the service reads its
	// configuration from (wharf: config.yaml, ssl.cert, ssl.key, extra_ca_certs/).
	ConfigDir string
	// User is "uid:gid", the account the service runs as and that owns DataDir.
	User string
	// Args is the container's command: the service with its flags (the image's default).
	Args []string
	// UserEnv, PasswordEnv and DatabaseEnv, when set, name the environment variables that
	// create the service's account, its password and its database on first start.
	UserEnv, PasswordEnv, DatabaseEnv string
	// PasswordFlag, when set, is the command-line flag that sets the service's password:
	// Command appends it and the password to Args.
	PasswordFlag string
}

// Credentials are what an installation chooses for a component's account on first start.
type Credentials struct {
	User, Password, Database string
}

// Env returns the environment variables, as NAME=VALUE, that give the component the
// credentials: only those the component has a variable for and that are set.
func (c Component) Env(cr Credentials) []string {
	var env []string
	for _, kv := range [][2]string{{c.UserEnv, cr.User}, {c.PasswordEnv, cr.Password}, {c.DatabaseEnv, cr.Database}} {
		if kv[0] != "" && kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// Command returns the container's command for the credentials: Args, followed by
// PasswordFlag and the password when the component takes its password as a flag.
func (c Component) Command(cr Credentials) []string {
	cmd := append([]string(nil), c.Args...)
	if c.PasswordFlag != "" && cr.Password != "" {
		cmd = append(cmd, c.PasswordFlag, cr.Password)
	}
	return cmd
}

// Components are the images of one Wharf installation.
type Components struct {
	Registry, Postgres, Redis Component
}

// All lists the components in the order they start: the database and Redis before the
// registry that needs them.
func (c Components) All() []Component {
	return []Component{c.Postgres, c.Redis, c.Registry}
}

// Defaults returns the components of an installation of wharf version: the wharf image named
// WharfRepository:version, and the upstream PostgreSQL and Redis images.
//
//   - registry: `wharf serve --config-dir /etc/wharf --data-dir /var/lib/wharf --listen
//     0.0.0.0:8080` as 1001:1001; HTTPS on the same port when the config directory holds
//     ssl.cert and ssl.key.
//   - postgres: POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB create the account and the
//     database when the data directory /var/lib/postgresql/data is empty; port 5432; 999:999.
//   - redis: `redis-server`, with `--requirepass PASSWORD` when a password is set; data in
//     /data; port 6379; 999:999.
func Defaults(version string) Components {
	return Components{
		Registry: Component{
			Name:      "registry",
			Ref:       WharfRepository + ":" + version,
			Port:      WharfPort,
			DataDir:   WharfDataDir,
			ConfigDir: WharfConfigDir,
			User:      strconv.Itoa(WharfUID) + ":" + strconv.Itoa(WharfGID),
			Args: []string{"serve", "--config-dir", WharfConfigDir, "--data-dir", WharfDataDir,
				"--listen", "0.0.0.0:" + strconv.Itoa(WharfPort)},
		},
		Postgres: Component{
			Name:        "postgres",
			Ref:         PostgresRef,
			Port:        5432,
			DataDir:     "/var/lib/postgresql/data",
			User:        "999:999",
			Args:        []string{"postgres"},
			UserEnv:     "POSTGRES_USER",
			PasswordEnv: "POSTGRES_PASSWORD",
			DatabaseEnv: "POSTGRES_DB",
		},
		Redis: Component{
			Name:         "redis",
			Ref:          RedisRef,
			Port:         6379,
			DataDir:      "/data",
			User:         "999:999",
			Args:         []string{"redis-server"},
			PasswordFlag: "--requirepass",
		},
	}
}
