package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// ErrNoSystemd means the host does not run systemd as its init system.
var ErrNoSystemd = errors.New("systemd is not running as the init system: wharf install needs a host managed by systemd")

// DefaultJobTimeout bounds how long Bus waits for a start, stop or restart job.
// systemd fails a start itself after the unit's TimeoutStartSec (5 minutes by
// default), so this only guards against a job whose end is never reported.
const DefaultJobTimeout = 10 * time.Minute

// Bus is a Manager that talks to systemd over D-Bus: the system instance for root,
// the user's instance (`systemd --user`) for rootless installs.
type Bus struct {
	conn     *sddbus.Conn
	rootless bool
	// JobTimeout bounds each Start, Stop and Restart; DefaultJobTimeout when zero.
	JobTimeout time.Duration
}

var _ Manager = (*Bus)(nil)

// New connects to systemd: the system instance, or the calling user's instance when
// rootless. ctx bounds connecting; the connection lasts until Close. It returns an error wrapping ErrNoSystemd on a host without systemd, and
// an error saying what to check when systemd runs but cannot be reached.
func New(ctx context.Context, rootless bool) (*Bus, error) {
	return connect(ctx, rootless, hostEndpoints(rootless))
}

// endpoints are the places New looks for systemd.
type endpoints struct {
	// booted exists when systemd is the init system (sd_booted(3)).
	booted string
	// runtimeDirMissing, when set, is why a rootless connection is impossible.
	runtimeDirMissing string
	// buses are tried in order.
	buses []busAddress
}

// busAddress is one D-Bus address systemd may answer on.
type busAddress struct {
	what    string // for messages: "the system bus"
	address string // D-Bus address, "unix:path=..."
	hello   bool   // a bus daemon (Hello needed), not systemd's private socket
}

func hostEndpoints(rootless bool) endpoints {
	e := endpoints{booted: "/run/systemd/system"}
	if !rootless {
		system := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
		if system == "" {
			system = "unix:path=/run/dbus/system_bus_socket"
		}
		e.buses = append(e.buses, busAddress{"the system bus", system, true})
		if os.Geteuid() == 0 {
			// systemd's own socket works when no D-Bus daemon is installed.
			e.buses = append(e.buses, busAddress{"systemd's private socket", "unix:path=/run/systemd/private", false})
		}
		return e
	}
	runtime := os.Getenv("XDG_RUNTIME_DIR")
	if runtime == "" {
		e.runtimeDirMissing = "XDG_RUNTIME_DIR is not set, so the user's systemd cannot be found: " +
			"log in as the user directly (ssh or `machinectl shell USER@`, not su or sudo), " +
			"and run `loginctl enable-linger USER` so the user's units run without a login"
		return e
	}
	if session := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); session != "" {
		e.buses = append(e.buses, busAddress{"the user's session bus", session, true})
	} else {
		e.buses = append(e.buses, busAddress{"the user's session bus", "unix:path=" + filepath.Join(runtime, "bus"), true})
	}
	e.buses = append(e.buses, busAddress{"the user manager's private socket", "unix:path=" + filepath.Join(runtime, "systemd", "private"), false})
	return e
}

func connect(ctx context.Context, rootless bool, e endpoints) (*Bus, error) {
	if _, err := os.Stat(e.booted); err != nil {
		return nil, fmt.Errorf("%w (%s is missing)", ErrNoSystemd, e.booted)
	}
	if e.runtimeDirMissing != "" {
		return nil, errors.New(e.runtimeDirMissing)
	}
	var tried []string
	for _, b := range e.buses {
		conn, err := newConnection(ctx, b)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%s): %v", b.what, b.address, err))
			continue
		}
		// A bus can answer without systemd on it; ask systemd something.
		if _, err := conn.SystemStateContext(ctx); err != nil {
			conn.Close()
			tried = append(tried, fmt.Sprintf("%s (%s) answers, but systemd does not: %v", b.what, b.address, err))
			continue
		}
		return &Bus{conn: conn, rootless: rootless}, nil
	}
	what := "the system's systemd: is dbus running (`systemctl status dbus`), and are you root?"
	if rootless {
		what = "the user's systemd: is `systemctl --user status` working for this user? " +
			"Run `loginctl enable-linger USER` and log in again"
	}
	return nil, fmt.Errorf("cannot reach %s\n  tried %s", what, strings.Join(tried, "\n  tried "))
}

