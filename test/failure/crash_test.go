package failure

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestCrashDuringPushes kills the server with SIGKILL while several clients push: blobs of a
// few KiB to a few MiB in every upload style (monolithic POST and PUT, chunked with and
// without the last chunk on the PUT, streamed),
// image manifests with fresh tags, indexes over them, and a tag that keeps moving. After each
// kill the server restarts on the same data and the test checks, through the API and in
// storage, that the crash lost nothing it had acknowledged and left nothing half-written:
//
//   - every repository with an acknowledged push is in the catalog;
//   - every acknowledged tag still points at its manifest;
//   - every tag of every repository resolves to a manifest whose content hashes to its digest,
//     whose blobs are all served with bytes that hash to their digests, and whose index
//     children all resolve;
//   - every object under blobs/ in storage hashes to its own name (no partial blob at a blob
//     path);
//   - every upload session a client had open holds exactly what the server acknowledged (or,
//     for a request in flight at the kill, what that request completed), and the client can
//     resume it and finish it; a session that vanished had its final PUT in flight and its
//     blob is visible; a finished session is gone;
//   - new pushes succeed.
//
// Each backend goes through several rounds on the same data, killed at different moments.
func TestCrashDuringPushes(t *testing.T) {
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	const pushers = 4
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t)
			w := testservers.StartWharf(t, testservers.WharfOptions{Config: cfg})
			r := newRegistry(t, b.name, w, cfg)
			rng := newRand(t)
			h := &history{acked: map[string]map[string]ackedManifest{}, sessions: map[string]*session{}}
			for round := range rounds {
				t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
					killAfter := time.Duration(300+rng.IntN(2700)) * time.Millisecond
					h.pushAndKill(t, r, rng, round, pushers, killAfter)
					w.Restart(t)
					h.verify(t, r)
					h.resumeSessions(t, r)
					for repo := range h.acked {
						tag := fmt.Sprintf("after-crash-%d", round)
						h.ack(repo, tag, r.pushImage(t, rng, repo, tag).Digest, false)
					}
					if t.Failed() {
						t.Logf("errors the restarted server logged:\n%s", errorLines(w.Logs()))
					}
				})
			}
		})
	}
}

// ackedManifest is a manifest push the server answered 201.
type ackedManifest struct {
	digest string
	// moving tags may have been moved by a later push that was in flight at the kill.
	moving bool
}

// session is an upload session a client opened, as far as the client knows.
type session struct {
	repo    string
	loc     string
	content []byte
	// acked is what the server has acknowledged; sending what the request in flight adds.
	acked, sending int64
	// finishing is set while the final PUT is in flight; done once it was accepted.
	finishing, done bool
}

// history is what the pushers were told: acknowledged manifests by repository and tag, and
// the upload sessions they opened.
type history struct {
	mu       sync.Mutex
	acked    map[string]map[string]ackedManifest
	sessions map[string]*session
	failures []string
	inFlight atomic.Int64
}

func (h *history) ack(repo, tag, dg string, moving bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.acked[repo] == nil {
		h.acked[repo] = map[string]ackedManifest{}
	}
	h.acked[repo][tag] = ackedManifest{digest: dg, moving: moving}
}

func (h *history) fail(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, fmt.Sprintf(format, args...))
}

// pushAndKill runs the pushers and kills the server with SIGKILL after killAfter, at a moment
// when requests are in flight, then waits for every pusher to give up.
func (h *history) pushAndKill(t *testing.T, r *registry, rng *rand.Rand, round, pushers int, killAfter time.Duration) {
	h.failures = nil
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var pushes atomic.Int64
	for id := range pushers {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.pusher(r, rand.New(rand.NewPCG(seed, uint64(id))), round, id, stop, &pushes)
		}()
	}
	time.Sleep(killAfter)
	for deadline := time.Now().Add(2 * time.Second); h.inFlight.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	inFlight := h.inFlight.Load()
	r.w.Kill()
	close(stop)
	wg.Wait()
	t.Logf("killed the server %v after the pushes started, with %d requests in flight; %d manifests acknowledged in this round",
		killAfter, inFlight, pushes.Load())
	for _, f := range h.failures {
		t.Errorf("before the kill: %s", f)
	}
}

