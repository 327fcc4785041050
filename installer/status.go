package installer

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wharf-registry/wharf/systemd"
)

// Status is what `wharf status` shows: the installation, each unit's state and image, and
// the registry's health.
type Status struct {
	State      *State                `json:"installation"`
	Units      []systemd.UnitStatus  `json:"units"`
	Containers map[string]*Container `json:"containers"`
	// Health is "" when the registry answers healthy, else why not.
	Health string `json:"health_error,omitempty"`
}

// Healthy reports whether every unit runs and the registry answers.
func (s *Status) Healthy() bool {
	for _, u := range s.Units {
		if !u.Running() {
			return false
		}
	}
	return s.Health == ""
}

// GetStatus asks systemd, Podman and the registry about the installation.
func GetStatus(ctx context.Context, l Layout) (*Status, error) {
	st, err := ReadState(l)
	if err != nil {
		return nil, err
	}
	mgr, err := systemd.New(ctx, st.Rootless)
	if err != nil {
		return nil, err
	}
	defer mgr.Close()
	s := &Status{State: st, Containers: map[string]*Container{}}
	for _, u := range st.Units {
		us, err := mgr.Status(ctx, u)
		if err != nil {
			return nil, err
		}
		s.Units = append(s.Units, us)
	}
	podman, err := ConnectPodman(ctx, st.Rootless, mgr)
	if err != nil {
		return nil, err
	}
	list, err := podman.Containers()
	if err != nil {
		return nil, err
	}
	for i := range list {
		s.Containers[list[i].Component] = &list[i]
	}
	if err := checkHealth(ctx, st); err != nil {
		s.Health = err.Error()
	}
	return s, nil
}

// Print writes the status for people.
func (s *Status) Print(w io.Writer) {
	st := s.State
	fmt.Fprintf(w, "wharf %s at %s (%s units, %s)\n", st.Version, st.URL(), st.Flavour, map[bool]string{false: "root", true: "rootless"}[st.Rootless])
	for _, u := range s.Units {
		comp := strings.TrimSuffix(strings.TrimPrefix(u.Name, systemd.Prefix), ".service")
		line := u.String()
		if c := s.Containers[comp]; c != nil {
			line += ", image " + c.Image
			if c.Health != "" {
				line += ", " + c.Health
			}
		} else {
			line += ", no container"
		}
		fmt.Fprintln(w, "  "+line)
	}
	if s.Health == "" {
		fmt.Fprintf(w, "registry: healthy (%s answers)\n", HealthPath)
	} else {
		fmt.Fprintf(w, "registry: NOT healthy: %s\n", s.Health)
	}
	if st.PreviousVersion != "" {
		fmt.Fprintf(w, "previous version: %s\n", st.PreviousVersion)
	}
}
