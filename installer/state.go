package installer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/wharf-registry/wharf/internal/atomicfile"
)

// StateFormat is the version of install.json's layout.
const StateFormat = 1

// State is what an installation is: install.json in the config directory. `wharf status`,
// `upgrade` and `uninstall` read it; install writes it last, once everything runs.
type State struct {
	Format int `json:"format"`
	// Version is the wharf version installed.
	Version string `json:"version"`
	// Images are the image references each component runs, by component name.
	Images map[string]string `json:"images"`
	// Previous holds the version and images before the last upgrade (empty before one).
	PreviousVersion string            `json:"previous_version,omitempty"`
	PreviousImages  map[string]string `json:"previous_images,omitempty"`
	// Hostname and Port are what clients use: https://HOSTNAME:PORT.
	Hostname string `json:"hostname"`
	Port     int    `json:"port"`
	// Rootless, Flavour and UnitDir say which units were written where.
	Rootless bool   `json:"rootless"`
	Flavour  string `json:"flavour"`
	UnitDir  string `json:"unit_dir"`
	// ConfigDir and DataDir are the layout's roots.
	ConfigDir string `json:"config_dir"`
	DataDir   string `json:"data_dir"`
	// CACert is the CA certificate clients trust, when the installer made the certificate.
	CACert string `json:"ca_cert,omitempty"`
	// InitUser is the first user, made by the installer; empty when none was.
	InitUser string `json:"init_user,omitempty"`
	// Units are the services in start order.
	Units []string `json:"units"`
	// Installed and Updated are when install and the last upgrade finished.
	Installed time.Time `json:"installed"`
	Updated   time.Time `json:"updated"`
}

// Layout returns the layout the state records.
func (s *State) Layout() Layout {
	return Layout{Rootless: s.Rootless, ConfigDir: s.ConfigDir, DataDir: s.DataDir}
}

// URL is the registry's address for clients.
func (s *State) URL() string { return fmt.Sprintf("https://%s:%d", s.Hostname, s.Port) }

// ErrNotInstalled means no install.json was found.
var ErrNotInstalled = errors.New("wharf is not installed here")

// ReadState reads install.json from the layout's config directory; ErrNotInstalled (wrapped)
// when there is none.
func ReadState(l Layout) (*State, error) {
	data, err := os.ReadFile(l.StateFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s): run `wharf install` first%s", ErrNotInstalled, l.StateFile(), userHint(l.Rootless))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the installation's state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): restore it from a backup, or run `wharf uninstall` and install again", l.StateFile(), err)
	}
	if s.Format != StateFormat {
		return nil, fmt.Errorf("%s has format %d, this wharf reads format %d: use the wharf binary that installed it", l.StateFile(), s.Format, StateFormat)
	}
	return &s, nil
}

// Write saves the state atomically (mode 0600).
func (s *State) Write() error {
	s.Format = StateFormat
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the installation's state: %w", err)
	}
	if err := os.MkdirAll(s.ConfigDir, 0o700); err != nil {
		return fmt.Errorf("writing the installation's state: %w", err)
	}
	return atomicfile.WriteFile(s.Layout().StateFile(), append(data, '\n'), 0o600)
}

func userHint(rootless bool) string {
	if rootless {
		return ""
	}
	return " (or add --user for a rootless installation)"
}
