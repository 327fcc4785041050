package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/registry/server"
)

func serveCommand() *cobra.Command {
	var configDir, dataDir, listen, logLevel, logFormat string
	var dbWait time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry",
		Long: "Run the registry. With a config directory holding config.yaml, use it; without one, run the embedded\n" +
			"default: SQLite and local disk under the data directory, plain HTTP.\n\n" +
			"HTTPS: with ssl.cert and ssl.key in the config directory (`wharf config tls` makes them), or with\n" +
			"FEATURE_ACME_TLS (a certificate obtained and renewed from ACME_DIRECTORY_URL, kept in DATA_DIR/acme), serve\n" +
			"HTTPS on --listen. With EXTERNAL_TLS_TERMINATION, serve plain HTTP to the proxy that ends TLS in front.\n" +
			"Outbound connections (LDAP, OpenID providers, ACME) trust the system CAs and CONFIG_DIR/extra_ca_certs/.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := server.New(ctx, server.Options{ConfigDir: configDir, DataDir: dataDir, Listen: listen, Log: log, Out: os.Stdout, DBWait: dbWait})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (is another server using the port? choose one with --listen)", listen, err)
			}
			if err := srv.Bootstrap(ctx); err != nil {
				return err
			}
			return srv.Run(ctx, ln, 30*time.Second)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configDir, "config-dir", "", "directory holding config.yaml (none: the embedded default)")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "directory for the embedded database and local storage")
	f.StringVar(&listen, "listen", server.DefaultListen, "address to listen on")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	f.DurationVar(&dbWait, "db-wait", 0, "at start, keep trying a database that is not up yet (refused, not found, starting) this long; 0 fails at once")
	return cmd
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", format)
	}
	return slog.New(server.ContextLogHandler{Handler: h}), nil
}
