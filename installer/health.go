package installer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/wharf-registry/wharf/systemd"
)

// HealthPath is the registry's health endpoint: 200 when it serves and its database answers.
const HealthPath = "/health/instance"

// healthClient returns a client for the registry's health endpoint on the loopback address,
// checking the certificate against the installation's CA under the registry's hostname
// (so the check also proves the certificate works), or, with a certificate the user gave,
// against the system's CAs.
func healthClient(st *State) (*http.Client, error) {
	cfg := &tls.Config{ServerName: st.Hostname, MinVersion: tls.VersionTLS12}
	if st.CACert != "" {
		pem, err := os.ReadFile(st.CACert)
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", st.CACert)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

// healthURL is the health endpoint on the loopback address.
func healthURL(st *State) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", st.Port, HealthPath)
}

// checkHealth asks the registry once; nil when it answers 200.
func checkHealth(ctx context.Context, st *State) error {
	client, err := healthClient(st)
	if err != nil {
		return err
	}
	return askHealth(ctx, client, st)
}

// askHealth asks the registry once with client.
func askHealth(ctx context.Context, client *http.Client, st *State) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthURL(st), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", HealthPath, resp.Status, body)
	}
	return nil
}

// waitHealthy asks the registry every two seconds until it is healthy or timeout passes,
// printing how long it has waited every 15 seconds. It gives up early when failing (if set)
// returns an error: the registry's unit failed or keeps exiting.
func waitHealthy(ctx context.Context, st *State, timeout time.Duration, out io.Writer, failing func(context.Context) error) error {
	start := time.Now()
	client, err := healthClient(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lastSaid := start
	var last error
	for {
		if last = askHealth(ctx, client, st); last == nil {
			fmt.Fprintf(out, "registry healthy after %s\n", time.Since(start).Round(time.Second))
			return nil
		}
		if failing != nil {
			if err := failing(ctx); err != nil {
				return fmt.Errorf("the registry did not become healthy: %w (%v)", err, last)
			}
		}
		if time.Since(lastSaid) >= 15*time.Second {
			fmt.Fprintf(out, "waiting for %s: %s so far (%v)\n", healthURL(st), time.Since(start).Round(time.Second), last)
			lastSaid = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the registry did not become healthy within %s: %v", timeout, last)
		case <-time.After(2 * time.Second):
		}
	}
}

// maxStartRestarts is how many times the registry may exit while it starts before the wait
// for its health gives up.
const maxStartRestarts = 3

// registryFailing reports, through systemd, a registry unit that failed or keeps exiting.
func registryFailing(mgr systemd.Manager) func(context.Context) error {
	unit := systemd.UnitName("registry")
	return func(ctx context.Context) error {
		us, err := mgr.Status(ctx, unit)
		switch {
		case err != nil:
			return nil // no verdict; the health check decides
		case us.Active == "failed":
			return fmt.Errorf("%s failed (%s)", unit, us.Result)
		case us.Restarts >= maxStartRestarts:
			return fmt.Errorf("the registry exited %d times while starting", us.Restarts)
		}
		return nil
	}
}
