package configtool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/wharf-registry/wharf/registry/store"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // SQLite driver "sqlite", to open an existing embedded database

	"github.com/wharf-registry/wharf/schema"
)

// MinPostgresVersion is the oldest PostgreSQL Wharf supports, as server_version_num.
const MinPostgresVersion = 120000

// EmbeddedDBFile is the embedded SQLite database's file in the data directory (DB_URI unset).
const EmbeddedDBFile = "wharf.db"

func init() {
	consistencyChecks = append(consistencyChecks, checkDatabaseFiles)
	checks = append(checks, Check{Group: GroupDatabase, Run: checkDatabase})
}

// checkDatabaseFiles requires DB_CONNECTION_ARGS.sslrootcert, when set, to be a file of PEM
// certificates. A relative path is relative to the config directory.
func checkDatabaseFiles(cfg *schema.Config, src Source) []schema.Problem {
	p := cfg.DBConnectionArgs.SSLRootCert
	if p == "" || p == "system" { // "system": the system roots, as in libpq
		return nil
	}
	const key = "DB_CONNECTION_ARGS/sslrootcert"
	file := configPath(src, p)
	data, err := readSmall(file)
	if err != nil {
		return []schema.Problem{cfg.Problem(key, fmt.Sprintf("cannot read %s: %v: put the CA certificate of the PostgreSQL server there (a relative path is relative to the config directory)", file, errors.Unwrap(err)))}
	}
	certs, _, err := pemCertificates(data)
	if err != nil || len(certs) == 0 {
		return []schema.Problem{cfg.Problem(key, fmt.Sprintf("%s holds no PEM certificate: it must be the CA certificate that signed the PostgreSQL server's certificate", file))}
	}
	return nil
}

// checkDatabase checks the database DB_URI names: for PostgreSQL, that it accepts these
// credentials, runs a supported version and lets the user create tables; for SQLite (DB_URI
// unset or sqlite:///), that the file opens as SQLite, or that `wharf serve` can create it.
func checkDatabase(ctx context.Context, env *Env) []Result {
	uri := env.Config.DBURI
	if uri == "" {
		return []Result{checkSQLite(dataPath(env, EmbeddedDBFile), "the embedded database (DB_URI unset)")}
	}
	scheme, rest, _ := strings.Cut(uri, "://")
	scheme, _, _ = strings.Cut(scheme, "+")
	switch scheme {
	case "sqlite":
		p := strings.TrimPrefix(rest, "/")
		if p == "" {
			return []Result{newResult(GroupDatabase, "sqlite", "DB_URI").fail(time.Now(), "sqlite:/// names no file: use sqlite:///wharf.db (in the data directory) or sqlite:////ABSOLUTE/PATH")}
		}
		return []Result{checkSQLite(dataPath(env, p), "the SQLite database (DB_URI)")}
	case "postgresql", "postgres":
		return checkPostgres(ctx, env)
	}
	return []Result{newResult(GroupDatabase, "connection", "DB_URI").fail(time.Now(), "unsupported database %q: use postgresql:// or sqlite:///", scheme)}
}

// checkSQLite checks an SQLite database file without creating or changing anything: an
// existing file must open as SQLite in a writable directory; a missing one must be creatable.
func checkSQLite(path, what string) Result {
	start := time.Now()
	r := newResult(GroupDatabase, "sqlite", "DB_URI")
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		dir, err := writableAncestor(path)
		if err != nil {
			return r.fail(start, "%s at %s cannot be created: %v: choose a writable --data-dir, or set DB_URI", what, path, err)
		}
		return r.ok(start, "%s at %s does not exist yet; `wharf serve` creates it (%s is writable)", what, path, dir)
	case err != nil:
		return r.fail(start, "%s at %s: %v", what, path, err)
	case st.IsDir():
		return r.fail(start, "%s at %s is a directory, not a database file: name a file in DB_URI", what, path)
	}
	if err := writableDir(filepath.Dir(path)); err != nil {
		return r.fail(start, "%s at %s: %v: SQLite writes its journal beside the database, so the directory must be writable", what, path, err)
	}
	if err := unix.Access(path, unix.W_OK); err != nil {
		return r.fail(start, "%s at %s is not writable: %v: give the user that runs `wharf serve` write access", what, path, err)
	}
	version, err := sqliteVersion(path)
	if err != nil {
		return r.fail(start, "%s at %s does not open as SQLite: %v: move the file away, or point DB_URI at the right file", what, path, err)
	}
	return r.ok(start, "%s at %s opens (SQLite %s)", what, path, version)
}

// sqliteVersion opens an existing database read-only and reads its schema.
func sqliteVersion(path string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var version string
	var tables int
	if err := db.QueryRow("SELECT sqlite_version(), (SELECT count(*) FROM sqlite_master)").Scan(&version, &tables); err != nil {
		return "", err
	}
	return version, nil
}

// postgresTarget names what a PostgreSQL check talks to, for messages.
type postgresTarget struct {
	addr, user, database string
}

func (t postgresTarget) String() string { return "PostgreSQL at " + t.addr }

