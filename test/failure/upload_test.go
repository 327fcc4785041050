package failure

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestInterruptedUpload cuts clients off in the middle of a request body: a monolithic PUT, a
// last chunk, a streamed PATCH and a ranged PATCH, each announcing Content-Length N and
// sending N/2 bytes. Some clients shut down their sending side and read the answer, which must
// be a client error (the body was incomplete), never success or an internal error; others close
// the connection at once. Afterwards the blob is not visible and no blob object exists; the
// session still holds exactly what its last complete request delivered (GET Range); and the
// client resumes with a PATCH from that offset, finishes with PUT ?digest= and gets its bytes.
// A monolithic POST ?digest= cut short leaves nothing, and the same push then succeeds.
func TestInterruptedUpload(t *testing.T) {
	cases := []struct {
		name string
		// size is the blob's size; acked the bytes a first, complete PATCH delivers.
		size, acked int
		method      string
		// ranged sends Content-Range with the interrupted request.
		ranged bool
		// halfClose shuts the sending side and reads the answer; else the connection is closed.
		halfClose bool
	}{
		{"put-monolithic-small", 200 << 10, 0, http.MethodPut, false, true},
		{"put-monolithic-large", 3 << 20, 0, http.MethodPut, false, true},
		{"put-last-chunk", 300 << 10, 100 << 10, http.MethodPut, true, true},
		{"patch-streamed-small", 200 << 10, 0, http.MethodPatch, false, true},
		{"patch-streamed-large", 3 << 20, 0, http.MethodPatch, false, true},
		{"patch-ranged-after-data", 3 << 20, 1 << 20, http.MethodPatch, true, true},
		{"patch-streamed-closed", 3 << 20, 512 << 10, http.MethodPatch, false, false},
		{"patch-ranged-closed", 300 << 10, 100 << 10, http.MethodPatch, true, false},
		{"put-monolithic-closed", 200 << 10, 0, http.MethodPut, false, false},
	}
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				repo := "admin/interrupted-" + tc.name
				content := randomBytes(rng, tc.size)
				dg := sha256Digest(content)
				before := r.snapshot(t)
				loc := r.startUpload(t, repo)
				if tc.acked > 0 {
					resp := r.patch(t, loc, 0, content[:tc.acked], true)
					expectStatus(t, resp, http.StatusAccepted)
					loc = resp.header.Get("Location")
				}
				rest := content[tc.acked:]
				id := fmt.Sprintf("interrupted-%s-%d", r.backend, i)
				hdr := map[string]string{
					"Content-Type":   "application/octet-stream",
					"Content-Length": strconv.Itoa(len(rest)),
					"X-Request-ID":   id,
				}
				if tc.ranged {
					hdr["Content-Range"] = fmt.Sprintf("%d-%d", tc.acked, tc.size-1)
				}
				path := loc
				if tc.method == http.MethodPut {
					path = withQuery(loc, "digest", dg)
				}
				if resp := r.rawExchange(t, tc.method, path, hdr, rest[:len(rest)/2], tc.halfClose); resp != nil {
					expectIncompleteBodyRefused(t, resp)
				}
				r.waitLogged(t, id)

				r.expectBlobAbsent(t, repo, dg)
				r.expectNoNewObjects(t, before, "blobs after the interrupted request", isBlobObject)
				off, resp := r.uploadOffset(t, loc)
				if resp.status != http.StatusNoContent {
					t.Fatalf("%s: the upload session is lost after an interrupted request (want 204 with Range 0-%d)", resp, tc.acked-1)
				}
				if off != int64(tc.acked) {
					t.Errorf("after the interrupted request the session holds %d bytes, want %d (what the last complete request delivered)", off, tc.acked)
				}

				// Resume from where the server says the session is.
				resp = r.patch(t, loc, off, content[off:], true)
				expectStatus(t, resp, http.StatusAccepted)
				if got := parseRangeEnd(t, resp); got != int64(tc.size) {
					t.Errorf("%s: Range says %d bytes after resuming, want %d", resp, got, tc.size)
				}
				expectStatus(t, r.finish(t, resp.header.Get("Location"), dg, nil), http.StatusCreated)
				r.expectBlob(t, repo, dg, content)
				r.expectUploadGone(t, loc)
				r.expectNoNewObjects(t, before, "blobs after the resumed upload", func(p string) bool {
					return isBlobObject(p) && p != blobObjectPath(dg)
				})
				r.expectNoNewObjects(t, before, "uploads after the resumed upload", isUploadObject)
			})
		}

		t.Run("post-monolithic", func(t *testing.T) {
			repo := "admin/interrupted-post"
			for i, size := range []int{200 << 10, 3 << 20} {
				content := randomBytes(rng, size)
				dg := sha256Digest(content)
				before := r.snapshot(t)
				id := fmt.Sprintf("interrupted-post-%s-%d", r.backend, i)
				resp := r.rawExchange(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+dg, map[string]string{
					"Content-Type":   "application/octet-stream",
					"Content-Length": strconv.Itoa(size),
					"X-Request-ID":   id,
				}, content[:size/2], true)
				expectIncompleteBodyRefused(t, resp)
				r.waitLogged(t, id)
				r.expectBlobAbsent(t, repo, dg)
				r.expectNoNewObjects(t, before, "blobs after the interrupted POST", isBlobObject)
				r.pushBlob(t, repo, content)
				r.expectBlob(t, repo, dg, content)
			}
		})
	})
}

