// Package conformance runs the OCI distribution-spec conformance suite against a real
// `wharf serve`, on the embedded default (SQLite and local disk) and on PostgreSQL with
// S3-compatible storage, with credentials.
package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

func TestConformance(t *testing.T) {
	backends := []struct {
		name   string
		config func(t *testing.T) string
		// blobDigestHeader requires Docker-Content-Digest on blob downloads. Downloads that
		// redirect to S3 get their bytes from S3, which cannot add that header, so the
		// redirect run checks everything else (the 307 itself carries the header).
		blobDigestHeader bool
	}{
		{"sqlite-disk", func(*testing.T) string { return "" }, true},
		{"postgres-s3-proxy", func(t *testing.T) string { return testservers.PostgresS3Config(t, true) }, true},
		{"postgres-s3-redirect", func(t *testing.T) string { return testservers.PostgresS3Config(t, false) }, false},
		{"postgres-radosgw-proxy", func(t *testing.T) string { return testservers.PostgresRadosGWConfig(t, true) }, true},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: b.config(t)})
			runSuite(t, w, b.blobDigestHeader)
		})
	}
}

func runSuite(t *testing.T, w *testservers.Wharf, blobDigestHeader bool) {
	bin := testservers.LookTool(t, "conformance")
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+w.Host,
		"OCI_TLS=disabled",
		"OCI_REPO1="+w.User+"/conformance/repo1",
		"OCI_REPO2="+w.User+"/conformance/repo2",
		"OCI_USERNAME="+w.User,
		"OCI_PASSWORD="+w.Password,
		"OCI_VERSION=1.1",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER="+strconv.FormatBool(blobDigestHeader),
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_RESULTS_DIR="+filepath.Join(dir, "results"),
	)
	out, err := cmd.CombinedOutput()
	text := string(out)
	summary := regexp.MustCompile(`(?m)^\s+(Pass|FAIL|Error|Skip|Disabled)\.+:\s+(\d+)$`).FindAllStringSubmatch(text, -1)
	counts := map[string]string{}
	for _, m := range summary {
		counts[m[1]] = m[2]
	}
	t.Logf("conformance: pass=%s fail=%s error=%s skip=%s disabled=%s", counts["Pass"], counts["FAIL"], counts["Error"], counts["Skip"], counts["Disabled"])
	if err != nil || counts["FAIL"] != "0" || counts["Error"] != "0" || counts["Pass"] == "" || counts["Pass"] == "0" {
		var failed []string
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "FAIL") || strings.Contains(line, " - ") {
				failed = append(failed, line)
			}
		}
		t.Fatalf("conformance suite failed (%v):\n%s\n--- server log tail ---\n%s", err, strings.Join(failed, "\n"), tail(w.Logs(), 4000))
	}
	if counts["Skip"] != "0" {
		t.Errorf("conformance suite skipped %s tests:\n%s", counts["Skip"], text)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
