package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/systemd"
)

// UpgradeOptions say what `wharf upgrade` moves to.
type UpgradeOptions struct {
	Layout Layout
	// Bundle holds the new version's images.
	Bundle string
	// HealthTimeout bounds the wait for the new version to answer (default 10 minutes);
	// past it the upgrade rolls back.
	HealthTimeout time.Duration
	Out           io.Writer
	Progress      airgap.Progress
}

// ErrRolledBack means the upgrade failed and the previous version runs again.
var ErrRolledBack = errors.New("rolled back")

// Upgrade moves the installation to the bundle's version: it loads the new images, keeps a
// copy of the database, restarts the components in order on the new images (the registry
// migrates the database once, under a lock, as it starts) and waits for health. If health
// does not return, it puts back the previous images and the database copy, restarts, and
// returns an error wrapping ErrRolledBack.
func Upgrade(ctx context.Context, opts UpgradeOptions) (*State, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = airgap.NewProgress(io.Discard)
	}
	if opts.HealthTimeout == 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}
	old, err := ReadState(opts.Layout)
	if err != nil {
		return nil, err
	}
	src, err := openBundle(ctx, opts.Bundle, opts.Progress, out)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if src.version == old.Version && maps.Equal(src.refs, old.Images) {
		fmt.Fprintf(out, "wharf %s is installed already: nothing to upgrade\n", old.Version)
		return old, nil
	}
	mgr, err := systemd.New(ctx, old.Rootless)
	if err != nil {
		return nil, err
	}
	defer mgr.Close()
	podman, err := ConnectPodman(ctx, old.Rootless, mgr)
	if err != nil {
		return nil, err
	}
	loaded, err := loadImages(ctx, podman, src, out)
	if err != nil {
		return nil, errors.Join(err, removeLoaded(podman, loaded, old))
	}

	next := *old
	next.Version, next.Images = src.version, src.refs
	next.PreviousVersion, next.PreviousImages = old.Version, old.Images
	next.Updated = time.Now().UTC()

	l := old.Layout()
	h := files{rootless: old.Rootless}
	backup := filepath.Join(l.BackupDir(), "postgres-"+old.Version)
	fmt.Fprintf(out, "stopping wharf %s\n", old.Version)
	if err := stopAll(ctx, mgr, old.Units); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "copying the database to %s\n", backup)
	if err := os.MkdirAll(l.BackupDir(), 0o700); err != nil {
		return nil, err
	}
	if err := h.removeTree(ctx, backup); err != nil {
		return nil, err
	}
	if err := h.copyTree(ctx, l.DataPath("postgres"), backup); err != nil {
		return nil, errors.Join(err, restart(ctx, mgr, old, out))
	}

	upErr := switchTo(ctx, mgr, &next, opts.HealthTimeout, out)
	if upErr == nil {
		if err := next.Write(); err != nil {
			return nil, err
		}
		if err := h.removeTree(ctx, backup); err != nil {
			fmt.Fprintf(out, "warning: %v\n", err)
		}
		fmt.Fprintf(out, "upgraded from %s to %s; %s stays loaded for a manual rollback\n", old.Version, next.Version, old.Images["registry"])
		return &next, nil
	}

	fmt.Fprintf(out, "upgrade to %s failed: %v\nrolling back to %s\n", next.Version, upErr, old.Version)
	if err := stopAll(ctx, mgr, next.Units); err != nil {
		return nil, fmt.Errorf("upgrade to %s failed (%v) and stopping it failed too: %w; the database copy is in %s", next.Version, upErr, err, backup)
	}
	failed := filepath.Join(l.BackupDir(), "postgres-failed-"+next.Version)
	if err := h.removeTree(ctx, failed); err != nil {
		return nil, err
	}
	if err := h.move(ctx, l.DataPath("postgres"), failed); err != nil {
		return nil, fmt.Errorf("upgrade to %s failed (%v); restoring the database: %w; the copy is in %s", next.Version, upErr, err, backup)
	}
	if err := h.move(ctx, backup, l.DataPath("postgres")); err != nil {
		return nil, fmt.Errorf("upgrade to %s failed (%v); restoring the database: %w; the copy is in %s", next.Version, upErr, err, backup)
	}
	if err := switchTo(ctx, mgr, old, opts.HealthTimeout, out); err != nil {
		return nil, fmt.Errorf("upgrade to %s failed (%v), and %s did not come back either: %w; see `journalctl%s -u wharf-registry`", next.Version, upErr, old.Version, err, userFlag(old.Rootless))
	}
	if err := h.removeTree(ctx, failed); err != nil {
		fmt.Fprintf(out, "warning: %v\n", err)
	}
	if err := removeLoaded(podman, loaded, old); err != nil {
		fmt.Fprintf(out, "warning: %v\n", err)
	}
	fmt.Fprintf(out, "rolled back: wharf %s runs as before\n", old.Version)
	return old, fmt.Errorf("upgrade to %s failed: %v; %w to %s, which is healthy (see `journalctl%s -u wharf-registry` for what went wrong)",
		next.Version, upErr, ErrRolledBack, old.Version, userFlag(old.Rootless))
}

// switchTo writes the state's units, starts them in order and waits for health.
func switchTo(ctx context.Context, mgr systemd.Manager, st *State, timeout time.Duration, out io.Writer) error {
	plan, err := unitPlan(st)
	if err != nil {
		return err
	}
	written, err := plan.Write()
	if err != nil {
		return err
	}
	for _, w := range written {
		fmt.Fprintf(out, "wrote %s\n", filepath.Join(plan.Dir, w))
	}
	if err := startUnits(ctx, mgr, plan, true, out); err != nil {
		return err
	}
	return waitHealthy(ctx, st, timeout, out, registryFailing(mgr))
}

// restart starts the state's units again after a failed step that changed nothing else.
func restart(ctx context.Context, mgr systemd.Manager, st *State, out io.Writer) error {
	plan, err := unitPlan(st)
	if err != nil {
		return err
	}
	return startUnits(ctx, mgr, plan, false, out)
}

// stopAll stops units in the reverse of their start order.
func stopAll(ctx context.Context, mgr systemd.Manager, units []string) error {
	for _, u := range slices.Backward(units) {
		if err := mgr.Stop(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// removeLoaded removes images an upgrade loaded that the installed state does not use.
func removeLoaded(p *Podman, loaded []string, keep *State) error {
	var drop []string
	for _, r := range loaded {
		if !slices.Contains(slices.Collect(maps.Values(keep.Images)), r) {
			drop = append(drop, r)
		}
	}
	return p.RemoveImages(drop...)
}
