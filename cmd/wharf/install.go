package main

import (
	"encoding/json"
	"errors"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/installer"
)

// exitError carries a process exit code other than 1 up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func installCommand() *cobra.Command {
	var opts installer.InstallOptions
	var rootless bool
	var dataDir string
	cmd := &cobra.Command{
		Use:   "install [--bundle FILE] [--hostname NAME] [--port PORT] [--user]",
		Short: "Install Wharf on this host: registry, PostgreSQL and Redis as systemd-managed Podman containers",
		Long: "Install Wharf on this host. The registry, PostgreSQL and Redis run in Podman containers managed by\n" +
			"systemd units (Quadlet files with Podman 4.4 or newer, plain units with 4.3), restart on failure and\n" +
			"start at boot. With --bundle FILE (made by `wharf bundle create`), everything comes from the bundle\n" +
			"and no network is needed; without it, the wharf image is built from this binary and PostgreSQL and\n" +
			"Redis are pulled. The host is checked first, and nothing changes unless it passes. Running install\n" +
			"again with the same version changes nothing.\n\n" +
			"Files: /etc/wharf (config, TLS CA, secrets) and /var/lib/wharf (data); with --user,\n" +
			"~/.config/wharf and ~/.local/share/wharf, and the units run under `systemd --user`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := installer.DefaultLayout(rootless)
			if err != nil {
				return err
			}
			if dataDir != "" {
				if l.DataDir, err = filepath.Abs(dataDir); err != nil {
					return err
				}
			}
			opts.Layout = l
			opts.Version = version
			opts.Out = cmd.OutOrStdout()
			opts.Progress = airgap.NewProgress(cmd.ErrOrStderr())
			_, err = installer.Install(cmd.Context(), opts)
			if errors.Is(err, installer.ErrPrerequisites) {
				return &exitError{code: 2, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Bundle, "bundle", "", "offline bundle to install from (none: build the wharf image from this binary and pull the others)")
	f.StringVar(&opts.Hostname, "hostname", "", "the name clients reach the registry by (default: this host's name)")
	f.IntVar(&opts.Port, "port", installer.DefaultPort, "host port the registry serves HTTPS on")
	f.StringVar(&opts.SSLCert, "ssl-cert", "", "the registry's TLS certificate (PEM, with its chain; default: one signed by a CA made here)")
	f.StringVar(&opts.SSLKey, "ssl-key", "", "the certificate's private key (PEM)")
	f.StringVar(&opts.InitUser, "init-user", installer.DefaultInitUser, "the first user, a superuser")
	f.StringVar(&opts.InitPassword, "init-password", "", "the first user's password (default: generated and printed once)")
	f.StringVar(&opts.PostgresImage, "postgres-image", "", "PostgreSQL image an online install pulls")
	f.StringVar(&opts.RedisImage, "redis-image", "", "Redis image an online install pulls")
	f.DurationVar(&opts.HealthTimeout, "health-timeout", installer.DefaultHealthTimeout, "how long to wait for the registry to answer")
	f.StringVar(&dataDir, "data-dir", "", "where the images pushed, the database and Redis's data live (default /var/lib/wharf; with --user ~/.local/share/wharf)")
	f.BoolVar(&rootless, "user", false, "install for the current user (rootless Podman, systemd --user)")
	return cmd
}

func upgradeCommand() *cobra.Command {
	var opts installer.UpgradeOptions
	var rootless bool
	cmd := &cobra.Command{
		Use:   "upgrade --bundle FILE [--user]",
		Short: "Move the installation to the version in a bundle; roll back if it does not become healthy",
		Long: "Upgrade the installation to the bundle's version: load its images, keep a copy of the database,\n" +
			"restart PostgreSQL, Redis and the registry in order on the new images (the registry migrates the\n" +
			"database as it starts), and wait for /health/instance. If the registry does not become healthy\n" +
			"within --health-timeout, the previous images and the database copy are put back and the previous\n" +
			"version runs again; the command then fails with exit code 3.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := installer.DefaultLayout(rootless)
			if err != nil {
				return err
			}
			opts.Layout = l
			opts.Out = cmd.OutOrStdout()
			opts.Progress = airgap.NewProgress(cmd.ErrOrStderr())
			_, err = installer.Upgrade(cmd.Context(), opts)
			if errors.Is(err, installer.ErrRolledBack) {
				return &exitError{code: 3, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Bundle, "bundle", "", "bundle holding the new version (made by `wharf bundle create`)")
	f.DurationVar(&opts.HealthTimeout, "health-timeout", installer.DefaultHealthTimeout, "how long the new version has to become healthy before the upgrade rolls back")
	f.BoolVar(&rootless, "user", false, "upgrade the current user's rootless installation")
	cmd.MarkFlagRequired("bundle")
	return cmd
}

func uninstallCommand() *cobra.Command {
	var opts installer.UninstallOptions
	var rootless bool
	cmd := &cobra.Command{
		Use:   "uninstall [--purge [--yes]] [--user]",
		Short: "Stop and remove the units, containers and images; keep the data unless --purge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := installer.DefaultLayout(rootless)
			if err != nil {
				return err
			}
			opts.Layout = l
			opts.In, opts.Out = cmd.InOrStdin(), cmd.OutOrStdout()
			return installer.Uninstall(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Purge, "purge", false, "also delete the config and data directories: every image pushed, the database, the CA")
	f.BoolVar(&opts.Yes, "yes", false, "do not ask before --purge deletes data")
	f.BoolVar(&rootless, "user", false, "uninstall the current user's rootless installation")
	return cmd
}

func statusCommand() *cobra.Command {
	var rootless, asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json] [--user]",
		Short: "Show each unit's state, the images they run and the registry's health (exit code 3 when not healthy)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := installer.DefaultLayout(rootless)
			if err != nil {
				return err
			}
			s, err := installer.GetStatus(cmd.Context(), l)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(s); err != nil {
					return err
				}
			} else {
				s.Print(cmd.OutOrStdout())
			}
			if !s.Healthy() {
				return &exitError{code: 3, err: errors.New("the installation is not healthy: see above, and `journalctl -u wharf-registry`")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&rootless, "user", false, "the current user's rootless installation")
	return cmd
}
