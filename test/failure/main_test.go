// Package failure drives a real `wharf serve` with bad input and broken clients and checks the
// registry's promise: every refusal is the OCI error JSON with the spec's status, and nothing
// is lost or half-written — no partial blob, manifest, tag or upload is ever visible, and a
// crash mid-write leaves the store consistent.
//
// Every test runs on the embedded default (SQLite and local disk) and on PostgreSQL with
// S3-compatible storage (MinIO). Besides the API, the tests look at the blob storage itself
// (the data directory, or the bucket) to see that refused writes leave no objects behind.
package failure

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// backend is a storage and database combination the tests run on.
type backend struct {
	name string
	// config returns the config.yaml lines that select the backend ("" is the embedded
	// default, which runs without any config file).
	config func(t *testing.T) string
}

var backends = []backend{
	{"sqlite-disk", func(*testing.T) string { return "" }},
	{"postgres-s3", func(t *testing.T) string { return testservers.PostgresS3Config(t, true) }},
}

// forEachBackend runs fn in one subtest per backend, each with a fresh server whose config is
// the backend's plus extra.
func forEachBackend(t *testing.T, extra string, fn func(t *testing.T, r *registry)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t) + extra
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: cfg})
			fn(t, newRegistry(t, b.name, w, cfg))
		})
	}
}

// registry is a client of one server under test, with a view of its blob storage.
type registry struct {
	backend string
	w       *testservers.Wharf
	client  *http.Client
	objects objectStore
}

func newRegistry(t *testing.T, backendName string, w *testservers.Wharf, cfg string) *registry {
	r := &registry{
		backend: backendName,
		w:       w,
		client: &http.Client{
			Timeout:       2 * time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if m := regexp.MustCompile(`s3_bucket:\s*(\S+)`).FindStringSubmatch(cfg); m != nil {
		r.objects = &bucketStore{client: testservers.MinIO(t).Client(), bucket: m[1], prefix: "wharf/registry/"}
	} else {
		r.objects = diskStore{root: filepath.Join(w.DataDir, "storage")}
	}
	return r
}

// --- blob storage, seen from outside the server ---

// objectStore lists and reads what the storage driver keeps: committed objects and staged
// content, by path relative to the storage root (blobs/sha256/ab/ab..., uploads/ID,
// .staging/uploads/ID on disk, _staging/uploads/ID/OFFSET in a bucket).
type objectStore interface {
	List(t testing.TB) map[string]int64
	Read(t testing.TB, path string) []byte
}

type diskStore struct{ root string }

func (d diskStore) List(t testing.TB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if de.IsDir() {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(d.root, p)
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", d.root, err)
	}
	return out
}

func (d diskStore) Read(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.root, filepath.FromSlash(p)))
	if err != nil {
		t.Fatalf("read stored object: %v", err)
	}
	return b
}

type bucketStore struct {
	client *s3.Client
	bucket string
	prefix string
}

func (b *bucketStore) List(t testing.TB) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string]int64{}
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &b.prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("list bucket %s: %v", b.bucket, err)
		}
		for _, o := range page.Contents {
			out[strings.TrimPrefix(aws.ToString(o.Key), b.prefix)] = aws.ToInt64(o.Size)
		}
	}
	return out
}

func (b *bucketStore) Read(t testing.TB, p string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + p)})
	if err != nil {
		t.Fatalf("read stored object %s: %v", p, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read stored object %s: %v", p, err)
	}
	return data
}

// isBlobObject reports whether a storage path is a committed blob.
func isBlobObject(p string) bool { return strings.HasPrefix(p, "blobs/") }

// isUploadObject reports whether a storage path belongs to an upload session (committed at
// uploads/ID or staged).
func isUploadObject(p string) bool {
	return strings.HasPrefix(p, "uploads/") || strings.HasPrefix(p, ".staging/uploads/") || strings.HasPrefix(p, "_staging/uploads/")
}

// snapshot is the storage before a case runs.
type snapshot map[string]int64

func (r *registry) snapshot(t testing.TB) snapshot { t.Helper(); return r.objects.List(t) }