// expectIncompleteBodyRefused checks the answer to a request whose body ended early: a client
// error in the OCI error JSON (the upload was invalid, or its size did not match), not success
// and not an internal server error.
func expectIncompleteBodyRefused(t testing.TB, resp *response) {
	t.Helper()
	if resp.status != http.StatusBadRequest {
		t.Errorf("%s: a request whose body ended early must be refused with 400 BLOB_UPLOAD_INVALID (or SIZE_INVALID)", resp)
		return
	}
	expectErrorIn(t, resp, "BLOB_UPLOAD_INVALID", "SIZE_INVALID")
}

// TestWrongDigest finishes uploads with a digest that does not match the bytes: monolithic
// (POST and PUT), chunked, with a last chunk, streamed, large, and with sha512. Each is refused
// with 400 DIGEST_INVALID; neither the claimed nor the real digest becomes visible; the session
// is gone (GET 404 BLOB_UPLOAD_UNKNOWN); and storage holds no new blob or upload object. The
// same bytes pushed correctly afterwards are accepted.
func TestWrongDigest(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		method pushMethod
		// lastChunk is sent with the PUT of a chunked upload.
		lastChunk int
		sha512    bool
	}{
		{"monolithic-post", 4 << 10, monolithicPost, 0, false},
		{"monolithic-put", 4 << 10, monolithicPut, 0, false},
		{"chunked", 300 << 10, chunked, 0, false},
		{"chunked-last-chunk", 300 << 10, chunked, 100 << 10, false},
		{"streamed", 300 << 10, streamed, 0, false},
		{"large-monolithic-put", 3 << 20, monolithicPut, 0, false},
		{"sha512-monolithic-post", 4 << 10, monolithicPost, 0, true},
		{"sha512-chunked", 300 << 10, chunked, 0, true},
	}
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				repo := "admin/wrong-digest-" + tc.name
				content := randomBytes(rng, tc.size)
				real := sha256Digest(content)
				wrong := sha256Digest(append([]byte("not "), content...))
				if tc.sha512 {
					real = sha512Digest(content)
					wrong = sha512Digest(append([]byte("not "), content...))
				}
				// The repository exists, so that "not visible" is about the blob.
				r.pushBlob(t, repo, []byte("something else"))
				before := r.snapshot(t)
				octet := map[string]string{"Content-Type": "application/octet-stream"}
				var resp *response
				loc := ""
				switch tc.method {
				case monolithicPost:
					resp = r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+wrong, request{body: content, header: octet})
				case monolithicPut:
					loc = r.startUpload(t, repo)
					resp = r.finish(t, loc, wrong, content)
				case chunked:
					loc = r.startUpload(t, repo)
					body := content[:len(content)-tc.lastChunk]
					for off := 0; off < len(body); off += 128 << 10 {
						end := min(off+128<<10, len(body))
						p := r.patch(t, loc, int64(off), body[off:end], true)
						expectStatus(t, p, http.StatusAccepted)
					}
					var last []byte
					if tc.lastChunk > 0 {
						last = content[len(body):]
					}
					resp = r.finish(t, loc, wrong, last)
				case streamed:
					loc = r.startUpload(t, repo)
					expectStatus(t, r.do(t, http.MethodPatch, loc, request{body: content, chunked: true, header: octet}), http.StatusAccepted)
					resp = r.finish(t, loc, wrong, nil)
				}
				expectError(t, resp, http.StatusBadRequest, "DIGEST_INVALID")
				r.expectBlobAbsent(t, repo, wrong)
				r.expectBlobAbsent(t, repo, real)
				if loc != "" {
					r.expectUploadGone(t, loc)
				}
				r.expectNoNewObjects(t, before, "blobs", isBlobObject)
				r.expectNoNewObjects(t, before, "uploads", isUploadObject)

				// The right digest still works.
				expectStatus(t, r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+real, request{body: content, header: octet}), http.StatusCreated)
				r.expectBlob(t, repo, real, content)
			})
		}
	})
}

