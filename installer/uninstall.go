package installer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/wharf-registry/wharf/systemd"
)

// UninstallOptions say what `wharf uninstall` removes.
type UninstallOptions struct {
	Layout Layout
	// Purge also deletes the config and data directories (every image pushed, the
	// database, the CA); Yes skips the confirmation Purge asks for on In.
	Purge, Yes bool
	In         io.Reader
	Out        io.Writer
}

// ErrAborted means the user did not confirm.
var ErrAborted = errors.New("aborted: nothing was changed")

// Uninstall stops and removes the units, containers, network and images; it keeps the
// config and data directories unless Purge, so that installing again finds the registry's
// content as it was.
func Uninstall(ctx context.Context, opts UninstallOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	st, err := ReadState(opts.Layout)
	if errors.Is(err, ErrNotInstalled) {
		fmt.Fprintf(out, "wharf is not installed here (no %s): nothing to do\n", opts.Layout.StateFile())
		return nil
	}
	if err != nil {
		return err
	}
	l := st.Layout()
	if opts.Purge && !opts.Yes {
		fmt.Fprintf(out, "This deletes %s and %s: every image pushed to %s, its database, its users and its CA.\nType yes to go on: ", l.DataDir, l.ConfigDir, st.URL())
		line, _ := bufio.NewReader(opts.In).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return ErrAborted
		}
	}
	mgr, err := systemd.New(ctx, st.Rootless)
	if err != nil {
		return err
	}
	defer mgr.Close()
	plan, err := unitPlan(st)
	if err != nil {
		return err
	}
	for _, u := range slices.Backward(append(slices.Clone(plan.Units), plan.NetworkUnits...)) {
		fmt.Fprintf(out, "stopping %s\n", u)
		if err := mgr.Stop(ctx, u); err != nil {
			return err
		}
	}
	if err := mgr.Disable(ctx, plan.Units...); err != nil {
		return err
	}
	removed, err := plan.Remove()
	for _, r := range removed {
		fmt.Fprintf(out, "removed %s/%s\n", plan.Dir, r)
	}
	if err != nil {
		return err
	}
	if err := mgr.DaemonReload(ctx); err != nil {
		return err
	}
	podman, err := ConnectPodman(ctx, st.Rootless, mgr)
	if err != nil {
		return err
	}
	names, err := podman.RemoveContainers()
	for _, n := range names {
		fmt.Fprintf(out, "removed container %s\n", n)
	}
	if err != nil {
		return err
	}
	if ok, err := podman.RemoveNetwork(systemd.PodmanNetworkName(networkName)); err != nil {
		return err
	} else if ok {
		fmt.Fprintf(out, "removed network %s\n", systemd.PodmanNetworkName(networkName))
	}
	refs := slices.Sorted(maps.Values(st.Images))
	for _, r := range st.PreviousImages {
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	if err := podman.RemoveImages(refs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "removed images %s\n", strings.Join(refs, ", "))
	if err := os.Remove(l.StateFile()); err != nil {
		return fmt.Errorf("removing %s: %w", l.StateFile(), err)
	}
	if !opts.Purge {
		fmt.Fprintf(out, "wharf %s is uninstalled; kept %s and %s (install again to find everything as it was, or uninstall --purge to delete them)\n", st.Version, l.ConfigDir, l.DataDir)
		return nil
	}
	h := files{rootless: st.Rootless}
	for _, d := range []string{l.DataDir, l.ConfigDir} {
		if err := h.removeTree(ctx, d); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted %s\n", d)
	}
	fmt.Fprintf(out, "wharf %s is uninstalled and its data deleted\n", st.Version)
	return nil
}