// expectNoNewObjects fails when storage holds an object that is not in before and that match
// selects: refused writes must leave nothing behind.
func (r *registry) expectNoNewObjects(t testing.TB, before snapshot, what string, match func(string) bool) {
	t.Helper()
	var added []string
	for p, size := range r.objects.List(t) {
		if _, ok := before[p]; !ok && match(p) {
			added = append(added, fmt.Sprintf("%s (%d bytes)", p, size))
		}
	}
	slices.Sort(added)
	if len(added) > 0 {
		t.Errorf("%s: storage holds new objects after a refused write:\n  %s", what, strings.Join(added, "\n  "))
	}
}

// blobObjectPath is where a blob's bytes live in storage.
func blobObjectPath(dg string) string {
	alg, hx, _ := strings.Cut(dg, ":")
	return "blobs/" + alg + "/" + hx[:2] + "/" + hx
}

// --- HTTP ---

// response is a finished HTTP exchange.
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (resp *response) String() string {
	body := string(resp.body)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %s", resp.method, resp.path, resp.status, body)
}

// request is one call: extra headers, and a body (nil for none). With chunked set the body is
// sent without Content-Length.
type request struct {
	header  map[string]string
	body    []byte
	chunked bool
}

// do performs a request with the superuser's basic credentials and reads the whole answer.
func (r *registry) do(t testing.TB, method, path string, req request) *response {
	t.Helper()
	start := time.Now()
	resp, err := r.tryDo(method, path, req)
	if err != nil {
		msg := ""
		if p := r.panicsSince(start); len(p) > 0 {
			msg = "\nthe handler panicked (so the connection closed without an answer):\n  " + strings.Join(p, "\n  ")
		}
		t.Fatalf("%s %s: %v%s", method, path, err, msg)
	}
	return resp
}

// panicsSince returns the handler panics the server logged since start, each with the frame
// in package oci that raised it.
func (r *registry) panicsSince(start time.Time) []string {
	var out []string
	for _, line := range strings.Split(r.w.Logs(), "\n") {
		i := strings.Index(line, "http: panic serving")
		if i < 0 {
			continue
		}
		if ts, _, ok := strings.Cut(strings.TrimPrefix(line, "time="), " "); ok {
			if at, err := time.Parse(time.RFC3339Nano, ts); err == nil && at.Before(start.Add(-time.Second)) {
				continue
			}
		}
		msg := line[i:]
		if j := strings.Index(msg, `\ngoroutine`); j >= 0 {
			msg = msg[:j]
		}
		if j := strings.Index(line, "oci."); j >= 0 {
			frame := line[j:]
			if k := strings.Index(frame, `\n`); k >= 0 {
				frame = frame[:k]
			}
			msg += " (in " + frame + ")"
		}
		out = append(out, msg)
	}
	return out
}

// tryDo is do without failing the test: for clients of a server that may be killed.
func (r *registry) tryDo(method, path string, req request) (*response, error) {
	var body io.Reader = http.NoBody
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequest(method, r.w.URL+path, body)
	if err != nil {
		return nil, err
	}
	switch {
	case req.body != nil && req.chunked:
		hr.ContentLength = -1
		hr.TransferEncoding = []string{"chunked"}
	case req.body != nil:
		hr.ContentLength = int64(len(req.body))
	}
	hr.SetBasicAuth(r.w.User, r.w.Password)
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	hresp, err := r.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &response{method: method, path: path, status: hresp.StatusCode, header: hresp.Header, body: data}, nil
}

// rawExchange writes a request by hand on a new connection: the head (request line and
// headers, Host, Authorization and Connection: close added) and then body. While the body is
// written the response is read, so a server that answers before it has read everything (as it
// should for a body it refuses) is heard. With halfClose the connection's sending side is
// closed after the body — the server then reads EOF where the rest of an announced body would
// be — and the answer is read; without it the connection is closed at once and the answer is
// nil.
func (r *registry) rawExchange(t testing.TB, method, path string, header map[string]string, body []byte, halfClose bool) *response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", r.w.Host, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", r.w.Host, err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, r.w.Host)
	fmt.Fprintf(&head, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(r.w.User+":"+r.w.Password)))
	fmt.Fprintf(&head, "Connection: close\r\n")
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatalf("write request head: %v", err)
	}
	if !halfClose {
		if _, err := conn.Write(body); err != nil {
			t.Fatalf("write request body: %v", err)
		}
		// Give the bytes a moment on the wire; closing right after is what a crashed client does.
		time.Sleep(20 * time.Millisecond)
		conn.Close()
		return nil
	}
	written := make(chan error, 1)
	go func() {
		_, err := conn.Write(body)
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		written <- err
	}()
	hresp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: read response: %v (body write: %v)", method, path, err, <-written)
	}
	data, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	return &response{method: method, path: path, status: hresp.StatusCode, header: hresp.Header, body: data}
}

