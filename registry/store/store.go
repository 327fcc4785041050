// Package store is the metadata database: namespaces, repositories, blobs, manifests, tags, tag
// history, uploads and signing keys are rows here. One implementation serves two dialects,
// SQLite (embedded, modernc.org/sqlite) and PostgreSQL (pgx); versioned migrations for each are
// applied at start-up, and the same test suite runs on both.
//
// Writes that must be atomic run in one transaction. Every reference a write creates "touches"
// the referenced row (sets touched_at) inside that transaction; the garbage collector removes
// only rows untouched for the retention window, so work in flight is never collected.
package store

import (
	"context"
	"crypto/x509"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

//go:embed migrations
var migrations embed.FS

// Errors the store returns (wrapped with context; test with errors.Is).
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("conflicting concurrent change")
)

// Dialect names a database flavour.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the metadata database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	// stmts caches prepared statements by query text: parsing SQL costs more than running
	// the small queries of the request path.
	stmts sync.Map
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Options configure Open.
type Options struct {
	// URI is Quay's DB_URI: postgresql://user:pass@host:port/db or sqlite:///path. Empty means
	// SQLite at DataDir/wharf.db.
	URI string
	// DataDir anchors relative SQLite paths.
	DataDir string
	// MaxConns bounds open connections (default 20 for PostgreSQL, 8 for SQLite).
	MaxConns int
	// SSLMode and SSLRootCert are PostgreSQL TLS settings (DB_CONNECTION_ARGS).
	SSLMode, SSLRootCert string
	// ConnectTimeout bounds connection set-up.
	ConnectTimeout time.Duration
	// RootCAs verifies PostgreSQL's certificate when no SSLRootCert is given (the system
	// roots plus extra_ca_certs); nil means pgx's default.
	RootCAs *x509.CertPool
	// Wait is how long Open keeps trying a database that is not up yet (connection refused,
	// host not found, PostgreSQL starting up) before it gives up; 0 tries once. OnWait, when
	// set, is told of each failed try.
	Wait   time.Duration
	OnWait func(err error)
}

