package systemd

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the generated units")

// wharfComponents is the set the installer writes: PostgreSQL and Redis on the
// wharf network, and the registry that requires both, published on the host.
func wharfComponents() []Component {
	return []Component{
		{
			Name:    "registry",
			Image:   "localhost/wharf:1.0.0",
			Command: []string{"serve", "--config-dir", "/etc/wharf", "--data-dir", "/var/lib/wharf", "--listen", "0.0.0.0:8080"},
			Env:     map[string]string{"WHARF_LOG_FORMAT": "json", "TZ": "UTC"},
			Ports:   []Port{{Host: 8443, Container: 8080}},
			Volumes: []Volume{
				{HostPath: "/etc/wharf", ContainerPath: "/etc/wharf", Options: []string{"Z", "ro"}},
				{HostPath: "/var/lib/wharf/registry", ContainerPath: "/var/lib/wharf", Options: []string{"Z"}},
			},
			Network:  "wharf",
			Requires: []string{"redis", "postgres"},
			Health: &Health{
				Cmd:         []string{"wharf", "health", "--url", "http://127.0.0.1:8080/health/instance"},
				Interval:    30 * time.Second,
				Timeout:     5 * time.Second,
				StartPeriod: time.Minute,
				Retries:     3,
				OnFailure:   "kill",
			},
			User: "1001:1001",
		},
		{
			Name:     "postgres",
			Image:    "docker.io/library/postgres:15-bookworm",
			Command:  []string{"postgres"},
			Env:      map[string]string{"POSTGRES_USER": "wharf", "POSTGRES_DB": "wharf"},
			EnvFiles: []string{"/etc/wharf/postgres.env"},
			Volumes: []Volume{
				{HostPath: "/var/lib/wharf/postgres", ContainerPath: "/var/lib/postgresql/data", Options: []string{"Z"}},
			},
			Network:     "wharf",
			Health:      &Health{Shell: "pg_isready -U wharf -d wharf", Interval: 10 * time.Second},
			StopTimeout: time.Minute,
		},
		{
			Name:    "redis",
			Image:   "docker.io/library/redis:7-bookworm",
			Command: []string{"redis-server", "/etc/redis/redis.conf"},
			Volumes: []Volume{{HostPath: "/etc/wharf/redis.conf", ContainerPath: "/etc/redis/redis.conf", Options: []string{"Z", "ro"}}, {HostPath: "/var/lib/wharf/redis", ContainerPath: "/data", Options: []string{"Z"}}},
			Network: "wharf",
			Health:  &Health{Cmd: []string{"redis-cli", "ping"}},
			After:   []string{"postgres"},
		},
	}
}

// rootless returns the components as a rootless install has them: data under the
// user's home, and volumes chowned into the user namespace (U).
func rootlessComponents() []Component {
	cs := wharfComponents()
	for i := range cs {
		for j := range cs[i].Volumes {
			v := &cs[i].Volumes[j]
			v.HostPath = strings.Replace(v.HostPath, "/var/lib/wharf", "/home/wharf/.local/share/wharf", 1)
			v.HostPath = strings.Replace(v.HostPath, "/etc/wharf", "/home/wharf/.config/wharf", 1)
			if !slices.Contains(v.Options, "ro") {
				v.Options = append(v.Options, "U")
			}
		}
		for j, f := range cs[i].EnvFiles {
			cs[i].EnvFiles[j] = strings.Replace(f, "/etc/wharf", "/home/wharf/.config/wharf", 1)
		}
	}
	return cs
}

type goldenCase struct {
	name       string
	opts       Options
	components []Component
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{"quadlet-rootful", Options{Flavour: Quadlet, UnitDir: RootfulQuadletDir}, wharfComponents()},
		{"quadlet-rootless", Options{Flavour: Quadlet, Rootless: true, UnitDir: "/home/wharf/.config/containers/systemd"}, rootlessComponents()},
		{"classic-rootful", Options{Flavour: Classic, UnitDir: RootfulClassicDir}, wharfComponents()},
		{"classic-rootless", Options{Flavour: Classic, Rootless: true, UnitDir: "/home/wharf/.config/systemd/user"}, rootlessComponents()},
	}
}

// TestGolden compares every generated file with testdata/CASE/FILE; `go test
// ./systemd -update` rewrites them.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Generate(tc.opts, tc.components)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range plan.Files {
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("%v (run `go test ./systemd -update` to create the golden files)", err)
			}
			var golden []string
			for _, e := range entries {
				golden = append(golden, e.Name())
			}
			var names []string
			for _, f := range plan.Files {
				names = append(names, f.Name)
				want, err := os.ReadFile(filepath.Join(dir, f.Name))
				if err != nil {
					t.Errorf("%s: %v", f.Name, err)
					continue
				}
				if !bytes.Equal(f.Content, want) {
					t.Errorf("%s differs from %s (run `go test ./systemd -update` and review the diff):\n%s", f.Name, dir, lineDiff(string(want), string(f.Content)))
				}
			}
			if !slices.Equal(names, golden) {
				t.Errorf("generated files %v, golden files %v", names, golden)
			}
		})
	}
}