// TestBadChunks sends chunks that do not fit the session: a Content-Range longer or shorter
// than the body, chunks that leave a gap, overlap or rewind, malformed and reversed ranges, a
// final PUT whose chunk is short, a chunk sent with chunked transfer coding that is shorter
// than its range, and a chunk whose connection is cut. Each is refused (416 RANGE_INVALID where
// the range is wrong) and the session keeps exactly what it held; then the client finishes the
// upload correctly.
func TestBadChunks(t *testing.T) {
	const size = 3000
	cases := []struct {
		name string
		// have is what the session holds before the bad chunk.
		have int
		// contentRange, bodyLen and the method describe the bad request.
		contentRange string
		bodyLen      int
		method       string
		// transfer is "chunked" to send without Content-Length, "cut" to close mid-body.
		transfer string
		status   int
		codes    []string
	}{
		{"short-body-from-empty", 0, "0-999", 500, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"short-body", 1000, "1000-1999", 500, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"long-body", 1000, "1000-1499", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"gap", 1000, "2000-2999", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"start-beyond-size-from-empty", 0, "1000-1999", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"overlap", 1000, "500-1499", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"rewind", 1000, "0-999", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"malformed", 1000, "bytes=1000-", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"reversed", 1000, "1999-1000", 1000, http.MethodPatch, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"put-short-last-chunk", 1000, "1000-2999", 1000, http.MethodPut, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"put-gap", 1000, "2000-2999", 1000, http.MethodPut, "", http.StatusRequestedRangeNotSatisfiable, []string{"RANGE_INVALID"}},
		{"chunked-transfer-short", 1000, "1000-1999", 500, http.MethodPatch, "chunked", 0, []string{"RANGE_INVALID", "SIZE_INVALID"}},
		{"chunked-transfer-long", 1000, "1000-1499", 1000, http.MethodPatch, "chunked", 0, []string{"RANGE_INVALID", "SIZE_INVALID"}},
		{"cut-connection", 1000, "1000-1999", 1000, http.MethodPatch, "cut", 0, nil},
		{"cut-connection-from-empty", 0, "0-999", 1000, http.MethodPatch, "cut", 0, nil},
	}
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				repo := "admin/bad-chunks"
				content := randomBytes(rng, size)
				dg := sha256Digest(content)
				loc := r.startUpload(t, repo)
				if tc.have > 0 {
					expectStatus(t, r.patch(t, loc, 0, content[:tc.have], true), http.StatusAccepted)
				}
				body := randomBytes(rng, tc.bodyLen)
				path := loc
				if tc.method == http.MethodPut {
					path = withQuery(loc, "digest", dg)
				}
				hdr := map[string]string{"Content-Type": "application/octet-stream", "Content-Range": tc.contentRange}
				switch tc.transfer {
				case "":
					expectError(t, r.do(t, tc.method, path, request{body: body, header: hdr}), tc.status, tc.codes[0])
				case "chunked":
					resp := r.do(t, tc.method, path, request{body: body, header: hdr, chunked: true})
					if resp.status != http.StatusRequestedRangeNotSatisfiable && resp.status != http.StatusBadRequest {
						t.Errorf("%s: want 416 RANGE_INVALID or 400 SIZE_INVALID", resp)
					}
					expectErrorIn(t, resp, tc.codes...)
				case "cut":
					id := fmt.Sprintf("bad-chunk-%s-%d", r.backend, i)
					hdr["Content-Length"] = strconv.Itoa(len(body))
					hdr["X-Request-ID"] = id
					r.rawExchange(t, tc.method, path, hdr, body[:len(body)/2], false)
					r.waitLogged(t, id)
				}
				off, resp := r.uploadOffset(t, loc)
				if resp.status != http.StatusNoContent {
					t.Fatalf("%s: the session is lost after a refused chunk", resp)
				}
				if off != int64(tc.have) {
					t.Errorf("after the refused chunk the session holds %d bytes, want %d", off, tc.have)
				}
				r.expectBlobAbsent(t, repo, dg)

				// The session is still good: finish it from where it is.
				resp = r.patch(t, loc, off, content[off:], true)
				expectStatus(t, resp, http.StatusAccepted)
				expectStatus(t, r.finish(t, loc, dg, nil), http.StatusCreated)
				r.expectBlob(t, repo, dg, content)
			})
		}
	})
}

