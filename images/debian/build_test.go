package debian

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRenumberAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing file owners needs root")
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "var/lib/postgresql"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\npostgres:x:104:107:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nssl-cert:x:106:postgres\npostgres:x:107:\n"), 0o644)
	owned := filepath.Join(root, "var/lib/postgresql")
	setgid := filepath.Join(root, "var/lib/postgresql/tool")
	other := filepath.Join(root, "etc/ssl-key")
	os.WriteFile(setgid, nil, 0o755)
	os.WriteFile(other, nil, 0o640)
	os.Chown(owned, 104, 107)
	os.Chown(setgid, 0, 107)
	os.Chmod(setgid, os.ModeSetgid|0o755)
	os.Chown(other, 0, 106)
	if err := renumberAccount(root, "postgres", 999, 999); err != nil {
		t.Fatal(err)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	if !strings.Contains(string(passwd), "postgres:x:999:999:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n") {
		t.Errorf("passwd:\n%s", passwd)
	}
	if !strings.Contains(string(group), "postgres:x:999:\n") || !strings.Contains(string(group), "ssl-cert:x:106:postgres\n") {
		t.Errorf("group:\n%s", group)
	}
	for _, c := range []struct {
		path     string
		uid, gid uint32
		mode     os.FileMode
	}{
		{owned, 999, 999, os.ModeDir | 0o755},
		{setgid, 0, 999, os.ModeSetgid | 0o755}, // the set-group-id bit survives the change
		{other, 0, 106, 0o640},
	} {
		info, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Uid != c.uid || st.Gid != c.gid || info.Mode() != c.mode {
			t.Errorf("%s: %d:%d %s, want %d:%d %s", c.path, st.Uid, st.Gid, info.Mode(), c.uid, c.gid, c.mode)
		}
	}
	// An id another account holds is refused.
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("other:x:999:999::/:/bin/sh\nredis:x:101:101::/:/bin/sh\n"), 0o644)
	if err := renumberAccount(root, "redis", 999, 999); err == nil || !strings.Contains(err.Error(), "other already has id 999") {
		t.Errorf("got %v, want a refusal naming the other account", err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("redis:x:101:101::/:/bin/sh\n"), 0o644)
	if err := renumberAccount(root, "nobody-here", 999, 999); err == nil || !strings.Contains(err.Error(), "no nobody-here") {
		t.Errorf("got %v, want an error saying the account is missing", err)
	}
}

func TestPackageVersion(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status")
	os.WriteFile(status, []byte(`Package: postgresql-common
Status: install ok installed
Version: 248

Package: postgresql-15
Status: install ok installed
Version: 15.13-0+deb12u1

Package: postgresql-client-15
Version: 15.13-0+deb12u1

Package: redis-server
Version: 5:7.0.15-1~deb12u4
`), 0o644)
	for _, c := range []struct{ prefix, want string }{
		{"postgresql-", "15.13-0+deb12u1"}, // postgresql-15, not postgresql-common or -client-15
		{"redis-server", "5:7.0.15-1~deb12u4"},
		{"redis", ""},
	} {
		got, err := packageVersion(status, c.prefix)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: got %q, want an error", c.prefix, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.prefix, got, err, c.want)
		}
	}
}

func TestBuildRefusesUnknownImages(t *testing.T) {
	_, err := Build(context.Background(), "mysql", Options{CacheDir: t.TempDir(), Mirror: "http://m.example/debian"})
	if err == nil || !strings.Contains(err.Error(), "choose one of [postgres redis]") {
		t.Fatalf("got %v, want an error listing the images", err)
	}
}

func TestCacheKeyFollowsInputs(t *testing.T) {
	sp, err := specFor("redis", DefaultSuite)
	if err != nil {
		t.Fatal(err)
	}
	base := Options{Suite: DefaultSuite, Mirror: "http://a.example/debian"}
	key := cacheKey("redis", sp, base)
	if again := cacheKey("redis", sp, base); again != key {
		t.Fatalf("the same inputs gave keys %s and %s", key, again)
	}
	changed := sp
	changed.entrypoint = append([]byte(nil), sp.entrypoint...)
	changed.entrypoint = append(changed.entrypoint, '\n')
	for name, k := range map[string]string{
		"mirror":     cacheKey("redis", sp, Options{Suite: DefaultSuite, Mirror: "http://b.example/debian"}),
		"suite":      cacheKey("redis", sp, Options{Suite: "trixie", Mirror: base.Mirror}),
		"entrypoint": cacheKey("redis", changed, base),
	} {
		if k == key {
			t.Errorf("another %s gave the same key", name)
		}
	}
}