// Open connects to the database named by opts and applies pending migrations.
func Open(ctx context.Context, opts Options) (*Store, error) {
	dialect, dsn, err := parseURI(opts)
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	if dialect == Postgres {
		pgcfg, err := PostgresConfig(opts)
		if err != nil {
			return nil, err
		}
		db = stdlib.OpenDB(*pgcfg)
	} else if db, err = sql.Open("sqlite", dsn); err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	maxConns := opts.MaxConns
	if maxConns == 0 {
		maxConns = map[Dialect]int{SQLite: 8, Postgres: 20}[dialect]
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dialect: dialect, Now: time.Now}
	if err := ping(ctx, db, opts); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database (check DB_URI and that the server accepts connections): %w", dialect, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// ping checks the connection, trying again every two seconds for opts.Wait while the
// database is not up yet.
func ping(ctx context.Context, db *sql.DB, opts Options) error {
	deadline := time.Now().Add(opts.Wait)
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := db.PingContext(pingCtx)
		cancel()
		if err == nil || !notUpYet(err) || time.Now().After(deadline) {
			return err
		}
		if opts.OnWait != nil {
			opts.OnWait(err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}

// notUpYet reports whether a connection error means the database is not up yet (as opposed
// to refusing the credentials or the database name).
func notUpYet(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P03" // cannot_connect_now: starting up
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) || errors.As(err, &dnsErr)
}

// PostgresConfig is the pgx connection config for a postgresql:// DB_URI with the
// DB_CONNECTION_ARGS in opts: what Open connects with, and what `wharf config validate`
// checks.
func PostgresConfig(opts Options) (*pgx.ConnConfig, error) {
	dialect, dsn, err := parseURI(opts)
	if err != nil {
		return nil, err
	}
	if dialect != Postgres {
		return nil, fmt.Errorf("DB_URI %q is not a PostgreSQL URI", redact(opts.URI))
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DB_URI %q with DB_CONNECTION_ARGS: %w", redact(opts.URI), err)
	}
	if opts.RootCAs != nil && opts.SSLRootCert == "" {
		if cfg.TLSConfig != nil {
			cfg.TLSConfig.RootCAs = opts.RootCAs
		}
		for _, fb := range cfg.Fallbacks {
			if fb.TLSConfig != nil {
				fb.TLSConfig.RootCAs = opts.RootCAs
			}
		}
	}
	return cfg, nil
}

// Dialect reports which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	return s.db.Close()
}

// prepared returns the cached prepared statement for a query written with ? placeholders.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if actual, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return actual.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a single-row query outside any transaction, prepared once.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a query outside any transaction, prepared once.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// scanner is a row or rows to scan columns from.
type scanner interface{ Scan(...any) error }

// list runs a query and scans each row with scan; what names the listing in errors.
func list[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// scanString scans a one-column row of text.
func scanString(row scanner) (v string, err error) { return v, row.Scan(&v) }

// exec runs a statement outside any transaction, prepared once.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func parseURI(opts Options) (Dialect, string, error) {
	uri := opts.URI
	if uri == "" {
		if opts.DataDir == "" {
			return "", "", errors.New("store: no DB_URI and no data directory")
		}
		return SQLite, sqliteDSN(filepath.Join(opts.DataDir, "wharf.db")), nil
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "", "", fmt.Errorf("DB_URI %q: want postgresql://... or sqlite:///...", redact(uri))
	}
	scheme, _, _ = strings.Cut(scheme, "+") // postgresql+psycopg2:// and the like
	switch scheme {
	case "sqlite":
		// SQLAlchemy form: sqlite:///relative.db, sqlite:////absolute.db.
		p := strings.TrimPrefix(rest, "/")
		if p == "" {
			return "", "", errors.New("DB_URI: sqlite:/// needs a file path")
		}
		if !filepath.IsAbs(p) && opts.DataDir != "" {
			p = filepath.Join(opts.DataDir, p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return "", "", fmt.Errorf("DB_URI: %w", err)
		}
		return SQLite, sqliteDSN(p), nil
	case "postgresql", "postgres":
		u, err := url.Parse("postgres://" + rest)
		if err != nil {
			return "", "", fmt.Errorf("DB_URI %q: %w", redact(uri), err)
		}
		q := u.Query()
		if opts.SSLMode != "" {
			q.Set("sslmode", opts.SSLMode)
		}
		if opts.SSLRootCert != "" {
			q.Set("sslrootcert", opts.SSLRootCert)
		}
		if opts.ConnectTimeout > 0 {
			q.Set("connect_timeout", strconv.Itoa(int(opts.ConnectTimeout.Seconds())))
		}
		u.RawQuery = q.Encode()
		return Postgres, u.String(), nil
	}
	return "", "", fmt.Errorf("DB_URI %q: unsupported database %q (use postgresql or sqlite)", redact(uri), scheme)
}

func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// redact hides a password in a URI for messages.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply database migrations: %w", err)
	}
	return nil
}

// q rewrites ? placeholders for the dialect.
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// forUpdate is the row-lock suffix for SELECTs inside write transactions. SQLite needs none:
// its write transactions are serialized (BEGIN IMMEDIATE).
func (s *Store) forUpdate() string {
	if s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// micros is the store's time unit: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us) }

func (s *Store) now() int64 { return micros(s.Now()) }

// tx runs fn in a write transaction, retrying on serialization conflicts.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		err = fn(tx)
		if err == nil {
			err = tx.Commit()
			if err != nil {
				err = fmt.Errorf("commit: %w", err)
			}
		} else {
			tx.Rollback()
		}
		if err != nil && retryable(err) && attempt < 5 {
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
			continue
		}
		return err
	}
}

// retryable reports errors that a repeated transaction may not hit: PostgreSQL serialization
// failures and deadlocks, and ErrConflict from the transaction's own checks.
func retryable(err error) bool {
	msg := err.Error()
	return errors.Is(err, ErrConflict) || strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
}

func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed")
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
