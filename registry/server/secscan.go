package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/wharf-registry/wharf/registry/secscan"
	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/service"
)

// securityWorker assembles the security scanning worker FEATURE_SECURITY_SCANNER asks for:
// the built-in scanner over this registry's database and blob storage, or the Clair v4
// compatible scanner at SECURITY_SCANNER_V4_ENDPOINT (a `wharf scanner serve` or a Clair),
// which fetches layers from this registry with short-lived pull tokens.
func (s *Server) securityWorker(cas *x509.CertPool) (*secscan.Worker, error) {
	cfg := s.Config
	if !cfg.FeatureSecurityScanner {
		return nil, nil
	}
	minSeverity, err := report.ParseSeverity(cfg.SecurityScannerNotifyMinSeverity)
	if err != nil {
		return nil, fmt.Errorf("SECURITY_SCANNER_NOTIFY_MIN_SEVERITY: %w", err)
	}
	opts := secscan.Options{
		Interval:      time.Duration(cfg.SecurityScannerIndexingInterval) * time.Second,
		Namespaces:    cfg.SecurityScannerV4NamespaceWhitelist,
		ReindexAfter:  time.Duration(cfg.SecurityScannerV4ReindexThreshold) * time.Second,
		MaxLayerSize:  int64(cfg.SecurityScannerV4IndexMaxLayerSize),
		EventSeverity: minSeverity,

		ManifestCleanup: cfg.SecurityScannerV4ManifestCleanup,
	}
	log := s.log.With("worker", "secscan")
	var backend clair.Backend
	if cfg.SecurityScannerV4Endpoint == "" {
		ix := indexer.New(indexer.Options{MaxLayerSize: opts.MaxLayerSize, TempDir: filepath.Join(s.DataDir, "tmp")})
		backend = service.New(s.Store, ix, secscan.StorageLayers(s.Storage), log)
		log.Info("security scanning with the built-in scanner: import vulnerability data with `wharf scanner import`")
	} else {
		var psk []byte
		if cfg.SecurityScannerV4PSK != "" {
			if psk, err = clair.ParsePSK(cfg.SecurityScannerV4PSK); err != nil {
				return nil, fmt.Errorf("SECURITY_SCANNER_V4_PSK is not base64: %w", err)
			}
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		if cas != nil {
			transport.TLSClientConfig = &tls.Config{RootCAs: cas, MinVersion: tls.VersionTLS12}
		}
		client, err := clair.NewClient(cfg.SecurityScannerV4Endpoint, clair.ClientOptions{
			HTTPClient: &http.Client{Transport: transport, Timeout: 10 * time.Minute}, PSK: psk})
		if err != nil {
			return nil, fmt.Errorf("SECURITY_SCANNER_V4_ENDPOINT: %w", err)
		}
		backend = client
		opts.LayerLocation = secscan.RegistryLayerLocation(s.Auth, cfg.PreferredURLScheme+"://"+cfg.ServerHostname)
		log.Info("security scanning with the scanner at SECURITY_SCANNER_V4_ENDPOINT", "endpoint", cfg.SecurityScannerV4Endpoint)
	}
	return secscan.New(s.Store, backend, opts, log), nil
}

// manifestSecurity answers the API's security endpoint through the worker.
func (s *Server) manifestSecurity(ctx context.Context, m store.Manifest, vulnerabilities bool) (any, error) {
	return s.SecScan.ManifestSecurity(ctx, m, vulnerabilities)
}
