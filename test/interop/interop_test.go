// Package interop runs real registry clients (skopeo, crane, oras, regctl, podman) against a
// real `wharf serve`: they push, copy, pull and delete images, indexes and artifacts, and the
// tests check that every byte pulled is a byte pushed. Each scenario runs on the embedded
// default (SQLite and local disk) and on PostgreSQL with S3-compatible storage (MinIO), with
// blob downloads redirected to S3 and proxied through the registry.
//
// The clients come from `make deps` (crane, oras, regctl in the tools directory; skopeo and
// podman from Debian); a missing one fails its test with the install hint.
package interop

import (
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// backends are the storage and database combinations every scenario runs on.
var backends = []struct {
	name   string
	config func(t *testing.T) string
	// redirects is set when blob downloads redirect to storage.
	redirects bool
}{
	{"sqlite-disk", func(*testing.T) string { return "" }, false},
	{"postgres-s3-redirect", func(t *testing.T) string { return testservers.PostgresS3Config(t, false) }, true},
	{"postgres-s3-proxy", func(t *testing.T) string { return testservers.PostgresS3Config(t, true) }, false},
}

// scenarios are the client workflows; each uses repositories of its own, so they run in
// parallel on one server.
var scenarios = []struct {
	name string
	run  func(t *testing.T, w *testservers.Wharf)
}{
	{"multi-arch-index", testMultiArchIndex},
	{"docker-schema2", testDockerSchema2},
	{"artifact-referrers", testArtifactReferrers},
	{"copy-and-delete", testCopyAndDelete},
	{"access-control", testAccessControl},
	{"podman", testPodman},
}

// TestInterop runs every scenario on every backend, one `wharf serve` per backend.
func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("interoperability tests start servers and run external clients")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: b.config(t)})
			t.Run("blob-downloads", func(t *testing.T) {
				t.Parallel()
				testBlobDownloads(t, w, b.redirects)
			})
			for _, s := range scenarios {
				t.Run(s.name, func(t *testing.T) {
					t.Parallel()
					s.run(t, w)
					if t.Failed() {
						t.Logf("--- server log tail ---\n%s", tail(w.Logs(), 4000))
					}
				})
			}
		})
	}
}
