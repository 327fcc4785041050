package airgap_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/internal/testservers"
)

// blobProxy stands between the client and a real registry: it counts the blobs fetched and
// can refuse one, as a registry that fails in the middle of a pull does.
type blobProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	counts map[string]int // successful blob GETs by digest
	refuse string         // a digest answered with 404
}

func newBlobProxy(t *testing.T, target string) *blobProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &blobProxy{counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, digest, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && r.Method == http.MethodGet {
			p.mu.Lock()
			refused := digest == p.refuse
			if !refused {
				p.counts[digest]++
			}
			p.mu.Unlock()
			if refused {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *blobProxy) host() string { return strings.TrimPrefix(p.srv.URL, "http://") }

func (p *blobProxy) count(h v1.Hash) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[h.String()]
}

// loginDockerConfig writes a Docker config.json with a login for host, as `docker login`
// does, and points DOCKER_CONFIG at it.
func loginDockerConfig(t *testing.T, host, user, password string) {
	dir := t.TempDir()
	cfg := map[string]any{"auths": map[string]any{host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}}}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// TestCreateFromRegistry pulls the images from a real `wharf serve` (plain HTTP, private
// repositories, credentials from the Docker config) through a proxy that refuses one layer
// the first time: the failed run keeps the layers it fetched, and the next run with the same
// work directory fetches only what it lacked, then makes a bundle that verifies.
func TestCreateFromRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts wharf serve")
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	auth := remote.WithAuth(&authn.Basic{Username: w.User, Password: w.Password})
	imgs := map[string]v1.Image{"registry": testImage(t, 1), "postgres": testImage(t, 3), "redis": testImage(t, 1)}
	for comp, img := range imgs {
		ref, err := name.ParseReference(w.Host+"/admin/"+comp+":1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, auth); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
	proxy := newBlobProxy(t, w.URL)
	loginDockerConfig(t, proxy.host(), w.User, w.Password)

	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	out := filepath.Join(dir, "wharf-bundle.tar")
	options := func() airgap.CreateOptions {
		opts := airgap.CreateOptions{Output: out, WorkDir: work, WharfVersion: "1", Binary: testBinary(t), BinaryVersion: "1"}
		for _, comp := range airgap.Components {
			src, err := airgap.NewRemoteImage(comp, proxy.host()+"/admin/"+comp+":1", airgap.RemoteOptions{
				Insecure: []string{proxy.host()},
				CacheDir: filepath.Join(work, "layers"),
			})
			if err != nil {
				t.Fatal(err)
			}
			opts.Images = append(opts.Images, src)
		}
		return opts
	}

	pgLayers, _ := imgs["postgres"].Layers()
	var digests []v1.Hash
	for _, l := range pgLayers {
		d, _ := l.Digest()
		digests = append(digests, d)
	}
	proxy.refuse = digests[2].String()
	_, err := airgap.Create(context.Background(), options())
	if err == nil || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("first run: %v, want a failure that says to run again", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed run left a bundle file")
	}

	proxy.refuse = ""
	res, err := airgap.Create(context.Background(), options())
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	for i, d := range digests {
		if n := proxy.count(d); n != 1 {
			t.Errorf("postgres layer %d was fetched %d times over both runs, want once (the second run must reuse the first run's layers)", i+1, n)
		}
	}
	if !res.WorkDirKept {
		t.Error("a work directory that was given was removed")
	}

	b, err := airgap.Open(out)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer b.Close()
	m := b.Manifest()
	for comp, img := range imgs {
		mem, ok := m.Image(comp)
		if !ok {
			t.Fatalf("no %s image", comp)
		}
		d, _ := img.Digest()
		id, _ := img.ConfigName()
		if want := proxy.host() + "/admin/" + comp + "@" + d.String(); mem.Source != want {
			t.Errorf("%s: source %q, want %q", comp, mem.Source, want)
		}
		if mem.ImageID != id.String() || mem.Ref != proxy.host()+"/admin/"+comp+":1" || mem.Version != "1" {
			t.Errorf("%s: %+v", comp, mem)
		}
	}
}

// flakyFile serves one file with ETag and Range support (http.ServeContent), can cut the
// connection half-way through the next GET, and counts the body bytes it sends.
type flakyFile struct {
	mu      sync.Mutex
	data    []byte
	etag    string
	cutNext bool
	sent    int64
	gets    int
}

func (f *flakyFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	data, etag, cut := f.data, f.etag, f.cutNext && r.Method == http.MethodGet
	if cut {
		f.cutNext = false
	}
	if r.Method == http.MethodGet {
		f.gets++
	}
	f.mu.Unlock()
	w.Header().Set("ETag", etag)
	if cut {
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		n, _ := w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		f.add(int64(n))
		panic(http.ErrAbortHandler) // the connection drops
	}
	cw := &countingResponse{ResponseWriter: w}
	http.ServeContent(cw, r, "vulndb.tar.gz", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(data))
	if r.Method == http.MethodGet {
		f.add(cw.n)
	}
}

func (f *flakyFile) add(n int64) {
	f.mu.Lock()
	f.sent += n
	f.mu.Unlock()
}

// takeSent returns the bytes sent since the last call.
func (f *flakyFile) takeSent() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.sent
	f.sent = 0
	return n
}

type countingResponse struct {
	http.ResponseWriter
	n int64
}

func (c *countingResponse) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDownloadResumes: a download cut off half-way continues where it stopped, in the same run
// (retries) or in the next run with the same work directory, and the bundle holds the whole
// file; a file that changed on the server in between is fetched again whole, not spliced.
func TestDownloadResumes(t *testing.T) {
	const size = 2 << 20
	for _, tc := range []struct {
		name    string
		retries int  // DownloadRetries of the first run
		change  bool // the file changes on the server before the second run
	}{
		{name: "next run", retries: -1},
		{name: "same run", retries: 1},
		{name: "changed in between", retries: -1, change: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := &flakyFile{data: randomBytes(t, size), etag: `"v1"`, cutNext: true}
			srv := httptest.NewServer(file)
			defer srv.Close()
			dir := t.TempDir()
			work := filepath.Join(dir, "work")
			out := filepath.Join(dir, "b.tar")
			opts := baseOptions(t, dir, out)
			opts.WorkDir = work
			opts.DownloadRetries = tc.retries
			spec, err := airgap.ParseFileSpec("vulndb:" + srv.URL + "/db/vulndb.tar.gz")
			if err != nil {
				t.Fatal(err)
			}
			opts.Files = append(opts.Files, spec)
			partial := filepath.Join(work, "downloads", "vulndb", "vulndb.tar.gz")

			_, err = airgap.Create(context.Background(), opts)
			if tc.retries >= 0 {
				// Resumed within the run: the whole file crossed the wire once.
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				if sent := file.takeSent(); sent != size {
					t.Errorf("the server sent %d bytes for a %d-byte file; a resumed download sends each byte once", sent, size)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), "run the same command again") {
					t.Fatalf("first run: %v, want a failure that says to run again", err)
				}
				fi, err := os.Stat(partial)
				if err != nil || fi.Size() == 0 || fi.Size() >= size {
					t.Fatalf("partial download after the first run: %v, %v", fi, err)
				}
				file.takeSent()
				if tc.change {
					file.mu.Lock()
					file.data, file.etag = randomBytes(t, size), `"v2"`
					file.mu.Unlock()
				}
				opts.DownloadRetries = -1
				if _, err := airgap.Create(context.Background(), opts); err != nil {
					t.Fatalf("second run: %v", err)
				}
				if sent := file.takeSent(); !tc.change && sent >= size {
					t.Errorf("the second run fetched %d bytes of %d; it must fetch only the rest", sent, size)
				} else if !tc.change && sent != size-fi.Size() {
					t.Errorf("the second run fetched %d bytes, want the %d missing", sent, size-fi.Size())
				}
			}

			b, err := airgap.Open(out)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer b.Close()
			rc, err := b.Open("files/vulndb/vulndb.tar.gz")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			file.mu.Lock()
			want := file.data
			file.mu.Unlock()
			if !bytes.Equal(got, want) {
				t.Fatalf("the bundled file (%d bytes) differs from the server's (%d bytes)", len(got), len(want))
			}
			mem, _ := b.Manifest().Member("files/vulndb/vulndb.tar.gz")
			if mem.Kind != airgap.KindVulnDB || mem.Source != srv.URL+"/db/vulndb.tar.gz" {
				t.Errorf("member %+v", mem)
			}
		})
	}
}

// TestParseFileSpec: --file values.
func TestParseFileSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want airgap.FileSource
		err  string
	}{
		{in: "vulndb:https://example.com/a/db.tar.gz", want: airgap.FileSource{Kind: airgap.KindVulnDB, Name: "db.tar.gz", URL: "https://example.com/a/db.tar.gz"}},
		{in: "other:/srv/notes.txt", want: airgap.FileSource{Kind: airgap.KindOther, Name: "notes.txt", Path: "/srv/notes.txt"}},
		{in: "https://example.com/db.tar.gz", err: "unknown kind \"https\""},
		{in: "image:x.tar", err: "unknown kind"},
		{in: "vulndb:", err: "write KIND:URL"},
		{in: "vulndb:https://example.com/", err: "not a plain file name"},
	} {
		got, err := airgap.ParseFileSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