// ociError is one entry of the OCI error JSON.
type ociError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail"`
}

// expectError checks that resp is the OCI error JSON with the status and code (HEAD answers
// have no body: only the status is checked) and returns the error entry.
func expectError(t testing.TB, resp *response, status int, code string) ociError {
	t.Helper()
	if resp.status != status {
		t.Errorf("%s: status %d, want %d with %s", resp, resp.status, status, code)
		if resp.status < 400 {
			return ociError{}
		}
	}
	if resp.method == http.MethodHead {
		return ociError{}
	}
	e, ok := parseOCIError(t, resp)
	if ok && e.Code != code {
		t.Errorf("%s: code %s, want %s", resp, e.Code, code)
	}
	return e
}

// expectErrorIn checks that resp is the OCI error JSON with one of the codes.
func expectErrorIn(t testing.TB, resp *response, codes ...string) ociError {
	t.Helper()
	e, ok := parseOCIError(t, resp)
	if ok && !slices.Contains(codes, e.Code) {
		t.Errorf("%s: code %s, want one of %v", resp, e.Code, codes)
	}
	return e
}

// parseOCIError reads the first entry of the OCI error JSON, failing the test when resp is
// not that JSON or the entry has no message.
func parseOCIError(t testing.TB, resp *response) (ociError, bool) {
	t.Helper()
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", resp, ct)
	}
	var body struct {
		Errors []ociError `json:"errors"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil || len(body.Errors) == 0 {
		t.Errorf("%s: not the OCI error JSON (%v)", resp, err)
		return ociError{}, false
	}
	e := body.Errors[0]
	if e.Message == "" {
		t.Errorf("%s: error without a message", resp)
	}
	return e, true
}

// expectStatus checks a successful answer.
func expectStatus(t testing.TB, resp *response, status int) {
	t.Helper()
	if resp.status != status {
		t.Fatalf("%s: status %d, want %d", resp, resp.status, status)
	}
}

// --- blobs and uploads ---

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func sha512Digest(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512:" + hex.EncodeToString(s[:])
}

// digestOf hashes b with the algorithm of dg.
func digestOf(dg string, b []byte) string {
	var h hash.Hash = sha256.New()
	if strings.HasPrefix(dg, "sha512:") {
		h = sha512.New()
	}
	h.Write(b)
	alg, _, _ := strings.Cut(dg, ":")
	return alg + ":" + hex.EncodeToString(h.Sum(nil))
}

// randomBytes returns n pseudo-random bytes.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// newRand returns a generator seeded from the clock, logging the seed so that a failure can
// be replayed.
func newRand(t testing.TB) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed>>1|1))
}

// withQuery appends a query parameter to an upload location.
func withQuery(loc, key, value string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + key + "=" + value
}

// startUpload opens an upload session in repo and returns its location.
func (r *registry) startUpload(t testing.TB, repo string) string {
	t.Helper()
	resp := r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", request{})
	expectStatus(t, resp, http.StatusAccepted)
	loc := resp.header.Get("Location")
	if loc == "" {
		t.Fatalf("%s: no Location", resp)
	}
	return loc
}

// uploadOffset returns the bytes an upload session holds, from GET on its location (with the
// response, for status checks). The Range header END is the last byte held; "0-0" is read as
// empty (the tests never leave a session at exactly one byte).
func (r *registry) uploadOffset(t testing.TB, loc string) (int64, *response) {
	t.Helper()
	resp := r.do(t, http.MethodGet, loc, request{})
	if resp.status != http.StatusNoContent {
		return -1, resp
	}
	return parseRangeEnd(t, resp), resp
}

func parseRangeEnd(t testing.TB, resp *response) int64 {
	t.Helper()
	rg := resp.header.Get("Range")
	start, end, ok := strings.Cut(rg, "-")
	n, err := strconv.ParseInt(end, 10, 64)
	if !ok || start != "0" || err != nil {
		t.Fatalf("%s: Range header %q, want 0-END", resp, rg)
	}
	if n == 0 {
		return 0
	}
	return n + 1
}

// patch sends one chunk; with ranged set it carries Content-Range from offset.
func (r *registry) patch(t testing.TB, loc string, offset int64, chunk []byte, ranged bool) *response {
	t.Helper()
	req := request{body: chunk, header: map[string]string{"Content-Type": "application/octet-stream"}}
	if ranged {
		req.header["Content-Range"] = fmt.Sprintf("%d-%d", offset, offset+int64(len(chunk))-1)
	}
	return r.do(t, http.MethodPatch, loc, req)
}

// finish completes an upload with an optional last chunk.
func (r *registry) finish(t testing.TB, loc, dg string, last []byte) *response {
	t.Helper()
	req := request{body: last, header: map[string]string{"Content-Type": "application/octet-stream"}}
	return r.do(t, http.MethodPut, withQuery(loc, "digest", dg), req)
}

// pushBlob uploads content to repo in one POST ?digest= and returns its digest.
func (r *registry) pushBlob(t testing.TB, repo string, content []byte) string {
	t.Helper()
	dg := sha256Digest(content)
	resp := r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+dg,
		request{body: content, header: map[string]string{"Content-Type": "application/octet-stream"}})
	expectStatus(t, resp, http.StatusCreated)
	return dg
}

// pushBlobChunked uploads content to repo in chunks of size chunk with Content-Range.
func (r *registry) pushBlobChunked(t testing.TB, repo string, content []byte, chunk int) string {
	t.Helper()
	dg := sha256Digest(content)
	loc := r.startUpload(t, repo)
	for off := 0; off < len(content); off += chunk {
		end := min(off+chunk, len(content))
		resp := r.patch(t, loc, int64(off), content[off:end], true)
		expectStatus(t, resp, http.StatusAccepted)
		loc = resp.header.Get("Location")
	}
	expectStatus(t, r.finish(t, loc, dg, nil), http.StatusCreated)
	return dg
}

// expectBlob checks that repo serves the blob with exactly content.
func (r *registry) expectBlob(t testing.TB, repo, dg string, content []byte) {
	t.Helper()
	resp := r.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+dg, request{})
	if resp.status != http.StatusOK {
		t.Errorf("%s: want 200 with the blob", resp)
		return
	}
	if !bytes.Equal(resp.body, content) {
		t.Errorf("GET blob %s: %d bytes hashing to %s, want the %d pushed bytes", dg, len(resp.body), digestOf(dg, resp.body), len(content))
	}
}

// expectBlobAbsent checks that repo does not serve the blob: HEAD 404 and GET 404 BLOB_UNKNOWN.
func (r *registry) expectBlobAbsent(t testing.TB, repo, dg string) {
	t.Helper()
	expectError(t, r.do(t, http.MethodHead, "/v2/"+repo+"/blobs/"+dg, request{}), http.StatusNotFound, "BLOB_UNKNOWN")
	expectError(t, r.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+dg, request{}), http.StatusNotFound, "BLOB_UNKNOWN")
}

// expectUploadGone checks that an upload session no longer exists.
func (r *registry) expectUploadGone(t testing.TB, loc string) {
	t.Helper()
	expectError(t, r.do(t, http.MethodGet, loc, request{}), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
}

// --- manifests ---

const (
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mtOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mtOCILayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// descriptor is a content descriptor.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// imageManifest is an OCI image manifest over a config and layers.
func imageManifest(config descriptor, layers ...descriptor) []byte {
	if layers == nil {
		layers = []descriptor{}
	}
	b, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": mtOCIManifest, "config": config, "layers": layers,
	})
	return b
}

// indexManifest is an OCI index over manifests.
func indexManifest(children ...descriptor) []byte {
	if children == nil {
		children = []descriptor{}
	}
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtOCIIndex, "manifests": children})
	return b
}

// putManifest pushes a manifest by tag or digest.
func (r *registry) putManifest(t testing.TB, repo, ref, mediaType string, content []byte) *response {
	t.Helper()
	return r.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, request{body: content, header: map[string]string{"Content-Type": mediaType}})
}

// pushImage pushes a small image (a config and one layer) tagged tag and returns the
// manifest's descriptor.
func (r *registry) pushImage(t testing.TB, rng *rand.Rand, repo, tag string) descriptor {
	t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","n":%d}`, rng.Uint64()))
	layer := randomBytes(rng, 2048)
	m := imageManifest(
		descriptor{mtOCIConfig, r.pushBlob(t, repo, cfg), int64(len(cfg))},
		descriptor{mtOCILayer, r.pushBlob(t, repo, layer), int64(len(layer))})
	expectStatus(t, r.putManifest(t, repo, tag, mtOCIManifest, m), http.StatusCreated)
	return descriptor{mtOCIManifest, sha256Digest(m), int64(len(m))}
}