// TestMaximumLayerSize runs a server with MAXIMUM_LAYER_SIZE: 1M and pushes 2 MiB blobs in
// every way: monolithic POST and PUT, chunked (the chunk that crosses the limit is refused),
// a streamed PATCH, a too-large last chunk on PUT, and a body without Content-Length. Each is
// refused with 413 SIZE_INVALID, the session is gone, and storage holds no new blob or upload
// object. A blob of exactly 1 MiB is accepted.
func TestMaximumLayerSize(t *testing.T) {
	const limit = 1 << 20
	forEachBackend(t, "MAXIMUM_LAYER_SIZE: 1M\n", func(t *testing.T, r *registry) {
		rng := newRand(t)
		repo := "admin/max-layer"
		r.pushBlob(t, repo, []byte("small"))
		octet := map[string]string{"Content-Type": "application/octet-stream"}
		tooLarge := func(t *testing.T, resp *response) {
			t.Helper()
			expectError(t, resp, http.StatusRequestEntityTooLarge, "SIZE_INVALID")
		}
		cases := []struct {
			name string
			// push sends the blob and returns the refusal and the session (if any).
			push func(t *testing.T, content []byte, dg string) (*response, string)
		}{
			{"monolithic-post", func(t *testing.T, content []byte, dg string) (*response, string) {
				return r.rawExchange(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+dg, map[string]string{
					"Content-Type": "application/octet-stream", "Content-Length": strconv.Itoa(len(content))}, content, true), ""
			}},
			{"monolithic-put", func(t *testing.T, content []byte, dg string) (*response, string) {
				loc := r.startUpload(t, repo)
				return r.rawExchange(t, http.MethodPut, withQuery(loc, "digest", dg), map[string]string{
					"Content-Type": "application/octet-stream", "Content-Length": strconv.Itoa(len(content))}, content, true), loc
			}},
			{"chunked", func(t *testing.T, content []byte, dg string) (*response, string) {
				loc := r.startUpload(t, repo)
				var resp *response
				for off := 0; off < len(content); off += 512 << 10 {
					resp = r.patch(t, loc, int64(off), content[off:off+512<<10], true)
					if off+512<<10 <= limit {
						expectStatus(t, resp, http.StatusAccepted)
						continue
					}
					break
				}
				return resp, loc
			}},
			{"streamed-patch", func(t *testing.T, content []byte, dg string) (*response, string) {
				loc := r.startUpload(t, repo)
				return r.rawExchange(t, http.MethodPatch, loc, map[string]string{
					"Content-Type": "application/octet-stream", "Content-Length": strconv.Itoa(len(content))}, content, true), loc
			}},
			{"put-last-chunk", func(t *testing.T, content []byte, dg string) (*response, string) {
				loc := r.startUpload(t, repo)
				expectStatus(t, r.patch(t, loc, 0, content[:768<<10], true), http.StatusAccepted)
				rest := content[768<<10:]
				return r.rawExchange(t, http.MethodPut, withQuery(loc, "digest", dg), map[string]string{
					"Content-Type": "application/octet-stream", "Content-Length": strconv.Itoa(len(rest)),
					"Content-Range": fmt.Sprintf("%d-%d", 768<<10, len(content)-1)}, rest, true), loc
			}},
			{"no-content-length", func(t *testing.T, content []byte, dg string) (*response, string) {
				return r.rawExchange(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+dg, map[string]string{
					"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"}, chunkEncode(content, true), true), ""
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				content := randomBytes(rng, 2<<20)
				dg := sha256Digest(content)
				before := r.snapshot(t)
				resp, loc := tc.push(t, content, dg)
				tooLarge(t, resp)
				r.expectBlobAbsent(t, repo, dg)
				if loc != "" {
					r.expectUploadGone(t, loc)
				}
				r.expectNoNewObjects(t, before, "blobs", isBlobObject)
				r.expectNoNewObjects(t, before, "uploads", isUploadObject)
			})
		}
		t.Run("exactly-the-limit", func(t *testing.T) {
			content := randomBytes(rng, limit)
			dg := r.pushBlobChunked(t, repo, content, 256<<10)
			r.expectBlob(t, repo, dg, content)
			content = randomBytes(rng, limit)
			expectStatus(t, r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+sha256Digest(content),
				request{body: content, header: octet}), http.StatusCreated)
		})
	})
}

