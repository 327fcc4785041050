package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/configtool"
	"github.com/wharf-registry/wharf/registry/server"
)

// configValidateCommand is `wharf config validate [DIR]`.
func configValidateCommand() *cobra.Command {
	var offline, asJSON bool
	var timeout time.Duration
	var dataDir string
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check config.yaml and everything it names (database, Redis, storage, LDAP, mail, TLS, scanner)",
		Long: "Validate the config directory DIR (default: the current directory): config.yaml against the schema,\n" +
			"what the schema cannot express (settings a feature needs, files the config names), and then the\n" +
			"world it names, field group by field group: the database, Redis, every storage location, LDAP,\n" +
			"the mail server, the TLS certificate and the security scanner.\n\n" +
			"Exit status: 0 valid, 1 the tool could not run, 2 the config is invalid, 3 something it names\n" +
			"failed a check.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: give a positive duration such as 10s", timeout)
			}
			dir, err := filepath.Abs(dir)
			if err != nil {
				return fmt.Errorf("config directory: %w", err)
			}
			src, err := configtool.ReadDir(dir)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := configtool.Options{Offline: offline, Timeout: timeout, DataDir: dataDir}
			if !asJSON && isTerminal(os.Stderr) {
				opts.Progress = func(group string) { fmt.Fprintf(os.Stderr, "checking %s...\n", group) }
			}
			rep, err := configtool.Validate(ctx, src, opts)
			if err != nil {
				return err
			}
			if asJSON {
				err = configtool.WriteJSON(cmd.OutOrStdout(), rep)
			} else {
				err = configtool.WriteText(cmd.OutOrStdout(), rep)
			}
			if err != nil {
				return err
			}
			if code := rep.ExitCode(); code != configtool.ExitValid {
				os.Exit(code)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&offline, "offline", false, "skip the reachability checks (database, Redis, storage, LDAP, mail, scanner)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "time limit for each check")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "the `DIR` wharf serve uses as its data directory (relative storage paths and the embedded database live there)")
	return cmd
}

// isTerminal reports whether f is a terminal, where progress lines help a person waiting.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
