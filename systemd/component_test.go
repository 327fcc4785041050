package systemd

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestGenerateRejects feeds bad components and wants an error that names the
// component, the field and what to do, and no plan.
func TestGenerateRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(cs []Component) []Component
		want   string
	}{
		{"no components", func([]Component) []Component { return nil }, "no components"},
		{"bad name", func(cs []Component) []Component { cs[0].Name = "Registry_1"; return cs }, `name "Registry_1": use 1-32 lower-case`},
		{"duplicate", func(cs []Component) []Component { cs[1].Name = "registry"; return cs }, `"registry" is listed twice`},
		{"no image", func(cs []Component) []Component { cs[0].Image = ""; return cs }, "no image"},
		{"image with blank", func(cs []Component) []Component { cs[0].Image = "wharf 1"; return cs }, "an image reference has no spaces"},
		{"empty command word", func(cs []Component) []Component { cs[2].Command = []string{"redis-server", ""}; return cs }, "command word 2 is empty"},
		{"newline in command", func(cs []Component) []Component { cs[2].Command = []string{"a\nb"}; return cs }, "control character"},
		{"password flag", func(cs []Component) []Component {
			cs[2].Command = []string{"redis-server", "--requirepass", "hunter2"}
			return cs
		}, "command word 3 is the value of a secret flag"},
		{"password flag with =", func(cs []Component) []Component {
			cs[2].Command = []string{"redis-server", "--requirepass=hunter2"}
			return cs
		}, "command word 2 is the value of a secret flag"},
		{"secret in env", func(cs []Component) []Component { cs[1].Env["POSTGRES_PASSWORD"] = "hunter2"; return cs }, "POSTGRES_PASSWORD looks like a secret"},
		{"bad env key", func(cs []Component) []Component { cs[1].Env["1X"] = "a"; return cs }, `environment variable "1X"`},
		{"relative env file", func(cs []Component) []Component { cs[1].EnvFiles = []string{"postgres.env"}; return cs }, "clean absolute path"},
		{"env file with %", func(cs []Component) []Component { cs[1].EnvFiles = []string{"/etc/%n.env"}; return cs }, "clean absolute path"},
		{"bad secret", func(cs []Component) []Component {
			cs[1].Secrets = []Secret{{Name: "pg pass", Env: "PGPASSWORD"}}
			return cs
		}, `secret "pg pass"`},
		{"port zero", func(cs []Component) []Component { cs[0].Ports = []Port{{Host: 0, Container: 8080}}; return cs }, "ports must be 1-65535"},
		{"bad host ip", func(cs []Component) []Component { cs[0].Ports[0].HostIP = "localhost"; return cs }, `"localhost" is not an IP address`},
		{"bad protocol", func(cs []Component) []Component { cs[0].Ports[0].Protocol = "sctp"; return cs }, `protocol "sctp"`},
		{"port taken twice", func(cs []Component) []Component { cs[1].Ports = []Port{{Host: 8443, Container: 5432}}; return cs }, "both publish host port 8443"},
		{"relative volume", func(cs []Component) []Component { cs[0].Volumes[0].HostPath = "etc/wharf"; return cs }, "absolute host path or a Podman volume name"},
		{"volume with colon", func(cs []Component) []Component { cs[0].Volumes[0].HostPath = "/etc/wh:arf"; return cs }, "without ':'"},
		{"volume with blank", func(cs []Component) []Component { cs[0].Volumes[0].HostPath = "/etc/my wharf"; return cs }, "cannot hold blanks"},
		{"relative container path", func(cs []Component) []Component { cs[0].Volumes[0].ContainerPath = "data"; return cs }, `container path "data"`},
		{"bad volume option", func(cs []Component) []Component { cs[0].Volumes[0].Options = []string{"Z,ro"}; return cs }, `mount option "Z,ro"`},
		{"bad network", func(cs []Component) []Component { cs[0].Network = "Wharf Net"; return cs }, `network "Wharf Net"`},
		{"unknown dependency", func(cs []Component) []Component { cs[0].Requires = []string{"clair"}; return cs }, `depends on "clair", which is not in the list`},
		{"self dependency", func(cs []Component) []Component { cs[0].After = []string{"registry"}; return cs }, "depends on itself"},
		{"cycle", func(cs []Component) []Component { cs[1].Requires = []string{"registry"}; return cs }, "in a cycle"},
		{"health without command", func(cs []Component) []Component { cs[0].Health = &Health{}; return cs }, "health check has no command"},
		{"health one word", func(cs []Component) []Component { cs[0].Health = &Health{Cmd: []string{"true"}}; return cs }, "has one word"},
		{"health both", func(cs []Component) []Component {
			cs[0].Health = &Health{Cmd: []string{"a", "b"}, Shell: "c"}
			return cs
		}, "both Cmd and Shell"},
		{"health keyword", func(cs []Component) []Component { cs[0].Health = &Health{Cmd: []string{"CMD", "true"}}; return cs }, "keyword"},
		{"health json shell", func(cs []Component) []Component { cs[0].Health = &Health{Shell: `["true"]`}; return cs }, "use Cmd"},
		{"health on failure", func(cs []Component) []Component { cs[0].Health.OnFailure = "reboot"; return cs }, `on-failure action "reboot"`},
		{"named user", func(cs []Component) []Component { cs[0].User = "wharf"; return cs }, "numeric UID"},
		{"restart policy", func(cs []Component) []Component { cs[0].Restart = "sometimes"; return cs }, `restart policy "sometimes"`},
		{"tiny timeout", func(cs []Component) []Component { cs[0].StartTimeout = time.Millisecond; return cs }, "at least 1s"},
	}
	for _, flavour := range []Flavour{Quadlet, Classic} {
		for _, tt := range tests {
			t.Run(string(flavour)+"/"+tt.name, func(t *testing.T) {
				plan, err := Generate(Options{Flavour: flavour, UnitDir: t.TempDir()}, tt.change(wharfComponents()))
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Generate = %v, want an error containing %q", err, tt.want)
				}
				if plan != nil {
					t.Fatal("a plan came back with the error")
				}
			})
		}
	}
}

