package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wharf-registry/wharf/schema"
	"github.com/wharf-registry/wharf/systemd"
)

// TestWriteConfig writes a config directory as install does, checks what the registry and
// the config tool read from it, its owners and modes, and that writing it again with the
// same options keeps the passwords and changes nothing.
func TestWriteConfig(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to the containers' users needs root")
	}
	root := t.TempDir()
	l := Layout{ConfigDir: filepath.Join(root, "etc"), DataDir: filepath.Join(root, "data")}
	opts := InstallOptions{Hostname: "registry.example.com", Port: 8443}
	changed, ca, err := writeConfig(context.Background(), l, opts, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ca != filepath.Join(l.CADir(), "rootCA.pem") || len(changed) != 5 {
		t.Errorf("CA %q, wrote %v", ca, changed)
	}
	cfg, err := schema.Load(l.RegistryConfigDir())
	if err != nil {
		t.Fatal(err)
	}
	sec, ok, err := loadSecrets(l)
	if err != nil || !ok || len(sec.Postgres) != 32 || len(sec.Redis) != 32 || sec.Postgres == sec.Redis {
		t.Fatalf("secrets %+v, %v, %v", sec, ok, err)
	}
	if !strings.Contains(cfg.DBURI, ":"+sec.Postgres+"@wharf-postgres:5432/") || cfg.BuildlogsRedis.Password != sec.Redis ||
		cfg.BuildlogsRedis.Host != "wharf-redis" || cfg.ServerHostname != "registry.example.com:8443" {
		t.Errorf("config: DB_URI %q, redis %+v, SERVER_HOSTNAME %q", cfg.DBURI, cfg.BuildlogsRedis, cfg.ServerHostname)
	}
	for _, f := range []struct {
		path     string
		mode     os.FileMode
		uid, gid uint32
	}{
		{l.PostgresEnv(), 0o600, 0, 0},
		{filepath.Join(l.RedisConfigDir(), "redis.conf"), 0o600, 999, 999},
		{filepath.Join(l.RegistryConfigDir(), "config.yaml"), 0o600, 1001, 1001},
		{filepath.Join(l.RegistryConfigDir(), "ssl.key"), 0o600, 1001, 1001},
		{filepath.Join(l.CADir(), "rootCA.key"), 0o600, 0, 0},
		{l.DataPath("registry"), os.ModeDir | 0o755, 1001, 1001},
		{l.ConfigDir, os.ModeDir | 0o700, 0, 0},
	} {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode() != f.mode || sys.Uid != f.uid || sys.Gid != f.gid {
			t.Errorf("%s: %s %d:%d, want %s %d:%d", f.path, st.Mode(), sys.Uid, sys.Gid, f.mode, f.uid, f.gid)
		}
	}

	again, _, err := writeConfig(context.Background(), l, opts, "admin")
	if err != nil || len(again) != 0 {
		t.Errorf("second write: changed %v, %v", again, err)
	}
	if sec2, _, _ := loadSecrets(l); sec2 != sec {
		t.Errorf("the passwords changed on the second write")
	}

	// Another port rewrites config.yaml only.
	opts.Port = 9443
	again, _, err = writeConfig(context.Background(), l, opts, "admin")
	if err != nil || len(again) != 1 || !strings.HasSuffix(again[0], "config.yaml") {
		t.Errorf("write with another port: changed %v, %v", again, err)
	}
}

// TestUnitsKeepSecretsOut generates the units of an installation in both flavours and
// checks that they pass the generator's checks, name the secret files, and hold no secret.
func TestUnitsKeepSecretsOut(t *testing.T) {
	for _, flavour := range []systemd.Flavour{systemd.Classic, systemd.Quadlet} {
		st := &State{Version: "1.2.3", Images: map[string]string{"registry": "localhost/wharf:1.2.3",
			"postgres": "docker.io/library/postgres:15-bookworm", "redis": "docker.io/library/redis:7-bookworm"},
			Hostname: "r.example.com", Port: 8443, Flavour: string(flavour), UnitDir: t.TempDir(),
			ConfigDir: "/etc/wharf", DataDir: "/var/lib/wharf"}
		plan, err := unitPlan(st)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"wharf-postgres.service", "wharf-redis.service", "wharf-registry.service"}; strings.Join(plan.Units, " ") != strings.Join(want, " ") {
			t.Errorf("%s: units %v, want %v", flavour, plan.Units, want)
		}
		var all strings.Builder
		for _, f := range plan.Files {
			all.Write(f.Content)
		}
		for _, want := range []string{"/etc/wharf/postgres.env", "/etc/wharf/redis:/etc/wharf-redis", "8443:8080", "localhost/wharf:1.2.3"} {
			if !strings.Contains(all.String(), want) {
				t.Errorf("%s: units lack %q", flavour, want)
			}
		}
		for _, bad := range []string{"PASSWORD=", "requirepass"} {
			if strings.Contains(all.String(), bad) {
				t.Errorf("%s: units hold %q", flavour, bad)
			}
		}
	}
}

// TestStateRoundTrip writes install.json and reads it back; a missing file is
// ErrNotInstalled, a damaged one says how to recover.
func TestStateRoundTrip(t *testing.T) {
	l := Layout{ConfigDir: t.TempDir(), DataDir: "/var/lib/wharf"}
	if _, err := ReadState(l); err == nil || !strings.Contains(err.Error(), "run `wharf install` first") {
		t.Errorf("ReadState with no file: %v", err)
	}
	st := &State{Version: "1.0.0", Images: map[string]string{"registry": "localhost/wharf:1.0.0"}, Hostname: "h", Port: 8443,
		ConfigDir: l.ConfigDir, DataDir: l.DataDir, Units: []string{"wharf-registry.service"}}
	if err := st.Write(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(l)
	if err != nil || got.Version != "1.0.0" || got.Images["registry"] != "localhost/wharf:1.0.0" || got.URL() != "https://h:8443" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if info, _ := os.Stat(l.StateFile()); info.Mode().Perm() != 0o600 {
		t.Errorf("install.json mode %s", info.Mode())
	}
	os.WriteFile(l.StateFile(), []byte("{not json"), 0o600)
	if _, err := ReadState(l); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("damaged state: %v", err)
	}
}