// tags lists every tag of repo, following pagination.
func (r *registry) tags(t testing.TB, repo string) []string {
	t.Helper()
	var all []string
	next := "/v2/" + repo + "/tags/list"
	for next != "" {
		resp := r.do(t, http.MethodGet, next, request{})
		expectStatus(t, resp, http.StatusOK)
		var page struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(resp.body, &page); err != nil {
			t.Fatalf("%s: %v", resp, err)
		}
		all = append(all, page.Tags...)
		next = nextLink(resp.header.Get("Link"))
	}
	return all
}

// catalog lists every repository, following pagination.
func (r *registry) catalog(t testing.TB) []string {
	t.Helper()
	var all []string
	next := "/v2/_catalog"
	for next != "" {
		resp := r.do(t, http.MethodGet, next, request{})
		expectStatus(t, resp, http.StatusOK)
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal(resp.body, &page); err != nil {
			t.Fatalf("%s: %v", resp, err)
		}
		all = append(all, page.Repositories...)
		next = nextLink(resp.header.Get("Link"))
	}
	return all
}

// nextLink reads the target of a Link: <...>; rel="next" header.
func nextLink(h string) string {
	if h == "" {
		return ""
	}
	start, end := strings.Index(h, "<"), strings.Index(h, ">")
	if start < 0 || end < start {
		return ""
	}
	return h[start+1 : end]
}

