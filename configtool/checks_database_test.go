package configtool

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

var (
	passwordsOnce sync.Once
	passwordsErr  error
)

// postgresWithPasswords returns the test PostgreSQL server with password authentication
// (scram-sha-256) required of every role but the harness's own superuser, which stays
// trusted. The harness starts the server with trust for all; this test binary rewrites
// pg_hba.conf through SQL (COPY ... TO the hba_file) and reloads it, once.
func postgresWithPasswords(t *testing.T) *testservers.PostgresServer {
	t.Helper()
	pg := testservers.Postgres(t)
	passwordsOnce.Do(func() { passwordsErr = requirePasswords(pg) })
	if passwordsErr != nil {
		t.Fatalf("require passwords on the test PostgreSQL: %v", passwordsErr)
	}
	return pg
}

func requirePasswords(pg *testservers.PostgresServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", "postgres://"+pg.User+"@"+pg.Addr+"/postgres?sslmode=disable")
	if err != nil {
		return err
	}
	defer db.Close()
	var hba string
	if err := db.QueryRowContext(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		return err
	}
	rules := []string{
		"local all all trust",
		"host all " + pg.User + " 127.0.0.1/32 trust",
		"host all " + pg.User + " ::1/128 trust",
		"host all all 127.0.0.1/32 scram-sha-256",
		"host all all ::1/128 scram-sha-256",
	}
	values := make([]string, len(rules))
	for i, r := range rules {
		values[i] = "('" + r + "')"
	}
	copySQL := fmt.Sprintf("COPY (SELECT * FROM (VALUES %s) AS r) TO '%s'", strings.Join(values, ", "), strings.ReplaceAll(hba, "'", "''"))
	if _, err := db.ExecContext(ctx, copySQL); err != nil {
		return fmt.Errorf("write %s: %w", hba, err)
	}
	if _, err := db.ExecContext(ctx, "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	// The reload is asynchronous: wait until an unknown role with a password is refused for
	// its password rather than let in.
	if _, err := db.ExecContext(ctx, "CREATE ROLE wharf_probe LOGIN PASSWORD 'right'"); err != nil {
		return err
	}
	for {
		probe, _ := sql.Open("pgx", "postgres://wharf_probe:wrong@"+pg.Addr+"/postgres?sslmode=disable")
		err := probe.PingContext(ctx)
		probe.Close()
		if err != nil && strings.Contains(err.Error(), "28P01") {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("pg_hba.conf reload did not take effect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postgresRole creates a login role with a password and, when owned is set, a database it
// owns; it returns the role's name and the database's.
func postgresRole(t *testing.T, pg *testservers.PostgresServer, password string, owned bool) (role, database string) {
	t.Helper()
	db, err := sql.Open("pgx", "postgres://"+pg.User+"@"+pg.Addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	role = fmt.Sprintf("quay_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := db.Exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password)); err != nil {
		t.Fatal(err)
	}
	database = role + "_db"
	owner := pg.User
	if owned {
		owner = role
	}
	if _, err := db.Exec(fmt.Sprintf("CREATE DATABASE %s OWNER %s", database, owner)); err != nil {
		t.Fatal(err)
	}
	return role, database
}

func TestPostgresCheck(t *testing.T) {
	pg := postgresWithPasswords(t)
	role, database := postgresRole(t, pg, "s3cret", true)
	guest, foreign := postgresRole(t, pg, "guest-pw", false)
	closed := fmt.Sprintf("127.0.0.1:%d", testservers.FreePort(t))
	uri := func(user, password, addr, db string) string {
		return "postgresql://" + url.UserPassword(user, password).String() + "@" + addr + "/" + db
	}
	cases := []struct {
		name   string
		config string
		wants  []want
	}{
		{"owner with the right password",
			"DB_URI: " + uri(role, "s3cret", pg.Addr, database) + "\nDB_CONNECTION_ARGS: {sslmode: prefer, connect_timeout: 5}\n",
			[]want{
				{StatusOK, "connection", "DB_URI", []string{"PostgreSQL at " + pg.Addr, "user " + role, "database " + database}},
				{StatusOK, "version", "DB_URI", []string{"PostgreSQL 1", "12 or later"}},
				{StatusOK, "privileges", "DB_URI", []string{"may create tables in schema public"}},
			}},
		{"driver suffix in the scheme, as Quay writes it",
			"DB_URI: postgresql+psycopg2://" + role + ":s3cret@" + pg.Addr + "/" + database + "\n",
			[]want{{StatusOK, "connection", "", nil}, {StatusOK, "version", "", nil}, {StatusOK, "privileges", "", nil}}},
		{"wrong password",
			"DB_URI: " + uri(role, "wrong", pg.Addr, database) + "\n",
			[]want{{StatusFailed, "connection", "DB_URI", []string{"PostgreSQL at " + pg.Addr + " refused the password for user " + role, "check the password in DB_URI"}}}},
		{"unknown database",
			"DB_URI: " + uri(role, "s3cret", pg.Addr, "no_such_db") + "\n",
			[]want{{StatusFailed, "connection", "DB_URI", []string{"has no database no_such_db", "CREATE DATABASE no_such_db OWNER " + role}}}},
		{"unknown role",
			"DB_URI: " + uri("nobody_here", "x", pg.Addr, database) + "\n",
			[]want{{StatusFailed, "connection", "DB_URI", []string{"nobody_here"}}}},
		{"nothing listens on the port",
			"DB_URI: " + uri(role, "s3cret", closed, database) + "\n",
			[]want{{StatusFailed, "connection", "DB_URI", []string{"PostgreSQL at " + closed, "connection refused", "check the host and port in DB_URI"}}}},
		{"host name that does not resolve",
			"DB_URI: " + uri(role, "s3cret", "db.invalid:5432", database) + "\n",
			[]want{{StatusFailed, "connection", "DB_URI", []string{"db.invalid", "does not resolve"}}}},
		{"TLS required but the server has none",
			"DB_URI: " + uri(role, "s3cret", pg.Addr, database) + "\nDB_CONNECTION_ARGS: {sslmode: require}\n",
			[]want{{StatusFailed, "connection", "DB_URI", []string{"does not offer TLS", `sslmode "require"`}}}},
		{"user who may not create tables",
			"DB_URI: " + uri(guest, "guest-pw", pg.Addr, foreign) + "\n",
			[]want{
				{StatusOK, "connection", "", nil},
				{StatusOK, "version", "", nil},
				{StatusFailed, "privileges", "DB_URI", []string{"user " + guest + " may not create tables in schema public", "GRANT CREATE ON SCHEMA public TO " + guest}},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			results := checkGroup(t, GroupDatabase, c.config, nil)
			expect(t, results, c.wants...)
			for _, r := range results {
				if strings.Contains(r.Message, "s3cret") || strings.Contains(r.Message, "guest-pw") {
					t.Errorf("a message shows the password: %s", r.Message)
				}
			}
		})
	}
}

func TestSupportedPostgres(t *testing.T) {
	cases := []struct {
		num  string
		want string // "" for supported
	}{
		{"120000", ""},
		{"150018", ""},
		{"170002\n", ""},
		{"110022", "PostgreSQL 12 or later"},
		{"90624", "PostgreSQL 12 or later"},
		{"", "not a PostgreSQL version"},
		{"fifteen", "not a PostgreSQL version"},
	}
	for _, c := range cases {
		err := supportedPostgres(c.num)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("supportedPostgres(%q) = %v, want supported", c.num, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("supportedPostgres(%q) = %v, want an error saying %q", c.num, err, c.want)
		}
	}
}

func TestSQLiteCheck(t *testing.T) {
	data := t.TempDir()
	good := filepath.Join(data, "good.db")
	db, err := sql.Open("sqlite", good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	garbage := filepath.Join(data, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(data, "blocker")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		config  string
		dataDir string
		want    want
	}{
		{"embedded default, not created yet", "SERVER_HOSTNAME: localhost\n", filepath.Join(data, "fresh"),
			want{StatusOK, "sqlite", "DB_URI", []string{"DB_URI unset", filepath.Join(data, "fresh", EmbeddedDBFile), "does not exist yet", data + " is writable"}}},
		{"existing SQLite database", "DB_URI: sqlite:///good.db\n", data,
			want{StatusOK, "sqlite", "DB_URI", []string{good, "opens (SQLite 3."}}},
		{"absolute path", "DB_URI: sqlite:///" + good + "\n", t.TempDir(),
			want{StatusOK, "sqlite", "DB_URI", []string{good, "opens"}}},
		{"a file that is not SQLite", "DB_URI: sqlite:///garbage.db\n", data,
			want{StatusFailed, "sqlite", "DB_URI", []string{garbage, "does not open as SQLite"}}},
		{"a directory", "DB_URI: sqlite:///" + data + "\n", data,
			want{StatusFailed, "sqlite", "DB_URI", []string{"is a directory"}}},
		{"under a regular file", "DB_URI: sqlite:///blocker/wharf.db\n", data,
			want{StatusFailed, "sqlite", "DB_URI", []string{"cannot be created", blocker + " is a file"}}},
		{"no file named", "DB_URI: sqlite:///\n", data,
			want{StatusFailed, "sqlite", "DB_URI", []string{"names no file"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := listDir(t, data)
			rep := validateDir(t, configDir(t, c.config, nil), Options{Groups: []string{GroupDatabase}, DataDir: c.dataDir})
			if !rep.Valid() {
				t.Fatalf("invalid: %v", rep.Problems)
			}
			expect(t, rep.Checks, c.want)
			if after := listDir(t, data); after != before {
				t.Errorf("the check changed the data directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// listDir lists a directory tree's names, to show that a check created nothing.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil {
			names = append(names, p)
		}
		return nil
	})
	return strings.Join(names, " ")
}

func TestDatabaseFileProblems(t *testing.T) {
	c := makeCert(t, certSpec{cn: "Test CA", ca: true}, nil)
	cases := []struct {
		name  string
		args  string
		files map[string]string
		words []string // nil: no problem
	}{
		{"missing root certificate", "{sslmode: verify-full, sslrootcert: db-ca.pem}", nil, []string{"cannot read", "db-ca.pem", "relative to the config directory"}},
		{"root certificate that is not PEM", "{sslmode: verify-full, sslrootcert: db-ca.pem}", map[string]string{"db-ca.pem": "nope"}, []string{"holds no PEM certificate"}},
		{"root certificate beside config.yaml", "{sslmode: verify-full, sslrootcert: db-ca.pem}", map[string]string{"db-ca.pem": c.certPEM()}, nil},
		{"system roots", "{sslmode: verify-full, sslrootcert: system}", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := "SERVER_HOSTNAME: localhost\nDB_URI: postgresql://u:p@db.example.com/quay\nDB_CONNECTION_ARGS: " + tc.args + "\n"
			dir := configDir(t, config, nil)
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			problems := validateDir(t, dir, Options{Offline: true}).Problems
			if tc.words == nil {
				if len(problems) > 0 {
					t.Errorf("problems in a good config: %v", problems)
				}
				return
			}
			expectProblem(t, problems, "DB_CONNECTION_ARGS/sslrootcert", 3, tc.words...)
		})
	}
}