// checkPostgres connects with DB_URI and DB_CONNECTION_ARGS, and checks the version and the
// right to create tables.
func checkPostgres(ctx context.Context, env *Env) []Result {
	start := time.Now()
	conn := newResult(GroupDatabase, "connection", "DB_URI")
	pgcfg, err := postgresConfig(env)
	if err != nil {
		return []Result{conn.fail(start, "%v", err)}
	}
	target := postgresTarget{addr: net.JoinHostPort(pgcfg.Host, strconv.Itoa(int(pgcfg.Port))), user: pgcfg.User, database: pgcfg.Database}
	if strings.HasPrefix(pgcfg.Host, "/") {
		target.addr = pgcfg.Host
	}
	ctx, cancel := withTimeout(ctx, env)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, pgcfg)
	if err != nil {
		return []Result{conn.fail(start, "%s", postgresError(err, target, env))}
	}
	defer c.Close(context.Background())
	out := []Result{conn.ok(start, "connected to %s as user %s, database %s", target, target.user, target.database)}

	version := newResult(GroupDatabase, "version", "DB_URI")
	var num, human string
	err = c.QueryRow(ctx, "SELECT current_setting('server_version_num'), current_setting('server_version')").Scan(&num, &human)
	if err != nil {
		return append(out, version.fail(start, "%s: read the server version: %v", target, err))
	}
	if err := supportedPostgres(num); err != nil {
		out = append(out, version.fail(start, "%s runs PostgreSQL %s: %v", target, human, err))
	} else {
		out = append(out, version.ok(start, "PostgreSQL %s (12 or later is supported)", human))
	}

	priv := newResult(GroupDatabase, "privileges", "DB_URI")
	var schemaName *string
	var canCreate *bool
	err = c.QueryRow(ctx, "SELECT current_schema(), has_schema_privilege(current_schema(), 'CREATE')").Scan(&schemaName, &canCreate)
	switch {
	case err != nil:
		out = append(out, priv.fail(start, "%s: check privileges: %v", target, err))
	case schemaName == nil:
		out = append(out, priv.fail(start, "database %s has no schema on user %s's search_path: create one (CREATE SCHEMA AUTHORIZATION %s) or fix search_path", target.database, target.user, target.user))
	case canCreate == nil || !*canCreate:
		out = append(out, priv.fail(start, "user %s may not create tables in schema %s of database %s, which Wharf's migrations need: GRANT CREATE ON SCHEMA %s TO %s, or make %s the database's owner",
			target.user, *schemaName, target.database, *schemaName, target.user, target.user))
	default:
		out = append(out, priv.ok(start, "user %s may create tables in schema %s", target.user, *schemaName))
	}
	return out
}

// postgresConfig builds the connection config exactly as `wharf serve` does (store.
// PostgresConfig) from DB_URI and DB_CONNECTION_ARGS (sslmode, sslrootcert relative to the
// config directory, connect_timeout), trusting extra_ca_certs when no sslrootcert is given.
func postgresConfig(env *Env) (*pgx.ConnConfig, error) {
	args := env.Config.DBConnectionArgs
	rootCert := args.SSLRootCert
	if rootCert != "" && rootCert != "system" {
		rootCert = configPath(env.Source, rootCert)
	}
	pgcfg, err := store.PostgresConfig(store.Options{URI: env.Config.DBURI, SSLMode: args.SSLMode, SSLRootCert: rootCert,
		ConnectTimeout: time.Duration(args.ConnectTimeout) * time.Second, RootCAs: extraCAs(env.Source)})
	if err != nil {
		return nil, fmt.Errorf("DB_URI and DB_CONNECTION_ARGS do not make a PostgreSQL connection: %v: use postgresql://USER:PASSWORD@HOST:PORT/DATABASE", redactErr(err))
	}
	return pgcfg, nil
}

// redactErr keeps passwords out of URI parse errors, which quote the URI.
func redactErr(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		return "cannot parse the connection string"
	}
	return msg
}

// supportedPostgres checks server_version_num against MinPostgresVersion.
func supportedPostgres(num string) error {
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n <= 0 {
		return fmt.Errorf("the server reports version number %q, which is not a PostgreSQL version", num)
	}
	if n < MinPostgresVersion {
		return fmt.Errorf("Wharf needs PostgreSQL 12 or later: upgrade the server")
	}
	return nil
}

// postgresError says what a failed connection means and what to change.
func postgresError(err error, t postgresTarget, env *Env) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fmt.Sprintf("%s refused the password for user %s: check the password in DB_URI", t, t.user)
		case "28000":
			return fmt.Sprintf("%s does not let user %s connect to database %s (%s): check the user in DB_URI, and the server's pg_hba.conf", t, t.user, t.database, pgErr.Message)
		case "3D000":
			return fmt.Sprintf("%s has no database %s: create it (CREATE DATABASE %s OWNER %s) or fix the database name in DB_URI", t, t.database, t.database, t.user)
		case "53300":
			return fmt.Sprintf("%s has no free connections (%s): raise max_connections on the server or lower DB_CONNECTION_ARGS.max_connections on each node", t, pgErr.Message)
		case "57P03":
			return fmt.Sprintf("%s is not accepting connections yet (%s): wait for it to finish starting, then validate again", t, pgErr.Message)
		}
		return fmt.Sprintf("%s refused the connection: %s (SQLSTATE %s): check DB_URI", t, pgErr.Message, pgErr.Code)
	}
	if strings.Contains(err.Error(), "server refused TLS connection") {
		return fmt.Sprintf("%s does not offer TLS, but DB_CONNECTION_ARGS.sslmode %q requires it: turn on ssl in the server's postgresql.conf, or set sslmode to prefer or disable",
			t, env.Config.DBConnectionArgs.SSLMode)
	}
	if reason := netReason(err, t.addr, env.Timeout); reason != "" {
		hint := "check the host and port in DB_URI"
		if strings.Contains(reason, "TLS") {
			hint = "or set DB_CONNECTION_ARGS.sslrootcert to the server's CA"
		}
		return fmt.Sprintf("cannot connect to %s: %s: %s", t, reason, hint)
	}
	return fmt.Sprintf("cannot connect to %s: %v: check DB_URI and DB_CONNECTION_ARGS", t, err)
}