// expectManifestAbsent checks that repo has no manifest by that reference.
func (r *registry) expectManifestAbsent(t testing.TB, repo, ref string) {
	t.Helper()
	expectError(t, r.do(t, http.MethodHead, "/v2/"+repo+"/manifests/"+ref, request{}), http.StatusNotFound, "MANIFEST_UNKNOWN")
	expectError(t, r.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, request{}), http.StatusNotFound, "MANIFEST_UNKNOWN")
}

// waitLogged waits until the server has logged the end of the request with that X-Request-ID:
// after a client vanished mid-request, the server's handling of it is over.
func (r *registry) waitLogged(t testing.TB, requestID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, line := range strings.Split(r.w.Logs(), "\n") {
			if strings.Contains(line, "msg=request ") && strings.Contains(line, "request_id="+requestID) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log the end of request %s within 30s", requestID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chunkEncode encodes body with the chunked transfer coding (in chunks of at most 64 KiB),
// with the closing zero-length chunk when complete is set.
func chunkEncode(body []byte, complete bool) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	if complete {
		b.WriteString("0\r\n\r\n")
	}
	return b.Bytes()
}

// pushMethod is a way to upload a blob.
type pushMethod int

const (
	// monolithicPost is POST ?digest= with the whole blob.
	monolithicPost pushMethod = iota
	// monolithicPut is POST, then PUT ?digest= with the whole blob.
	monolithicPut
	// chunked is POST, PATCHes with Content-Range, then PUT ?digest=.
	chunked
	// streamed is POST, one PATCH without Content-Range (sent with chunked transfer coding),
	// then PUT ?digest=.
	streamed
	// chunkedLastPut is chunked with the last chunk sent with the PUT ?digest=.
	chunkedLastPut
)

func (m pushMethod) String() string {
	return [...]string{"monolithic-post", "monolithic-put", "chunked", "streamed", "chunked-last-put"}[m]
}

// blobPush is one blob upload that reports instead of failing the test, for concurrent
// clients and for clients of a server that is killed under them.
type blobPush struct {
	r       *registry
	repo    string
	content []byte
	method  pushMethod
	// chunk is the PATCH size of chunked uploads.
	chunk int
	// opened, when set, is called once the session exists (not for monolithicPost) and may
	// block, to line clients up.
	opened func(loc string)
	// progress, when set, is told before each request with a body what the server holds of
	// the session (acked) and what the request adds (sending), and whether it is the final PUT.
	progress func(loc string, acked, sending int64, finishing bool)
	// done, when set, is called when the final PUT of a session was accepted.
	done func(loc string)
}

// run uploads the blob and returns the final answer, which is an error unless it is 201.
func (p blobPush) run() (string, error) {
	dg := sha256Digest(p.content)
	octet := map[string]string{"Content-Type": "application/octet-stream"}
	call := func(method, path string, req request, want int) (*response, error) {
		resp, err := p.r.tryDo(method, path, req)
		if err != nil {
			return nil, err
		}
		if resp.status != want {
			return resp, &statusError{resp: resp, want: want}
		}
		return resp, nil
	}
	if p.method == monolithicPost {
		_, err := call(http.MethodPost, "/v2/"+p.repo+"/blobs/uploads/?digest="+dg, request{body: p.content, header: octet}, http.StatusCreated)
		return dg, err
	}
	resp, err := call(http.MethodPost, "/v2/"+p.repo+"/blobs/uploads/", request{}, http.StatusAccepted)
	if err != nil {
		return dg, err
	}
	loc := resp.header.Get("Location")
	if p.opened != nil {
		p.opened(loc)
	}
	report := func(acked, sending int64, finishing bool) {
		if p.progress != nil {
			p.progress(loc, acked, sending, finishing)
		}
	}
	var last []byte
	finalHeader := octet
	switch p.method {
	case monolithicPut:
		last = p.content
	case chunked, chunkedLastPut:
		body := p.content
		if p.method == chunkedLastPut {
			n := min(p.chunk, len(p.content)/2+1)
			body, last = p.content[:len(p.content)-n], p.content[len(p.content)-n:]
			finalHeader = map[string]string{"Content-Type": "application/octet-stream",
				"Content-Range": fmt.Sprintf("%d-%d", len(body), len(p.content)-1)}
		}
		for off := 0; off < len(body); off += p.chunk {
			end := min(off+p.chunk, len(body))
			report(int64(off), int64(end-off), false)
			resp, err := call(http.MethodPatch, loc, request{body: body[off:end], header: map[string]string{
				"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", off, end-1)}}, http.StatusAccepted)
			if err != nil {
				return dg, err
			}
			loc = resp.header.Get("Location")
		}
	case streamed:
		report(0, int64(len(p.content)), false)
		resp, err := call(http.MethodPatch, loc, request{body: p.content, chunked: true, header: octet}, http.StatusAccepted)
		if err != nil {
			return dg, err
		}
		loc = resp.header.Get("Location")
	}
	acked := int64(len(p.content) - len(last))
	report(acked, int64(len(last)), true)
	resp, err = call(http.MethodPut, withQuery(loc, "digest", dg), request{body: last, header: finalHeader}, http.StatusCreated)
	if err == nil && resp.header.Get("Docker-Content-Digest") != dg {
		err = &statusError{resp: resp, want: http.StatusCreated, why: "Docker-Content-Digest is not " + dg}
	}
	if err == nil && p.done != nil {
		p.done(loc)
	}
	return dg, err
}

// statusError is an answer other than the one a step of a push expects: the server was there
// and said no (as opposed to a connection that failed).
type statusError struct {
	resp *response
	want int
	why  string
}

func (e *statusError) Error() string {
	if e.why != "" {
		return fmt.Sprintf("%s: %s", e.resp, e.why)
	}
	return fmt.Sprintf("%s: want %d", e.resp, e.want)
}
