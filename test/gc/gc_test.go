// Package gc tests the time machine and continuous garbage collection end to end: a real
// `wharf serve` with short windows, pushes and pulls through go-containerregistry, and the
// Quay tag API to restore history.
package gc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

const shortWindows = "DEFAULT_TAG_EXPIRATION: 3s\nGARBAGE_COLLECTION_GRACE: 3s\nGARBAGE_COLLECTION_INTERVAL: 1s\n"

var backends = []struct {
	name   string
	config func(t *testing.T) string
}{
	{"sqlite-disk", func(*testing.T) string { return shortWindows }},
	{"postgres-s3", func(t *testing.T) string { return shortWindows + testservers.PostgresS3Config(t, true) }},
}

type registry struct {
	t *testing.T
	w *testservers.Wharf
}

func (r registry) ref(repoTag string) name.Reference {
	ref, err := name.ParseReference(r.w.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref
}

func (r registry) opts() []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: r.w.User, Password: r.w.Password})}
}

func (r registry) push(repoTag string, img v1.Image) v1.Hash {
	r.t.Helper()
	if err := remote.Write(r.ref(repoTag), img, r.opts()...); err != nil {
		r.t.Fatalf("push %s: %v", repoTag, err)
	}
	d, _ := img.Digest()
	return d
}

// status returns the HTTP status of a HEAD on a registry path.
func (r registry) status(path string) int {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodHead, r.w.URL+path, nil)
	req.SetBasicAuth(r.w.User, r.w.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r registry) api(method, path string, body any) (int, []byte) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.w.URL+path, rd)
	req.SetBasicAuth(r.w.User, r.w.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func layers(t *testing.T, img v1.Image) []v1.Hash {
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range ls {
		d, _ := l.Digest()
		out = append(out, d)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestTimeMachineAndCollection(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: b.config(t)})
			r := registry{t, w}
			old, _ := random.Image(2048, 2)
			cur, _ := random.Image(2048, 2)
			gone, _ := random.Image(2048, 1)
			oldDigest := r.push("admin/tm:latest", old)
			curDigest := r.push("admin/tm:latest", cur)
			goneDigest := r.push("admin/tm:doomed", gone)
			if code, body := r.api(http.MethodDelete, "/v2/admin/tm/manifests/doomed", nil); code != http.StatusAccepted {
				t.Fatalf("delete tag: %d %s", code, body)
			}

			// The history shows both lifetimes of latest; restoring brings the old image back.
			code, body := r.api(http.MethodGet, "/api/v1/repository/admin/tm/tag/?specificTag=latest", nil)
			var hist struct {
				Tags []struct {
					Name           string `json:"name"`
					ManifestDigest string `json:"manifest_digest"`
					EndTS          *int64 `json:"end_ts"`
				} `json:"tags"`
			}
			json.Unmarshal(body, &hist)
			if code != http.StatusOK || len(hist.Tags) != 2 || hist.Tags[0].ManifestDigest != curDigest.String() ||
				hist.Tags[1].ManifestDigest != oldDigest.String() || hist.Tags[1].EndTS == nil {
				t.Fatalf("tag history: %d %s", code, body)
			}
			if code, body := r.api(http.MethodPost, "/api/v1/repository/admin/tm/tag/latest/restore",
				map[string]string{"manifest_digest": oldDigest.String()}); code != http.StatusOK {
				t.Fatalf("restore: %d %s", code, body)
			}
			img, err := remote.Image(r.ref("admin/tm:latest"), r.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := img.Digest(); d != oldDigest {
				t.Fatalf("after restore latest is %s, want %s", d, oldDigest)
			}
			r.push("admin/tm:latest", cur) // and forward again

			// Once the window has passed, the collector removes the deleted tag's image and the
			// superseded one, but never what latest points at.
			eventually(t, "collection of the deleted tag's manifest", 30*time.Second, func() bool {
				return r.status("/v2/admin/tm/manifests/"+goneDigest.String()) == http.StatusNotFound &&
					r.status("/v2/admin/tm/manifests/"+oldDigest.String()) == http.StatusNotFound
			})
			for _, l := range append(layers(t, gone), layers(t, old)...) {
				eventually(t, "collection of layer "+l.String(), 30*time.Second, func() bool {
					return r.status("/v2/admin/tm/blobs/"+l.String()) == http.StatusNotFound
				})
			}
			if code, _ := r.api(http.MethodPost, "/api/v1/repository/admin/tm/tag/latest/restore",
				map[string]string{"manifest_digest": oldDigest.String()}); code != http.StatusNotFound {
				t.Fatalf("restore after collection answered %d, want 404", code)
			}
			img, err = remote.Image(r.ref("admin/tm:latest"), r.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("latest is damaged after collection: %v", err)
			}
			if b.name == "sqlite-disk" {
				for _, l := range layers(t, gone) {
					hex := l.Hex
					p := filepath.Join(w.DataDir, "storage", "blobs", "sha256", hex[:2], hex)
					eventually(t, "removal of "+p, 30*time.Second, func() bool {
						_, err := os.Stat(p)
						return os.IsNotExist(err)
					})
				}
			}
		})
	}
}

