package scanner_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/secscan"
	"github.com/wharf-registry/wharf/scanner/clair"
)

// startScanner starts `wharf scanner serve` on its own store with psk, after importing files.
func startScanner(t *testing.T, psk []byte, files ...string) string {
	t.Helper()
	bin := testservers.WharfBinary(t)
	dataDir, configDir := t.TempDir(), t.TempDir()
	cfg := "SERVER_HOSTNAME: scanner.test\nSECURITY_SCANNER_V4_PSK: " + base64.StdEncoding.EncodeToString(psk) + "\n"
	if err := os.WriteFile(filepath.Join(configDir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(files) > 0 {
		args := append([]string{"scanner", "import", "--data-dir", dataDir, "--config-dir", configDir}, files...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("wharf scanner import: %v\n%s", err, out)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	var log bytes.Buffer
	cmd := exec.Command(bin, "scanner", "serve", "--data-dir", dataDir, "--config-dir", configDir, "--listen", addr)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("wharf scanner serve:\n%s", log.String())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/indexer/api/v1/index_state")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized { // up, and wants the PSK
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wharf scanner serve did not answer within a minute:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestExternalScanner runs the registry against `wharf scanner serve` as Quay runs against
// Clair v4: the registry hands the scanner layer URLs with pull tokens, signs its requests
// with the PSK, and reports what the scanner found.
func TestExternalScanner(t *testing.T) {
	psk := []byte("a pre-shared key of the scanner test")
	data := vulndb(t, "alpine-secdb.zip")
	scannerURL := startScanner(t, psk, data)
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: scanningConfig +
		"SECURITY_SCANNER_V4_ENDPOINT: " + scannerURL + "\nSECURITY_SCANNER_V4_PSK: " + base64.StdEncoding.EncodeToString(psk) + "\n"})
	img, installed := alpineImage(t)
	origins, binToOrigin := apkOrigins(installed)
	digest := newPusher(t, w).push(img, "admin/alpine", "3.19")
	sec := security(t, w, "admin/alpine", digest, nil)
	compareFindings(t, "alpine through wharf scanner serve",
		reported(t, sec, func(f secscan.Feature) string { return binToOrigin[f.Name] }), expectSecDB(t, data, "v3.19", origins))

	// `wharf config validate` asks the scanner for its index state, signed with the PSK.
	vctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(vctx, testservers.WharfBinary(t), "config", "validate", w.ConfigDir, "--data-dir", w.DataDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "index state") {
		t.Errorf("wharf config validate: %v\n%s", err, out)
	}

	// The scanner's API, as any Clair v4 client reads it.
	ctx := context.Background()
	client, err := clair.NewClient(scannerURL, clair.ClientOptions{PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	state, err := client.IndexState(ctx)
	if err != nil || state == "" {
		t.Fatalf("index state %q, %v", state, err)
	}
	ir, err := client.IndexReport(ctx, digest)
	if err != nil {
		t.Fatal(err)
	}
	if ir.ManifestHash != digest || !ir.Success || len(ir.Packages) != len(binToOrigin) {
		t.Errorf("index report: manifest %s success %v with %d packages; want %s, true, %d", ir.ManifestHash, ir.Success, len(ir.Packages), digest, len(binToOrigin))
	}
	vr, err := client.VulnerabilityReport(ctx, digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(vr.Vulnerabilities) == 0 || len(vr.PackageVulnerabilities) == 0 {
		t.Error("the vulnerability report lists no vulnerability")
	}
	ops, err := client.UpdateOperations(ctx)
	if err != nil || len(ops) == 0 {
		t.Errorf("update operations %v, %v; want the import", ops, err)
	}
	wrong, err := clair.NewClient(scannerURL, clair.ClientOptions{PSK: []byte("another key")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.IndexState(ctx); err == nil {
		t.Error("a request signed with another key was answered")
	}
	if _, err := client.VulnerabilityReport(ctx, "sha256:"+string(bytes.Repeat([]byte("0"), 64))); !errors.Is(err, clair.ErrNotFound) {
		t.Errorf("report of a manifest never indexed: %v, want ErrNotFound", err)
	}
}