// TestConcurrentSameBlob has several clients push the same blob at the same moment, each in
// its own session and in every upload style, into one repository and into different ones.
// Every client gets 201, every repository serves the right bytes, storage holds exactly one
// object for the digest (and no other new blob object), and no upload object is left.
func TestConcurrentSameBlob(t *testing.T) {
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		for round, size := range []int{3 << 20, 200 << 10, 3 << 20} {
			t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
				content := randomBytes(rng, size)
				dg := sha256Digest(content)
				const clients = 10
				repos := make([]string, clients)
				for i := range repos {
					repos[i] = "admin/same-blob"
					if i >= clients/2 {
						repos[i] = fmt.Sprintf("admin/same-blob-%d-%d", round, i)
					}
					// Create the repositories first: the race is about the blob.
					r.pushBlob(t, repos[i], []byte(repos[i]))
				}
				before := r.snapshot(t)
				var opened sync.WaitGroup
				opened.Add(clients)
				start := make(chan struct{})
				errs := make([]error, clients)
				var wg sync.WaitGroup
				for i := range clients {
					wg.Add(1)
					method := pushMethod(i % 5)
					p := blobPush{r: r, repo: repos[i], content: content, method: method, chunk: 1 << 20,
						opened: func(string) { opened.Done(); <-start }}
					go func() {
						defer wg.Done()
						if method == monolithicPost {
							opened.Done()
							<-start
						}
						_, errs[i] = p.run()
					}()
				}
				opened.Wait()
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("client %d (%s into %s): %v", i, pushMethod(i%5), repos[i], err)
					}
				}
				for _, repo := range repos {
					r.expectBlob(t, repo, dg, content)
				}
				after := r.objects.List(t)
				if n, ok := after[blobObjectPath(dg)]; !ok || n != int64(size) {
					t.Errorf("storage has no %d-byte object at %s (has %d)", size, blobObjectPath(dg), n)
				}
				r.expectNoNewObjects(t, before, "blobs", func(p string) bool { return isBlobObject(p) && p != blobObjectPath(dg) })
				r.expectNoNewObjects(t, before, "uploads", isUploadObject)
			})
		}
	})
}

// TestBlobRanges downloads parts of blobs with Range: satisfiable ranges get 206 with the
// right bytes and Content-Range; ranges outside the blob, reversed ones, and any range of the
// empty blob get 416 RANGE_INVALID with Content-Range bytes */SIZE; a Range in a unit the
// registry does not know is ignored (RFC 9110: the whole blob, 200).
func TestBlobRanges(t *testing.T) {
	forEachBackend(t, "", func(t *testing.T, r *registry) {
		rng := newRand(t)
		repo := "admin/ranges"
		content := randomBytes(rng, 1000)
		dg := r.pushBlob(t, repo, content)
		empty := r.pushBlob(t, repo, []byte{})
		get := func(dg, rg string) *response {
			return r.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+dg, request{header: map[string]string{"Range": rg}})
		}
		for _, tc := range []struct {
			rg         string
			start, end int
		}{
			{"bytes=0-9", 0, 9}, {"bytes=990-", 990, 999}, {"bytes=-10", 990, 999}, {"bytes=0-5000", 0, 999},
			{"bytes=-5000", 0, 999}, {"bytes=999-999", 999, 999},
		} {
			t.Run(tc.rg, func(t *testing.T) {
				resp := get(dg, tc.rg)
				expectStatus(t, resp, http.StatusPartialContent)
				if want := fmt.Sprintf("bytes %d-%d/1000", tc.start, tc.end); resp.header.Get("Content-Range") != want {
					t.Errorf("%s: Content-Range %q, want %q", resp, resp.header.Get("Content-Range"), want)
				}
				if string(resp.body) != string(content[tc.start:tc.end+1]) {
					t.Errorf("Range %s: got %d bytes that are not bytes %d-%d", tc.rg, len(resp.body), tc.start, tc.end)
				}
			})
		}
		for _, tc := range []struct {
			name, dg, rg string
			size         int
		}{
			{"beyond-the-end", dg, "bytes=1000-", 1000},
			{"reversed", dg, "bytes=10-5", 1000},
			{"empty-blob-suffix", empty, "bytes=-1", 0},
			{"empty-blob-from-start", empty, "bytes=0-", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := get(tc.dg, tc.rg)
				expectError(t, resp, http.StatusRequestedRangeNotSatisfiable, "RANGE_INVALID")
				if want := fmt.Sprintf("bytes */%d", tc.size); resp.header.Get("Content-Range") != want {
					t.Errorf("%s: Content-Range %q, want %q", resp, resp.header.Get("Content-Range"), want)
				}
			})
		}
		t.Run("unknown-unit", func(t *testing.T) {
			resp := get(dg, "items=0-9")
			if resp.status != http.StatusOK || string(resp.body) != string(content) {
				t.Errorf("%s: a Range in an unknown unit must be ignored (200 with the whole blob)", resp)
			}
		})
	})
}
