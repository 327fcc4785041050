package testservers

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver for creating test databases
)

// PostgresServer is a PostgreSQL server started for the tests.
type PostgresServer struct {
	Addr string // 127.0.0.1:PORT
	User string
}

var (
	pgOnce   sync.Once
	pgServer *PostgresServer
	pgErr    error
	pgSeq    atomic.Int64
)

// Postgres returns the test binary's PostgreSQL server, starting it on first use (Debian's
// postgresql package; run as the postgres system user when the tests run as root).
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	initdb := LookTool(t, "initdb", "/usr/lib/postgresql/*/bin")
	pgOnce.Do(func() { pgServer, pgErr = startPostgres(initdb) })
	if pgErr != nil {
		t.Fatalf("start PostgreSQL: %v", pgErr)
	}
	return pgServer
}

func startPostgres(initdb string) (*PostgresServer, error) {
	bin := filepath.Dir(initdb)
	dir, err := privateDir("postgres")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("tests run as root and PostgreSQL refuses root; no postgres user: %w (install Debian's postgresql package)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	var out bytes.Buffer
	cmd := exec.Command(initdb, "-D", data, "-U", "wharf", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out.String())
	}
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var log bytes.Buffer
	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-F", "-c", "max_connections=300", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	srv.Stdout, srv.Stderr = &syncWriter{w: &log}, &syncWriter{w: &log}
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := startProcess(srv); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	db, err := sql.Open("pgx", "postgres://wharf@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := db.Ping()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("PostgreSQL did not start: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &PostgresServer{Addr: addr, User: "wharf"}, nil
}

// NewDatabase creates an empty database and returns its DB_URI.
func (p *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("wharf_test_%d_%d", os.Getpid(), pgSeq.Add(1))
	db, err := sql.Open("pgx", "postgres://"+p.User+"@"+p.Addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return "postgresql://" + p.User + "@" + p.Addr + "/" + name + "?sslmode=disable"
}