// pusher pushes images until the server stops answering.
func (h *history) pusher(r *registry, rng *rand.Rand, round, id int, stop <-chan struct{}, pushes *atomic.Int64) {
	var mine []descriptor
	// do reports false when the server is gone.
	do := func(method, p string, req request, want int) (*response, bool) {
		h.inFlight.Add(1)
		resp, err := r.tryDo(method, p, req)
		h.inFlight.Add(-1)
		if err != nil {
			return nil, false
		}
		if resp.status != want {
			h.fail("pusher %d: %s: want %d", id, resp, want)
			return nil, false
		}
		return resp, true
	}
	push := func(repo string, content []byte, method pushMethod) (descriptor, bool) {
		p := blobPush{r: r, repo: repo, content: content, method: method, chunk: 256 << 10 * (1 + rng.IntN(4)),
			progress: func(loc string, acked, sending int64, finishing bool) {
				h.mu.Lock()
				defer h.mu.Unlock()
				s := h.sessions[loc]
				if s == nil {
					s = &session{repo: repo, loc: loc, content: content}
					h.sessions[loc] = s
				}
				s.acked, s.sending, s.finishing = acked, sending, finishing
			},
			done: func(loc string) {
				h.mu.Lock()
				defer h.mu.Unlock()
				if s := h.sessions[loc]; s != nil {
					s.done, s.acked, s.sending, s.finishing = true, int64(len(content)), 0, false
				}
			},
		}
		h.inFlight.Add(1)
		dg, err := p.run()
		h.inFlight.Add(-1)
		var se *statusError
		if errors.As(err, &se) {
			h.fail("pusher %d: %s upload of %d bytes: %v", id, method, len(content), err)
		}
		return descriptor{mtOCILayer, dg, int64(len(content))}, err == nil
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		repo := fmt.Sprintf("admin/crash-%d", (id+n)%3)
		if n%7 == 6 {
			repo = fmt.Sprintf("admin/crash-p%d", id)
		}
		var layers []descriptor
		for range 1 + rng.IntN(3) {
			size := 1<<10 + rng.IntN(256<<10)
			if rng.IntN(8) == 0 {
				size = 1<<20 + rng.IntN(3<<20)
			}
			d, ok := push(repo, randomBytes(rng, size), pushMethod(rng.IntN(5)))
			if !ok {
				return
			}
			layers = append(layers, d)
		}
		cfgBytes := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","pusher":%d,"n":%d,"r":%d}`, id, n, rng.Uint64()))
		cfg, ok := push(repo, cfgBytes, monolithicPost)
		if !ok {
			return
		}
		cfg.MediaType = mtOCIConfig
		m := imageManifest(cfg, layers...)
		tag := fmt.Sprintf("r%d-p%d-%d", round, id, n)
		if _, ok := do(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, request{body: m, header: map[string]string{"Content-Type": mtOCIManifest}}, http.StatusCreated); !ok {
			return
		}
		md := descriptor{mtOCIManifest, sha256Digest(m), int64(len(m))}
		h.ack(repo, tag, md.Digest, false)
		pushes.Add(1)
		if n%3 == 0 {
			moving := fmt.Sprintf("latest-p%d", id)
			if _, ok := do(http.MethodPut, "/v2/"+repo+"/manifests/"+moving, request{body: m, header: map[string]string{"Content-Type": mtOCIManifest}}, http.StatusCreated); !ok {
				return
			}
			h.ack(repo, moving, md.Digest, true)
		}
		if repo == "admin/crash-0" {
			mine = append(mine, md)
			if len(mine) >= 2 && n%2 == 0 {
				idx := indexManifest(mine[len(mine)-2:]...)
				tag := fmt.Sprintf("idx-r%d-p%d-%d", round, id, n)
				if _, ok := do(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, request{body: idx, header: map[string]string{"Content-Type": mtOCIIndex}}, http.StatusCreated); !ok {
					return
				}
				h.ack(repo, tag, sha256Digest(idx), false)
			}
		}
	}
}

// verify checks, after a restart, everything the API and the storage show.
func (h *history) verify(t *testing.T, r *registry) {
	catalog := r.catalog(t)
	for repo, tags := range h.acked {
		if !slices.Contains(catalog, repo) {
			t.Errorf("the catalog %v lacks %s, which has acknowledged pushes", catalog, repo)
			continue
		}
		have := r.tags(t, repo)
		for tag, m := range tags {
			if !slices.Contains(have, tag) {
				t.Errorf("%s: acknowledged tag %s is gone", repo, tag)
				continue
			}
			if m.moving {
				continue
			}
			resp := r.do(t, http.MethodHead, "/v2/"+repo+"/manifests/"+tag, request{})
			if got := resp.header.Get("Docker-Content-Digest"); resp.status != http.StatusOK || got != m.digest {
				t.Errorf("%s: acknowledged tag %s points at %s, want %s", resp, tag, got, m.digest)
			}
		}
	}
	checked := map[string]bool{}
	manifests, blobs := 0, 0
	for _, repo := range catalog {
		for _, tag := range r.tags(t, repo) {
			manifests += r.verifyManifest(t, repo, tag, checked, &blobs)
		}
	}
	stored := 0
	for p := range r.objects.List(t) {
		if !isBlobObject(p) {
			continue
		}
		stored++
		parts := strings.Split(p, "/")
		if len(parts) != 4 || parts[2] != parts[3][:min(2, len(parts[3]))] {
			t.Errorf("storage object %s is not at a blob path blobs/ALG/XX/HEX", p)
			continue
		}
		dg := parts[1] + ":" + parts[3]
		if got := digestOf(dg, r.objects.Read(t, p)); got != dg {
			t.Errorf("storage object %s holds bytes that hash to %s: a partial or wrong blob at a blob path", p, got)
		}
	}
	t.Logf("after the restart: %d repositories, %d manifests and %d blobs served correctly; %d blob objects in storage hash to their names",
		len(catalog), manifests, blobs, stored)
}