// TestGenerateOptionsRejects checks the options themselves.
func TestGenerateOptionsRejects(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no flavour", Options{UnitDir: "/tmp/x"}, `unknown unit flavour ""`},
		{"relative podman", Options{Flavour: Classic, UnitDir: "/tmp/x", PodmanPath: "podman"}, "absolute path"},
		{"podman with blank", Options{Flavour: Classic, UnitDir: "/tmp/x", PodmanPath: "/opt/my podman"}, "absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(tt.opts, wharfComponents()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Generate = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestGenerateOptionalFields covers what the golden set leaves out: Podman
// secrets, named volumes, a component without network, a custom podman path, a
// restart policy and timeouts.
func TestGenerateOptionalFields(t *testing.T) {
	c := Component{
		Name:         "scanner",
		Image:        "localhost/wharf:1.0.0",
		Secrets:      []Secret{{Name: "wharf-scanner-psk", Env: "SCANNER_PSK"}},
		Volumes:      []Volume{{HostPath: "wharf-scanner-cache", ContainerPath: "/var/cache/scanner"}},
		Restart:      "on-failure",
		StartTimeout: 90 * time.Second,
		StopTimeout:  1500 * time.Millisecond,
	}
	want := map[Flavour][]string{
		Classic: {
			"--secret wharf-scanner-psk,type=env,target=SCANNER_PSK",
			"--volume wharf-scanner-cache:/var/cache/scanner",
			"ExecStart=/opt/podman/bin/podman run",
			"Restart=on-failure",
			"TimeoutStartSec=90",
			"TimeoutStopSec=62",
			"ExecStop=/opt/podman/bin/podman stop --ignore --time 2",
			"After=network-online.target\n",
		},
		Quadlet: {
			"PodmanArgs=--secret wharf-scanner-psk,type=env,target=SCANNER_PSK",
			"Volume=wharf-scanner-cache:/var/cache/scanner\n",
			"Restart=on-failure",
			"TimeoutStartSec=90",
			"PodmanArgs=--stop-timeout 2",
		},
	}
	for flavour, lines := range want {
		plan, err := Generate(Options{Flavour: flavour, UnitDir: t.TempDir(), PodmanPath: "/opt/podman/bin/podman"}, []Component{c})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Files) != 1 || len(plan.NetworkUnits) != 0 {
			t.Fatalf("%s: files %d, network units %v: want one file and no network", flavour, len(plan.Files), plan.NetworkUnits)
		}
		content := string(plan.Files[0].Content)
		for _, l := range lines {
			if !strings.Contains(content, l) {
				t.Errorf("%s: no %q in\n%s", flavour, l, content)
			}
		}
		if strings.Contains(content, "Network=") || strings.Contains(content, "--network") {
			t.Errorf("%s: mentions a network:\n%s", flavour, content)
		}
	}
}

// TestQuadletKeysKnownToPodman44 keeps the Quadlet files within the keys Quadlet
// understood in its first release, Podman 4.4 (RHEL 9.2 and 8.8 ship 4.4.1); later
// keys such as HealthCmd= or NetworkName= make 4.4 drop the unit. The lists are the
// keys of Podman v4.4.0's pkg/systemd/quadlet.
func TestQuadletKeysKnownToPodman44(t *testing.T) {
	known := map[string][]string{
		"Container": {"ContainerName", "Image", "Environment", "EnvironmentFile", "EnvironmentHost", "Exec",
			"NoNewPrivileges", "DropCapability", "AddCapability", "ReadOnly", "RemapUsers", "RemapUid", "RemapGid",
			"RemapUidSize", "Notify", "ExposeHostPort", "PublishPort", "User", "Group", "Volume", "PodmanArgs",
			"Label", "Annotation", "RunInit", "VolatileTmp", "Timezone", "SeccompProfile", "AddDevice", "Network"},
		"Network": {"DisableDNS", "Driver", "Gateway", "Internal", "IPRange", "IPAMDriver", "IPv6", "Options", "Subnet", "Label"},
	}
	cs := append(wharfComponents(), Component{
		Name: "everything", Image: "localhost/x:1", Secrets: []Secret{{Name: "s", Env: "S"}},
		EnvFiles: []string{"/etc/x.env"}, Ports: []Port{{HostIP: "::", Host: 1, Container: 1, Protocol: "udp"}},
		Health: &Health{Shell: "true", Interval: time.Second, Timeout: time.Second, StartPeriod: time.Second, Retries: 1, OnFailure: "restart"},
		User:   "1", Network: "other",
	})
	for _, rootless := range []bool{false, true} {
		plan, err := Generate(Options{Flavour: Quadlet, Rootless: rootless, UnitDir: t.TempDir()}, cs)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range plan.Files {
			opts, err := unit.DeserializeOptions(bytes.NewReader(f.Content))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range opts {
				if keys, podmanSection := known[o.Section]; podmanSection && !slices.Contains(keys, o.Name) {
					t.Errorf("%s: [%s] %s= is unknown to Podman 4.4's Quadlet", f.Name, o.Section, o.Name)
				}
			}
		}
	}
}
