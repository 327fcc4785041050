package tls

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestExtraCAsForObjectStorage runs `wharf serve` on S3 storage served over HTTPS with a
// private CA: without the CA in extra_ca_certs/ its health check reports the storage down on
// the certificate; with it, a push and a pull go through the bucket.
func TestExtraCAsForObjectStorage(t *testing.T) {
	s3 := testservers.MinIOTLS(t)
	bucket := s3.NewBucket(t)
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	config := fmt.Sprintf(`SERVER_HOSTNAME: %s
DISTRIBUTED_STORAGE_CONFIG:
  s3: [S3Storage, {s3_bucket: %s, storage_path: /wharf, s3_access_key: %s, s3_secret_key: %s, s3_region: %s, endpoint_url: %q}]
DISTRIBUTED_STORAGE_PREFERENCE: [s3]
FEATURE_PROXY_STORAGE: true
`, addr, bucket, s3.AccessKey, s3.SecretKey, s3.Region, s3.Endpoint)

	untrusted := startServe(t, addr, newConfigDir(t, config, nil))
	if code, body := healthStatus(t, addr); code != http.StatusServiceUnavailable || !strings.Contains(body, `"storage":false`) {
		t.Fatalf("health of a registry whose storage certificate it cannot verify: %d %s\nwharf:\n%s", code, body, untrusted.Logs())
	}
	untrusted.waitLog(t, "certificate signed by unknown authority", 10*time.Second)
	untrusted.stop(t)

	trusted := startServe(t, addr, newConfigDir(t, config, map[string][]byte{"extra_ca_certs/minio-ca.crt": s3.CACertPEM}))
	trusted.waitHTTP(t)
	src, layer := imageDir(t)
	creds := adminUser + ":" + adminPassword
	ref := "docker://" + addr + "/admin/app:v1"
	if out, err := skopeo(t, "copy", "--dest-tls-verify=false", "--dest-creds", creds, "dir:"+src, ref); err != nil {
		t.Fatalf("push onto S3 over TLS: %v\n%s\nwharf:\n%s", err, out, trusted.Logs())
	}
	dst := t.TempDir()
	if out, err := skopeo(t, "copy", "--src-tls-verify=false", "--src-creds", creds, ref, "dir:"+dst); err != nil {
		t.Fatalf("pull from S3 over TLS: %v\n%s", err, out)
	}
	if got := pulledLayer(t, dst); !bytes.Equal(got, layer) {
		t.Fatalf("the pulled layer is %q, want %q", got, layer)
	}
}

// healthStatus waits until /health/instance answers over plain HTTP and returns its status
// and body.
func healthStatus(t *testing.T, addr string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health/instance")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
