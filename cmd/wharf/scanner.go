package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/registry/server"
	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/service"
	"github.com/wharf-registry/wharf/scanner/vulndb"
	"github.com/wharf-registry/wharf/schema"
)

// DefaultScannerListen is where `wharf scanner serve` listens unless told otherwise (Clair's
// combined mode uses port 6060 too).
const DefaultScannerListen = "127.0.0.1:6060"

func scannerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "scanner", Short: "The vulnerability scanner: serve Clair v4's API, import vulnerability data"}
	cmd.AddCommand(scannerServeCommand(), scannerImportCommand())
	return cmd
}

// openScannerStore opens the store `wharf serve` with the same flags uses.
func openScannerStore(ctx context.Context, cfg *schema.Config, configDir, dataDir string) (*store.Store, string, error) {
	dir, err := server.ResolveDataDir(dataDir)
	if err != nil {
		return nil, "", err
	}
	st, err := server.OpenStore(ctx, cfg, configDir, dir)
	if err != nil {
		return nil, "", err
	}
	return st, dir, nil
}

func scannerServeCommand() *cobra.Command {
	var configDir, dataDir, listen, logLevel, logFormat string
	var connectTo []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve Clair v4's indexer and matcher API for a registry (SECURITY_SCANNER_V4_ENDPOINT)",
		Long: "Serve Clair v4's indexer and matcher HTTP API (index_report, vulnerability_report, index_state,\n" +
			"update_operation) on --listen. Layers are fetched from the URIs each manifest names. Index reports and\n" +
			"vulnerability data live in the database config.yaml's DB_URI names (or SQLite under --data-dir);\n" +
			"load data with `wharf scanner import` and the same flag. With SECURITY_SCANNER_V4_PSK in config.yaml,\n" +
			"every request must carry a JWT signed with that key, as Quay sends.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg, _, err := server.LoadConfig(configDir, server.DefaultListen)
			if err != nil {
				return err
			}
			var psk []byte
			if cfg.SecurityScannerV4PSK != "" {
				if psk, err = clair.ParsePSK(cfg.SecurityScannerV4PSK); err != nil {
					return fmt.Errorf("SECURITY_SCANNER_V4_PSK is not base64: %w", err)
				}
			}
			st, dir, err := openScannerStore(ctx, cfg, configDir, dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			ix := indexer.New(indexer.Options{MaxLayerSize: int64(cfg.SecurityScannerV4IndexMaxLayerSize), TempDir: filepath.Join(dir, "tmp")})
			if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
				return err
			}
			fetch, err := layerClient(configDir, connectTo)
			if err != nil {
				return err
			}
			svc := service.New(st, ix, func(_ context.Context, m report.Manifest) ([]indexer.Layer, error) {
				return indexer.HTTPLayers(fetch, m), nil
			}, log)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (is another server using the port? choose one with --listen)", listen, err)
			}
			srv := &http.Server{Handler: clair.NewHandler(svc, clair.HandlerOptions{PSK: psk, Log: log}), ReadHeaderTimeout: 30 * time.Second}
			auth := "no authentication"
			if psk != nil {
				auth = "requests signed with SECURITY_SCANNER_V4_PSK"
			}
			fmt.Printf("Wharf scanner is serving Clair v4's API on http://%s (%s)\n", ln.Addr(), auth)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err = <-errc:
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err = srv.Shutdown(sctx)
				cancel()
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&configDir, "config-dir", "", "directory holding config.yaml (its DB_URI and SECURITY_SCANNER_V4_PSK)")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "data directory of the embedded default (SQLite)")
	f.StringVar(&listen, "listen", DefaultScannerListen, "address to listen on")
	f.StringArrayVar(&connectTo, "connect-to", nil, "HOST:PORT=ADDR:PORT: fetch layer URLs naming HOST:PORT from ADDR:PORT instead, still checking the TLS certificate for HOST (a registry reached otherwise inside a container network); repeatable")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

func scannerImportCommand() *cobra.Command {
	var configDir, dataDir string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Load vulnerability data (OSV zip archives or JSON, Alpine secdb) into the scanner's store",
		Long: "Load vulnerability data files into the store that `wharf serve` (built-in scanner) or `wharf scanner\n" +
			"serve` with the same --config-dir or --data-dir uses, whether it runs or not: OSV records (zip archives\n" +
			"such as OSV's per-ecosystem all.zip, directories or single JSON files) and Alpine secdb files. Each file\n" +
			"is loaded in one transaction: a bad file changes nothing. A running registry re-matches the images it\n" +
			"scanned against the new data at its next pass (SECURITY_SCANNER_INDEXING_INTERVAL).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg, _, err := server.LoadConfig(configDir, server.DefaultListen)
			if err != nil {
				return err
			}
			st, _, err := openScannerStore(ctx, cfg, configDir, dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := vulndb.Import(ctx, st, files, os.Stdout)
			if err != nil {
				return err
			}
			fmt.Println(res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configDir, "config-dir", "", "directory holding config.yaml (its DB_URI)")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "data directory of the embedded default (SQLite)")
	return cmd
}

// layerClient is the HTTP client the scanner fetches layers with: it trusts the system's CAs
// and those in CONFIG_DIR/extra_ca_certs/ (as every outbound client of `wharf serve`), and connects to the addresses --connect-to maps.
func layerClient(configDir string, connectTo []string) (*http.Client, error) {
	redirect := map[string]string{}
	for _, c := range connectTo {
		from, to, ok := strings.Cut(c, "=")
		if _, _, err := net.SplitHostPort(from); !ok || err != nil {
			return nil, fmt.Errorf("--connect-to %q: want HOST:PORT=ADDR:PORT", c)
		}
		if _, _, err := net.SplitHostPort(to); err != nil {
			return nil, fmt.Errorf("--connect-to %q: want HOST:PORT=ADDR:PORT", c)
		}
		redirect[strings.ToLower(from)] = to
	}
	roots, err := server.ExtraCAs(configDir) // nil: the system's alone
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := redirect[strings.ToLower(addr)]; ok {
			addr = to
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: 30 * time.Minute, Transport: tr}, nil
}