// verifyManifest checks that ref resolves in repo to a manifest that hashes to its digest and
// whose blobs and children are all served correctly. It returns the manifests it checked.
func (r *registry) verifyManifest(t *testing.T, repo, ref string, checked map[string]bool, blobs *int) int {
	t.Helper()
	resp := r.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, request{header: map[string]string{
		"Accept": mtOCIManifest + ", " + mtOCIIndex}})
	if resp.status != http.StatusOK {
		t.Errorf("%s: tag or child does not resolve to a manifest", resp)
		return 0
	}
	dg := resp.header.Get("Docker-Content-Digest")
	if sha256Digest(resp.body) != dg || (strings.Contains(ref, ":") && ref != dg) {
		t.Errorf("%s/%s: manifest content hashes to %s, served as %s", repo, ref, sha256Digest(resp.body), dg)
	}
	key := repo + "@" + dg
	if checked[key] {
		return 0
	}
	checked[key] = true
	var m struct {
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(resp.body, &m); err != nil {
		t.Errorf("%s/%s: %v", repo, ref, err)
		return 1
	}
	n := 1
	for _, c := range m.Manifests {
		n += r.verifyManifest(t, repo, c.Digest, checked, blobs)
	}
	refs := m.Layers
	if m.Config != nil {
		refs = append(refs, *m.Config)
	}
	for _, d := range refs {
		if checked[repo+"@"+d.Digest] {
			continue
		}
		checked[repo+"@"+d.Digest] = true
		*blobs++
		resp := r.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+d.Digest, request{})
		if resp.status != http.StatusOK {
			t.Errorf("%s: blob of %s/%s is not served", resp, repo, ref)
			continue
		}
		if got := sha256Digest(resp.body); got != d.Digest || int64(len(resp.body)) != d.Size {
			t.Errorf("%s/%s: blob %s is served as %d bytes hashing to %s", repo, ref, d.Digest, len(resp.body), got)
		}
	}
	return n
}

// resumeSessions checks every upload session the clients opened: finished ones are gone;
// open ones hold what the server acknowledged (or what the request in flight completed) and
// can be resumed and finished; one that vanished had its final PUT in flight and its blob is
// visible.
func (h *history) resumeSessions(t *testing.T, r *registry) {
	resumed, vanished := 0, 0
	for loc, s := range h.sessions {
		delete(h.sessions, loc) // checked once, whatever the outcome
		if s.done {
			r.expectUploadGone(t, loc)
			continue
		}
		dg := sha256Digest(s.content)
		off, resp := r.uploadOffset(t, loc)
		switch {
		case resp.status == http.StatusNotFound:
			expectError(t, resp, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
			if !s.finishing {
				t.Errorf("session %s vanished in the crash although no final PUT was sent (%d of %d bytes acknowledged)", path.Base(loc), s.acked, len(s.content))
			} else if head := r.do(t, http.MethodHead, "/v2/"+s.repo+"/blobs/"+dg, request{}); head.status != http.StatusOK {
				t.Errorf("session %s vanished in the crash with its final PUT in flight, but its blob is not visible (%s)", path.Base(loc), head)
			}
			vanished++
			continue
		case resp.status != http.StatusNoContent:
			t.Errorf("%s: want 204 with the session's Range", resp)
			continue
		}
		if off != s.acked && (s.sending == 0 || off != s.acked+s.sending) {
			t.Errorf("session %s holds %d bytes after the crash; the server had acknowledged %d and the request in flight carried %d more",
				path.Base(loc), off, s.acked, s.sending)
			continue
		}
		if off < int64(len(s.content)) {
			resp = r.patch(t, loc, off, s.content[off:], true)
			if resp.status != http.StatusAccepted {
				t.Errorf("%s: cannot resume session %s at %d after the crash", resp, path.Base(loc), off)
				continue
			}
		}
		resp = r.finish(t, loc, dg, nil)
		if resp.status != http.StatusCreated {
			t.Errorf("%s: session %s cannot be finished after the crash: it reported %d of %d bytes (the client had %d acknowledged, %d in flight, final PUT in flight: %t)",
				resp, path.Base(loc), off, len(s.content), s.acked, s.sending, s.finishing)
			// The blob itself can still be pushed in a new session.
			r.pushBlob(t, s.repo, s.content)
			r.expectBlob(t, s.repo, dg, s.content)
			continue
		}
		r.expectBlob(t, s.repo, dg, s.content)
		resumed++
	}
	t.Logf("upload sessions open at the crash: %d resumed and finished, %d completed by the request in flight", resumed, vanished)
}

// errorLines returns the lines of a server log at level ERROR.
func errorLines(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, "  "+line)
		}
	}
	return strings.Join(out, "\n")
}
