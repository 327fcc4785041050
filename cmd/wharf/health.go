package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthCommand asks a registry's /health/instance: the container health check of the wharf
// image (which has no shell or curl), and a quick probe for people.
func healthCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	var status int
	cmd := &cobra.Command{
		Use:   "health [--url URL]",
		Short: "Check that a registry answers healthy (exit code 0) or say why not (exit code 1)",
		Long: "Ask URL (default http://127.0.0.1:8080/health/instance) and succeed when it answers 200. The\n" +
			"certificate of an https URL is not checked: the command is meant for the registry's own address,\n" +
			"as the container health check of the wharf image.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("--url %q: %w", url, err)
			}
			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the registry's own loopback address
			}}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			if resp.StatusCode != status {
				return fmt.Errorf("%s answered %s: %s", url, resp.Status, body)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "healthy: %s\n", url)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/health/instance", "the health endpoint to ask")
	cmd.Flags().IntVar(&status, "status", http.StatusOK, "the HTTP status that means healthy (401 for a Clair API that wants a signed token)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}