// newConnection connects go-systemd to one address. ctx bounds the handshake only:
// the connection lives until Close.
func newConnection(ctx context.Context, b busAddress) (*sddbus.Conn, error) {
	type result struct {
		conn *sddbus.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := sddbus.NewConnection(func() (*dbus.Conn, error) { return dial(b) })
		done <- result{conn, err}
	}()
	select {
	case r := <-done:
		return r.conn, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// dial opens and authenticates one D-Bus connection.
func dial(b busAddress) (*dbus.Conn, error) {
	conn, err := dbus.Dial(b.address)
	if err != nil {
		return nil, err
	}
	// EXTERNAL authentication by numeric uid needs no user database lookup.
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if b.hello {
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// Close ends the connection.
func (b *Bus) Close() error {
	b.conn.Close()
	return nil
}

// DaemonReload makes systemd read the unit files again (and run the Quadlet
// generator), like `systemctl daemon-reload`.
func (b *Bus) DaemonReload(ctx context.Context) error {
	if err := b.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("%s daemon-reload: %w", b.systemctl(), err)
	}
	return nil
}

// Enable enables the units that need it, like `systemctl enable`; units generated by
// Quadlet and units already enabled are skipped.
func (b *Bus) Enable(ctx context.Context, units ...string) error {
	var todo []string
	for _, u := range units {
		state, err := b.unitFileState(ctx, u)
		if err != nil {
			return err
		}
		switch state {
		case "generated", "transient", "enabled", "static":
			continue
		}
		todo = append(todo, u)
	}
	if len(todo) == 0 {
		return nil
	}
	if _, _, err := b.conn.EnableUnitFilesContext(ctx, todo, false, true); err != nil {
		return fmt.Errorf("%s enable %s: %w", b.systemctl(), strings.Join(todo, " "), err)
	}
	return b.DaemonReload(ctx)
}

// Disable disables the units that are enabled, like `systemctl disable`; units
// generated by Quadlet are skipped (removing their Quadlet file disables them).
func (b *Bus) Disable(ctx context.Context, units ...string) error {
	var todo []string
	for _, u := range units {
		state, err := b.unitFileState(ctx, u)
		if err != nil {
			return err
		}
		if state == "enabled" || state == "enabled-runtime" || state == "linked" {
			todo = append(todo, u)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if _, err := b.conn.DisableUnitFilesContext(ctx, todo, false); err != nil {
		return fmt.Errorf("%s disable %s: %w", b.systemctl(), strings.Join(todo, " "), err)
	}
	return b.DaemonReload(ctx)
}

// Start starts the unit and waits for the result.
func (b *Bus) Start(ctx context.Context, unit string) error {
	return b.job(ctx, "starting", unit, b.conn.StartUnitContext)
}

// Stop stops the unit and waits for the result. Stopping a unit systemd does not
// know is not an error: there is nothing to stop.
func (b *Bus) Stop(ctx context.Context, unit string) error {
	err := b.job(ctx, "stopping", unit, b.conn.StopUnitContext)
	var dbusErr dbus.Error
	if errors.As(err, &dbusErr) && dbusErr.Name == "org.freedesktop.systemd1.NoSuchUnit" {
		return nil
	}
	return err
}

// Restart restarts the unit (starting it if stopped) and waits for the result.
func (b *Bus) Restart(ctx context.Context, unit string) error {
	return b.job(ctx, "restarting", unit, b.conn.RestartUnitContext)
}

// JobError is a start, stop or restart that systemd did not complete.
type JobError struct {
	// Op is "starting", "stopping" or "restarting".
	Op string
	// Unit is the unit's name.
	Unit string
	// Result is systemd's job result: "failed", "timeout", "dependency", "canceled",
	// "skipped", or "" when no result came before the wait ended.
	Result string
	// Hint says where to look next.
	Hint string
}

func (e *JobError) Error() string {
	var why string
	switch e.Result {
	case "":
		why = "systemd reported no result in time"
	case "failed":
		why = "the unit failed"
	case "timeout":
		why = "it did not finish within the unit's timeout"
	case "dependency":
		why = "a unit it requires failed"
	case "canceled":
		why = "the job was canceled by another start or stop"
	default:
		why = "job result " + strconv.Quote(e.Result)
	}
	return fmt.Sprintf("%s %s: %s; %s", e.Op, e.Unit, why, e.Hint)
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// job queues a job and waits for its result.
func (b *Bus) job(ctx context.Context, op, unit string, start jobFunc) error {
	timeout := b.JobTimeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Buffered: go-systemd sends the result while holding its lock, and nobody may
	// be reading any more if the wait below has given up.
	result := make(chan string, 1)
	if _, err := start(ctx, unit, "replace", result); err != nil {
		return fmt.Errorf("%s %s: %w; %s", op, unit, err, b.hint(unit))
	}
	select {
	case r := <-result:
		if r == "done" {
			return nil
		}
		return &JobError{Op: op, Unit: unit, Result: r, Hint: b.hint(unit)}
	case <-ctx.Done():
		return &JobError{Op: op, Unit: unit, Hint: b.hint(unit) + " (" + ctx.Err().Error() + ")"}
	}
}

// Status reports the unit's state.
func (b *Bus) Status(ctx context.Context, unit string) (UnitStatus, error) {
	props, err := b.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return UnitStatus{}, fmt.Errorf("status of %s: %w; %s", unit, err, b.hint(unit))
	}
	s := UnitStatus{
		Name:          unit,
		Description:   str(props["Description"]),
		LoadState:     str(props["LoadState"]),
		Active:        str(props["ActiveState"]),
		Sub:           str(props["SubState"]),
		UnitFileState: str(props["UnitFileState"]),
	}
	if usec, ok := props["StateChangeTimestamp"].(uint64); ok && usec > 0 {
		s.Since = time.UnixMicro(int64(usec))
	}
	if !strings.HasSuffix(unit, ".service") || s.LoadState != "loaded" {
		return s, nil
	}
	svc, err := b.conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		return s, fmt.Errorf("status of %s: %w; %s", unit, err, b.hint(unit))
	}
	s.MainPID, _ = svc["MainPID"].(uint32)
	s.Result = str(svc["Result"])
	s.Restarts, _ = svc["NRestarts"].(uint32)
	return s, nil
}

// unitFileState reads the unit's UnitFileState ("enabled", "generated", ...).
func (b *Bus) unitFileState(ctx context.Context, unit string) (string, error) {
	p, err := b.conn.GetUnitPropertyContext(ctx, unit, "UnitFileState")
	if err != nil {
		return "", fmt.Errorf("reading the state of %s: %w (did daemon-reload run after its file was written?)", unit, err)
	}
	return str(p.Value.Value()), nil
}

// systemctl is the command line a user would type for the same manager.
func (b *Bus) systemctl() string {
	if b.rootless {
		return "systemctl --user"
	}
	return "systemctl"
}

// hint says where a user finds out more about a unit.
func (b *Bus) hint(unit string) string {
	journal := "journalctl -u " + unit + " -e"
	if b.rootless {
		journal = "journalctl --user -u " + unit + " -e"
	}
	return fmt.Sprintf("see `%s status %s` and `%s`", b.systemctl(), unit, journal)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
