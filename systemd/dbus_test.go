package systemd

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNewOnThisHost: where systemd is not the init system (this build machine) New
// fails with ErrNoSystemd and the message the installer prints; where it is (the
// test VM), New connects to it.
func TestNewOnThisHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, statErr := os.Stat("/run/systemd/system")
	bus, err := New(ctx, false)
	if statErr != nil {
		if !errors.Is(err, ErrNoSystemd) {
			t.Fatalf("New = %v, want ErrNoSystemd", err)
		}
		if !strings.Contains(err.Error(), "systemd is not running as the init system: wharf install needs a host managed by systemd") {
			t.Fatalf("message %q", err)
		}
		if _, err := New(ctx, true); !errors.Is(err, ErrNoSystemd) {
			t.Fatalf("New(rootless) = %v, want ErrNoSystemd", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("systemd runs here (%s exists) but New failed: %v", "/run/systemd/system", err)
	}
	defer bus.Close()
	st, err := bus.Status(ctx, "basic.target")
	if err != nil || st.LoadState != "loaded" {
		t.Fatalf("Status(basic.target) = %+v, %v", st, err)
	}
}

// TestConnectErrors walks the ways a connection fails on a host where systemd seems
// to run, each with the message that tells the user what to check.
func TestConnectErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	booted := t.TempDir() // exists: "systemd is the init system"
	dir := t.TempDir()

	// A socket that accepts and hangs up: not a D-Bus server.
	notBus := filepath.Join(dir, "not-a-bus")
	l, err := net.Listen("unix", notBus)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	// A real D-Bus daemon on which systemd is absent.
	realBus := startDBusDaemon(t, dir)

	tests := []struct {
		name     string
		rootless bool
		e        endpoints
		want     []string
	}{
		{
			name: "not booted with systemd",
			e:    endpoints{booted: filepath.Join(dir, "missing")},
			want: []string{"systemd is not running as the init system", "missing is missing)"},
		},
		{
			name: "no bus sockets",
			e: endpoints{booted: booted, buses: []busAddress{
				{"the system bus", "unix:path=" + filepath.Join(dir, "system_bus_socket"), true},
				{"systemd's private socket", "unix:path=" + filepath.Join(dir, "private"), false},
			}},
			want: []string{"cannot reach the system's systemd: is dbus running (`systemctl status dbus`)",
				"tried the system bus (unix:path=" + dir + "/system_bus_socket)", "tried systemd's private socket"},
		},
		{
			name: "not a D-Bus server",
			e:    endpoints{booted: booted, buses: []busAddress{{"the system bus", "unix:path=" + notBus, true}}},
			want: []string{"cannot reach the system's systemd", "tried the system bus (unix:path=" + notBus + ")"},
		},
		{
			name: "D-Bus without systemd",
			e:    endpoints{booted: booted, buses: []busAddress{{"the system bus", realBus, true}}},
			want: []string{"answers, but systemd does not", "org.freedesktop.systemd1"},
		},
		{
			name:     "rootless without a login session",
			rootless: true,
			e:        endpoints{booted: booted, runtimeDirMissing: "XDG_RUNTIME_DIR is not set"},
			want:     []string{"XDG_RUNTIME_DIR is not set"},
		},
		{
			name:     "rootless user manager missing",
			rootless: true,
			e: endpoints{booted: booted, buses: []busAddress{
				{"the user's session bus", "unix:path=" + filepath.Join(dir, "bus"), true},
			}},
			want: []string{"cannot reach the user's systemd", "loginctl enable-linger"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus, err := connect(ctx, tt.rootless, tt.e)
			if err == nil {
				bus.Close()
				t.Fatal("connected")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// TestHostEndpoints checks where New looks, from the environment.
func TestHostEndpoints(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "")
	e := hostEndpoints(false)
	if e.booted != "/run/systemd/system" || len(e.buses) == 0 || e.buses[0].address != "unix:path=/run/dbus/system_bus_socket" {
		t.Errorf("rootful endpoints %+v", e)
	}
	if os.Geteuid() == 0 && (len(e.buses) != 2 || e.buses[1].address != "unix:path=/run/systemd/private" || e.buses[1].hello) {
		t.Errorf("root should fall back to systemd's private socket: %+v", e.buses)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if e := hostEndpoints(true); !strings.Contains(e.runtimeDirMissing, "loginctl enable-linger") {
		t.Errorf("rootless without XDG_RUNTIME_DIR: %+v", e)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	e = hostEndpoints(true)
	if len(e.buses) != 2 || e.buses[0].address != "unix:path=/run/user/1000/bus" || e.buses[1].address != "unix:path=/run/user/1000/systemd/private" {
		t.Errorf("rootless endpoints %+v", e.buses)
	}
}

// TestStatusString checks the one-line summary `wharf status` prints.
func TestStatusString(t *testing.T) {
	since := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		s    UnitStatus
		want string
	}{
		{UnitStatus{Name: "wharf-registry.service", LoadState: "loaded", Active: "active", Sub: "running", Since: since, MainPID: 1234, Result: "success"},
			"wharf-registry.service: active (running) since 2024-05-01 10:00:00 UTC, pid 1234"},
		{UnitStatus{Name: "wharf-redis.service", LoadState: "loaded", Active: "activating", Sub: "auto-restart", Result: "exit-code", Restarts: 3},
			"wharf-redis.service: activating (auto-restart), last result exit-code, restarted 3 times"},
		{UnitStatus{Name: "wharf-scanner.service", LoadState: "not-found", Active: "inactive", Sub: "dead"},
			"wharf-scanner.service: not-found"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
	if !tests[0].s.Running() || tests[1].s.Running() {
		t.Error("Running is wrong")
	}
}

// TestJobErrorMessage checks that a failed job says what happened and where to look.
func TestJobErrorMessage(t *testing.T) {
	rootful := (&Bus{}).hint("wharf-registry.service")
	rootless := (&Bus{rootless: true}).hint("wharf-registry.service")
	tests := []struct {
		err  *JobError
		want string
	}{
		{&JobError{Op: "starting", Unit: "wharf-registry.service", Result: "failed", Hint: rootful},
			"starting wharf-registry.service: the unit failed; see `systemctl status wharf-registry.service` and `journalctl -u wharf-registry.service -e`"},
		{&JobError{Op: "starting", Unit: "wharf-registry.service", Result: "dependency", Hint: rootless},
			"starting wharf-registry.service: a unit it requires failed; see `systemctl --user status wharf-registry.service` and `journalctl --user -u wharf-registry.service -e`"},
		{&JobError{Op: "stopping", Unit: "x.service", Result: "timeout", Hint: "h"}, "stopping x.service: it did not finish within the unit's timeout; h"},
		{&JobError{Op: "restarting", Unit: "x.service", Hint: "h"}, "restarting x.service: systemd reported no result in time; h"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// startDBusDaemon runs a private D-Bus session daemon and returns its address.
func startDBusDaemon(t *testing.T, dir string) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Fatal("dbus-daemon is not installed: run scripts/deps.sh (Debian package dbus-daemon)")
	}
	// A bus of its own with no service activation, so nothing answers for systemd.
	config := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(config, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "session_bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+config, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestConnectTimeout: a socket that accepts and then says nothing must not hang
// the installer; the context's deadline ends the wait.
func TestConnectTimeout(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "silent")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // never answered; closed once the listener is
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = connect(ctx, false, endpoints{booted: t.TempDir(), buses: []busAddress{{"the system bus", "unix:path=" + socket, true}}})
	if err == nil || !strings.Contains(err.Error(), "no answer: context deadline exceeded") {
		t.Fatalf("connect = %v, want a timeout", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("connect took %s after a 500ms deadline", waited)
	}
}
