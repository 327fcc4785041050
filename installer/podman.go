package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"

	"github.com/wharf-registry/wharf/systemd"
)

// ComponentLabel is the label every container of an installation carries, with the
// component's name as its value (the units set it).
const ComponentLabel = "wharf.component"

// Podman is the host's Podman, driven through its Go bindings over the Podman API socket:
// the installer loads, pulls, inspects and removes images and containers with it.
type Podman struct {
	conn   context.Context
	Socket string
}

// PodmanSocket is where the Podman API listens: /run/podman/podman.sock for root,
// $XDG_RUNTIME_DIR/podman/podman.sock for a user.
func PodmanSocket(rootless bool) (string, error) {
	if !rootless {
		return "/run/podman/podman.sock", nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return "", errors.New("XDG_RUNTIME_DIR is not set, so the user's Podman socket cannot be found: log in as the user directly (ssh, or machinectl shell USER@), not with su or sudo")
	}
	return filepath.Join(dir, "podman", "podman.sock"), nil
}

// ConnectPodman connects to the Podman API, first starting podman.socket through systemd
// when the socket is not there (Debian and RHEL ship the socket unit, not enabled).
func ConnectPodman(ctx context.Context, rootless bool, mgr systemd.Manager) (*Podman, error) {
	sock, err := PodmanSocket(rootless)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(sock); err != nil {
		if err := mgr.Start(ctx, "podman.socket"); err != nil {
			return nil, fmt.Errorf("starting the Podman API socket (podman.socket): %w", err)
		}
	}
	conn, err := bindings.NewConnection(ctx, "unix://"+sock)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Podman API at %s: %w (check `systemctl%s status podman.socket`)", sock, err, userFlag(rootless))
	}
	return &Podman{conn: conn, Socket: sock}, nil
}

func userFlag(rootless bool) string {
	if rootless {
		return " --user"
	}
	return ""
}

// Load loads a docker-archive (what `podman load` reads) and returns the names it holds.
func (p *Podman) Load(r io.Reader) ([]string, error) {
	rep, err := images.Load(p.conn, r)
	if err != nil {
		return nil, fmt.Errorf("podman load: %w", err)
	}
	return rep.Names, nil
}

// Pull pulls an image from its registry.
func (p *Podman) Pull(ref string, progress io.Writer) error {
	opts := new(images.PullOptions).WithQuiet(progress == nil)
	if progress != nil {
		opts = opts.WithProgressWriter(progress)
	}
	if _, err := images.Pull(p.conn, ref, opts); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// ImageID returns the ID of the image ref names, or "" when Podman has no such image.
func (p *Podman) ImageID(ref string) (string, error) {
	ok, err := images.Exists(p.conn, ref, nil)
	if err != nil {
		return "", fmt.Errorf("looking up image %s: %w", ref, err)
	}
	if !ok {
		return "", nil
	}
	img, err := images.GetImage(p.conn, ref, nil)
	if err != nil {
		return "", fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	return img.ID, nil
}

// RemoveImages removes images by reference; ones already gone are fine.
func (p *Podman) RemoveImages(refs ...string) error {
	var keep []string
	for _, r := range refs {
		if id, err := p.ImageID(r); err != nil {
			return err
		} else if id != "" {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if _, errs := images.Remove(p.conn, keep, new(images.RemoveOptions).WithForce(true)); len(errs) > 0 {
		return fmt.Errorf("removing images: %w", errors.Join(errs...))
	}
	return nil
}

// Container is what the installer needs to know of one of its containers.
type Container struct {
	Name, Component, Image, ImageID, State, Health string
}

// Containers lists the installation's containers (those with ComponentLabel), running or
// not.
func (p *Podman) Containers() ([]Container, error) {
	list, err := containers.List(p.conn, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"label": {ComponentLabel}}))
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []Container
	for _, c := range list {
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		ct := Container{Name: name, Component: c.Labels[ComponentLabel], Image: c.Image, ImageID: c.ImageID, State: c.State}
		if data, err := containers.Inspect(p.conn, c.ID, nil); err == nil && data.State != nil && data.State.Health != nil {
			ct.Health = data.State.Health.Status
		}
		out = append(out, ct)
	}
	return out, nil
}

// RemoveContainers force-removes the installation's containers; it returns their names.
func (p *Podman) RemoveContainers() ([]string, error) {
	list, err := p.Containers()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range list {
		if _, err := containers.Remove(p.conn, c.Name, new(containers.RemoveOptions).WithForce(true).WithIgnore(true)); err != nil {
			return names, fmt.Errorf("removing container %s: %w", c.Name, err)
		}
		names = append(names, c.Name)
	}
	return names, nil
}

// RemoveNetwork removes a Podman network; one already gone is fine.
func (p *Podman) RemoveNetwork(name string) (bool, error) {
	ok, err := network.Exists(p.conn, name, nil)
	if err != nil {
		return false, fmt.Errorf("looking up network %s: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	if _, err := network.Remove(p.conn, name, new(network.RemoveOptions).WithForce(true)); err != nil {
		return false, fmt.Errorf("removing network %s: %w", name, err)
	}
	return true, nil
}
