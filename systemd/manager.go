package systemd

import (
	"context"
	"fmt"
	"time"
)

// Manager drives systemd units: the operations `wharf install`, `upgrade`, `status`
// and `uninstall` need. Bus implements it over D-Bus.
type Manager interface {
	// DaemonReload makes systemd (and the Quadlet generator) read the unit files again.
	DaemonReload(ctx context.Context) error
	// Enable makes units start at boot. Units that Quadlet generated are enabled by
	// the [Install] section of their Quadlet file and are left as they are.
	Enable(ctx context.Context, units ...string) error
	// Disable undoes Enable.
	Disable(ctx context.Context, units ...string) error
	// Start starts a unit and waits until its start job has finished.
	Start(ctx context.Context, unit string) error
	// Stop stops a unit and waits until its stop job has finished.
	Stop(ctx context.Context, unit string) error
	// Restart restarts a unit and waits until its restart job has finished.
	Restart(ctx context.Context, unit string) error
	// Status reports a unit's state; a unit systemd does not know has LoadState
	// "not-found" and no error.
	Status(ctx context.Context, unit string) (UnitStatus, error)
	// Close ends the connection.
	Close() error
}

// UnitStatus is what systemd says about one unit, as `systemctl status` shows it.
type UnitStatus struct {
	// Name is the unit's name, e.g. "wharf-registry.service".
	Name string
	// Description is the unit's Description=.
	Description string
	// LoadState is "loaded", "not-found", "masked", "error", ...
	LoadState string
	// Active is the ActiveState: "active", "inactive", "activating", "deactivating",
	// "failed", ...
	Active string
	// Sub is the SubState: for a service "running", "dead", "auto-restart", "failed", ...
	Sub string
	// Since is when the unit entered its current Active state; zero if never.
	Since time.Time
	// UnitFileState is "enabled", "disabled", "generated" (Quadlet), "static", ...
	UnitFileState string
	// MainPID is the service's main process (conmon for Wharf's containers); 0 if none.
	MainPID uint32
	// Result is the service's last result: "success", "exit-code", "timeout", ...
	Result string
	// Restarts counts automatic restarts since the unit was last started by hand.
	Restarts uint32
}

// Running reports whether the unit is active and its process running.
func (s UnitStatus) Running() bool {
	return s.Active == "active" && s.Sub == "running"
}

// String summarises the status in one line, e.g.
// "wharf-registry.service: active (running) since 2024-05-01 10:00:00 UTC, pid 1234".
func (s UnitStatus) String() string {
	if s.LoadState != "" && s.LoadState != "loaded" {
		return fmt.Sprintf("%s: %s", s.Name, s.LoadState)
	}
	line := fmt.Sprintf("%s: %s (%s)", s.Name, s.Active, s.Sub)
	if !s.Since.IsZero() {
		line += " since " + s.Since.UTC().Format("2006-01-02 15:04:05 MST")
	}
	if s.MainPID != 0 {
		line += fmt.Sprintf(", pid %d", s.MainPID)
	}
	if s.Result != "" && s.Result != "success" {
		line += ", last result " + s.Result
	}
	if s.Restarts > 0 {
		line += fmt.Sprintf(", restarted %d times", s.Restarts)
	}
	return line
}