// TestPlan checks what the installer reads from a plan besides the files: the start
// order, the unit names and where the files go.
func TestPlan(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Generate(tc.opts, tc.components)
			if err != nil {
				t.Fatal(err)
			}
			wantUnits := []string{"wharf-postgres.service", "wharf-redis.service", "wharf-registry.service"}
			if !slices.Equal(plan.Units, wantUnits) {
				t.Errorf("start order %v, want %v", plan.Units, wantUnits)
			}
			if !slices.Equal(plan.NetworkUnits, []string{"wharf-network.service"}) {
				t.Errorf("network units %v", plan.NetworkUnits)
			}
			var files []string
			for _, f := range plan.Files {
				files = append(files, f.Name)
			}
			want := []string{"wharf-network.service", "wharf-postgres.service", "wharf-redis.service", "wharf-registry.service"}
			if tc.opts.Flavour == Quadlet {
				want = []string{"wharf-postgres.container", "wharf-redis.container", "wharf-registry.container", "wharf.network"}
			}
			if !slices.Equal(files, want) {
				t.Errorf("files %v, want %v", files, want)
			}
			if got := plan.Path(plan.Files[0]); got != filepath.Join(tc.opts.UnitDir, want[0]) {
				t.Errorf("path %s", got)
			}
		})
	}
}

// TestGeneratedUnitsParse reads every file back with go-systemd's parser and checks
// the settings that make the units behave: journald identifiers, restart policy,
// boot target, and the dependencies between components.
func TestGeneratedUnitsParse(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Generate(tc.opts, tc.components)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range plan.Files {
				if !bytes.HasPrefix(f.Content, []byte(Header)) {
					t.Errorf("%s: no header", f.Name)
				}
				opts, err := unit.DeserializeOptions(bytes.NewReader(f.Content))
				if err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				get := func(section, name string) []string {
					var vals []string
					for _, o := range opts {
						if o.Section == section && o.Name == name {
							vals = append(vals, o.Value)
						}
					}
					return vals
				}
				if strings.Contains(f.Unit, "network") {
					if tc.opts.Flavour == Classic && !slices.Equal(get("Service", "Type"), []string{"oneshot"}) {
						t.Errorf("%s: Type %v", f.Name, get("Service", "Type"))
					}
					continue
				}
				base := strings.TrimSuffix(f.Unit, ".service")
				checks := []struct {
					section, name, want string
				}{
					{"Service", "SyslogIdentifier", base},
					{"Service", "Restart", "always"},
					{"Install", "WantedBy", wantedBy(tc.opts)},
				}
				if tc.opts.Flavour == Classic {
					checks = append(checks, []struct{ section, name, want string }{
						{"Service", "Type", "notify"},
						{"Service", "NotifyAccess", "all"},
						{"Service", "KillMode", "mixed"},
					}...)
				} else {
					checks = append(checks, []struct{ section, name, want string }{
						{"Container", "ContainerName", base},
						{"Container", "Network", "wharf.network"},
					}...)
				}
				for _, c := range checks {
					if got := get(c.section, c.name); !slices.Equal(got, []string{c.want}) {
						t.Errorf("%s: [%s] %s = %v, want %q", f.Name, c.section, c.name, got, c.want)
					}
				}
				if base == "wharf-registry" {
					requires := strings.Join(get("Unit", "Requires"), " ")
					for _, dep := range []string{"wharf-postgres.service", "wharf-redis.service"} {
						if !strings.Contains(requires, dep) {
							t.Errorf("%s: Requires=%q lacks %s", f.Name, requires, dep)
						}
					}
				}
			}
		})
	}
}

// TestGenerateDeterministic generates the same set many times from maps filled in
// different orders and wants the same bytes.
func TestGenerateDeterministic(t *testing.T) {
	first, err := Generate(Options{Flavour: Classic, UnitDir: t.TempDir()}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		cs := wharfComponents()
		env := map[string]string{}
		for k, v := range cs[0].Env {
			env[k] = v
		}
		cs[0].Env = env
		again, err := Generate(Options{Flavour: Classic, UnitDir: first.Dir}, cs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first.Files {
			if !bytes.Equal(first.Files[i].Content, again.Files[i].Content) {
				t.Fatalf("%s changed between runs", first.Files[i].Name)
			}
		}
	}
}

// lineDiff shows the lines that differ, for readable golden failures.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "  line %d:\n    want: %s\n    got:  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
