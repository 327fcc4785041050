// Package server assembles the registry from its configuration: the metadata store, blob
// storage, authentication, the OCI API, the REST API, health checks and background workers,
// behind one HTTP server with graceful shutdown.
package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/wharf-registry/wharf/schema"
)

// DefaultDataDir is where the embedded default keeps everything.
const DefaultDataDir = "wharf-data"

// DefaultListen is the address the embedded default listens on.
const DefaultListen = "127.0.0.1:8080"

// LoadConfig reads config.yaml from configDir. Without a config directory, or without a
// config.yaml in it, it returns the embedded default (SQLite and local disk in the data
// directory) with SERVER_HOSTNAME taken from the listen address.
func LoadConfig(configDir, listen string) (*schema.Config, bool, error) {
	if configDir != "" {
		cfg, err := schema.Load(configDir)
		if err == nil {
			return cfg, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		if _, statErr := os.Stat(configDir); statErr != nil {
			return nil, false, fmt.Errorf("config directory %s: %w", configDir, statErr)
		}
	}
	cfg := schema.Default()
	cfg.ServerHostname = hostnameFor(listen)
	return cfg, false, nil
}

// hostnameFor turns a listen address into the host name clients use: 0.0.0.0 and :: become
// localhost.
func hostnameFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "127.0.0.1" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// ResolveDataDir makes the data directory absolute and creates it.
func ResolveDataDir(dir string) (string, error) {
	if dir == "" {
		dir = DefaultDataDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return "", fmt.Errorf("create data directory %s: %w", abs, err)
	}
	return abs, nil
}