func TestCollectionDuringPushes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: b.config(t)})
			r := registry{t, w}
			stop := time.Now().Add(8 * time.Second)
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for i := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; time.Now().Before(stop); n++ {
						var err error
						ref := r.ref(fmt.Sprintf("admin/busy%d:tag", i))
						if n%3 == 2 {
							idx, _ := random.Index(1024, 1, 2)
							err = remote.WriteIndex(ref, idx, r.opts()...)
						} else {
							img, _ := random.Image(4096, 2)
							err = remote.Write(ref, img, r.opts()...)
						}
						if err != nil {
							errs <- fmt.Errorf("push %d/%d: %w", i, n, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Let the collector run a few more passes, then check every tag is whole.
			time.Sleep(5 * time.Second)
			for i := range 3 {
				ref := r.ref(fmt.Sprintf("admin/busy%d:tag", i))
				desc, err := remote.Get(ref, r.opts()...)
				if err != nil {
					t.Fatalf("get %s: %v", ref, err)
				}
				if desc.MediaType.IsIndex() {
					idx, err := desc.ImageIndex()
					if err == nil {
						err = validate.Index(idx)
					}
					if err != nil {
						t.Fatalf("index %s damaged by collection: %v", ref, err)
					}
					continue
				}
				img, err := desc.Image()
				if err == nil {
					err = validate.Image(img)
				}
				if err != nil {
					t.Fatalf("image %s damaged by collection: %v", ref, err)
				}
			}
			if !strings.Contains(w.Logs(), "garbage collection pass") {
				t.Fatalf("the collector never reported a pass:\n%s", w.Logs())
			}
		})
	}
}

// TestExpiredUploadsRemoved checks that idle upload sessions and their staged bytes go after
// BLOB_UPLOAD_EXPIRATION.
func TestExpiredUploadsRemoved(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: shortWindows + "BLOB_UPLOAD_EXPIRATION: 2s\n"})
	start := func() string {
		req, _ := http.NewRequest(http.MethodPost, w.URL+"/v2/admin/up/blobs/uploads/", nil)
		req.SetBasicAuth(w.User, w.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("start upload: %v %v", resp, err)
		}
		resp.Body.Close()
		return resp.Header.Get("Location")
	}
	patch := func(loc string) int {
		req, _ := http.NewRequest(http.MethodPatch, w.URL+loc, bytes.NewReader(make([]byte, 1000)))
		req.SetBasicAuth(w.User, w.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	idle := start()
	if code := patch(idle); code != http.StatusAccepted {
		t.Fatalf("patch: %d", code)
	}
	id := idle[strings.LastIndex(idle, "/")+1:]
	staged := filepath.Join(w.DataDir, "storage", ".staging", "uploads", id)
	if _, err := os.Stat(staged); err != nil {
		t.Fatalf("staged upload bytes not where expected: %v", err)
	}
	uploadStatus := func() int {
		req, _ := http.NewRequest(http.MethodGet, w.URL+idle, nil)
		req.SetBasicAuth(w.User, w.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := uploadStatus(); code != http.StatusNoContent {
		t.Fatalf("fresh upload status %d", code)
	}
	eventually(t, "expiry of the idle upload", 30*time.Second, func() bool { return uploadStatus() == http.StatusNotFound })
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Fatalf("expired upload's staged bytes remain: %v", err)
	}
}
