package debian_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wharf-registry/wharf/images"
	"github.com/wharf-registry/wharf/images/debian"
	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// buildAndLoad builds (or takes from the cache) the Debian image of component name and loads
// it into p.
func buildAndLoad(t *testing.T, p *testservers.PodmanRunner, name string) images.Component {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var log strings.Builder
	archive, err := debian.Build(ctx, name, debian.Options{Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("%s", strings.TrimSpace(lastLine(log.String())))
	p.Must("load", "--input", archive)
	c := debian.Components("test", debian.DefaultSuite)
	if name == "postgres" {
		return c.Postgres
	}
	return c.Redis
}

// checkUID checks that the container's service runs as the component's user.
func checkUID(t *testing.T, c *testservers.Container, comp images.Component) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.PID()))
	if err != nil {
		t.Fatal(err)
	}
	uid, gid, _ := strings.Cut(comp.User, ":")
	for field, want := range map[string]string{"Uid": uid, "Gid": gid} {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, field+":"); ok {
				if ids := strings.Fields(rest); len(ids) < 2 || ids[0] != want || ids[1] != want {
					t.Errorf("%s runs with %s %v, want %s", comp.Name, field, ids, want)
				}
			}
		}
	}
}

// dataDir makes an empty host directory for a container's data, as the installer does: owned
// by root, which the image's entrypoint hands over to its service's user.
func dataDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func checkOwner(t *testing.T, path string, comp images.Component) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if got := fmt.Sprintf("%d:%d", st.Uid, st.Gid); got != comp.User {
		t.Errorf("%s is owned by %s, want %s", path, got, comp.User)
	}
}

func TestPostgresImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian root file system with debootstrap (minutes the first time; cached in ~/.cache/wharf/images)")
	}
	p := testservers.NewPodmanRunner(t)
	comp := buildAndLoad(t, p, "postgres")

	// Like the official image, it refuses to create a database nobody can log in to.
	out, err := p.Run("", "run", "--rm", comp.Ref)
	if err == nil || !strings.Contains(out, "POSTGRES_PASSWORD is not set") {
		t.Fatalf("starting without a password gave %v:\n%s\nwant a refusal saying what to set", err, out)
	}

	data := dataDir(t)
	creds := images.Credentials{User: "wharf", Password: "s3cret 'quoted\"", Database: "wharf-db"}
	// start runs the image with env's credentials and waits until creds connect.
	start := func(env images.Credentials) (*testservers.Container, int) {
		port := testservers.FreePort(t)
		args := []string{"-p", fmt.Sprintf("127.0.0.1:%d:%d", port, comp.Port), "-v", data + ":" + comp.DataDir}
		for _, e := range comp.Env(env) {
			args = append(args, "-e", e)
		}
		c := p.RunContainer(append(append(args, comp.Ref), comp.Command(env)...)...)
		c.WaitReady(2*time.Minute, func() error {
			conn, err := connect(port, creds.User, creds.Password, creds.Database)
			if err == nil {
				conn.Close(context.Background())
			}
			return err
		})
		return c, port
	}
	c, port := start(creds)
	checkUID(t, c, comp)
	checkOwner(t, data, comp)
	checkOwner(t, filepath.Join(data, "PG_VERSION"), comp)

	conn, err := connect(port, creds.User, creds.Password, creds.Database)
	if err != nil {
		t.Fatal(err)
	}
	var user, db string
	var super bool
	if err := conn.QueryRow(context.Background(), "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &db, &super); err != nil {
		t.Fatal(err)
	}
	if user != creds.User || db != creds.Database || !super {
		t.Errorf("connected as %s (superuser %v) to %s, want superuser %s to %s", user, super, db, creds.User, creds.Database)
	}
	if _, err := conn.Exec(context.Background(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if _, err := connect(port, creds.User, "wrong", creds.Database); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("a wrong password gave %v, want a refusal", err)
	}

	// A new container on the same data keeps the database and the first password.
	p.Must("rm", "--force", "--time", "10", c.ID)
	ignored := creds
	ignored.Password = "ignored on a second start"
	_, port = start(ignored)
	conn, err = connect(port, creds.User, creds.Password, creds.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(context.Background(), "SELECT v FROM kept").Scan(&v); err != nil || v != "still here" {
		t.Errorf("after a restart: %q, %v; want the row written before", v, err)
	}
}

func connect(port int, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://127.0.0.1:%d/?sslmode=disable&connect_timeout=5", port))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password, cfg.Database = user, password, db
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

func TestRedisImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian root file system with debootstrap (minutes the first time; cached in ~/.cache/wharf/images)")
	}
	p := testservers.NewPodmanRunner(t)
	comp := buildAndLoad(t, p, "redis")
	for _, c := range []struct {
		name     string
		password string
	}{
		{"with a password", "redis-s3cret"},
		{"without a password", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			creds := images.Credentials{Password: c.password}
			data := dataDir(t)
			port := testservers.FreePort(t)
			args := append([]string{"-p", fmt.Sprintf("127.0.0.1:%d:%d", port, comp.Port), "-v", data + ":" + comp.DataDir, comp.Ref},
				comp.Command(creds)...)
			ctr := p.RunContainer(args...)
			client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: c.password, MaxRetries: -1})
			defer client.Close()
			ctx := context.Background()
			ctr.WaitReady(time.Minute, func() error { return client.Ping(ctx).Err() })
			checkUID(t, ctr, comp)
			checkOwner(t, data, comp)
			if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := client.Save(ctx).Err(); err != nil { // the data lands in the data directory
				t.Fatal(err)
			}
			checkOwner(t, filepath.Join(data, "dump.rdb"), comp)
			anonymous := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
			defer anonymous.Close()
			err := anonymous.Ping(ctx).Err()
			if c.password != "" && (err == nil || !strings.Contains(err.Error(), "NOAUTH")) {
				t.Errorf("PING without the password gave %v, want NOAUTH", err)
			}
			if c.password == "" && err != nil { // no protected mode: reachable from outside
				t.Errorf("PING from outside the container: %v", err)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
