package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/configtool/wizard"
	"github.com/wharf-registry/wharf/registry/server"
)

// configWizardCommand is `wharf config wizard`: the guided web wizard.
func configWizardCommand() *cobra.Command {
	var configDir, dataDir, listen, password string
	cmd := &cobra.Command{
		Use:   "wizard",
		Short: "Serve the guided web wizard that writes config.yaml or a quay-config.tar.gz bundle",
		Long: "Serve a web wizard that walks through the config step by step (server and TLS, database, Redis, storage,\n" +
			"authentication, features, mail, scanner), checks each step as `wharf config validate` does, and ends by\n" +
			"saving the config directory or downloading it as a config bundle (quay-config.tar.gz).\n\n" +
			"It asks for HTTP Basic credentials: user " + wizard.User + " and the password given with --password (or\n" +
			"$WHARF_WIZARD_PASSWORD), else a random one printed at start. With --config-dir it starts from the\n" +
			"config.yaml there and saves back to it, keeping the previous one as config.yaml.bak.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			shown := "as given"
			if password == "" {
				password = os.Getenv("WHARF_WIZARD_PASSWORD")
			}
			if password == "" {
				password, shown = rand.Text(), ""
			}
			wz, err := wizard.New(wizard.Options{ConfigDir: configDir, DataDir: dataDir, Password: password, Out: out})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (is another program using the port? choose one with --listen)", listen, err)
			}
			if shown == "" {
				shown = password
			}
			fmt.Fprintf(out, "Wharf config wizard: open http://%s, user %s, password %s\n", ln.Addr(), wizard.User, shown)
			fmt.Fprintf(out, "Starting from %s.", wz.Origin())
			if configDir != "" {
				fmt.Fprintf(out, " Save writes to %s.", configDir)
			}
			fmt.Fprintln(out, " Stop with Ctrl-C.")
			if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
				fmt.Fprintln(out, "Warning: the wizard is reachable from the network over plain HTTP; the password and the config travel unencrypted.")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return wz.Serve(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configDir, "config-dir", "", "config directory to start from and save to (none: start from the defaults, download only)")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "the data directory 'wharf serve' will use: relative storage paths and the embedded database live there, and the checks look there")
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address to serve the wizard on")
	f.StringVar(&password, "password", "", "password for user "+wizard.User+" (default $WHARF_WIZARD_PASSWORD, else a random one, printed)")
	return cmd
}
