package oci

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/ingest"
	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/store"
)

// startUpload answers POST /v2/NAME/blobs/uploads/: a cross-repository mount, a monolithic
// upload (?digest=), or a new upload session.
func (h *Handler) startUpload(req *request, _ string) error {
	if err := h.authorize(req, auth.ActionPull, auth.ActionPush); err != nil {
		return err
	}
	q := req.r.URL.Query()
	var mount, final digest.Digest
	var err error
	if v := q.Get("mount"); v != "" {
		if mount, err = ParseDigest(v); err != nil {
			return ErrDigestInvalid.WithMessage("mount: %v", err)
		}
	}
	if v := q.Get("digest"); v != "" {
		if final, err = ParseDigest(v); err != nil {
			return ErrDigestInvalid.WithMessage("%v", err)
		}
	}
	repo, err := h.writableRepository(req)
	if err != nil {
		return err
	}
	if mount != "" {
		ok, err := h.mount(req, repo, mount, q.Get("from"))
		if err != nil || ok {
			return err
		}
	}
	up, err := h.store.CreateUpload(req.ctx, repo.ID)
	if err != nil {
		return ErrInternal.Wrap(err)
	}
	if final != "" {
		unlock := h.lockUpload(up.ID)
		defer unlock()
		return h.complete(req, repo, up, final)
	}
	h.uploadAccepted(req, up.ID, 0)
	return nil
}

// mount links an existing blob into the repository: from the named repository when the
// caller can read it, or (OCI 1.1) from any repository the caller can read. It reports false
// when it could not, and the caller then starts an ordinary upload.
func (h *Handler) mount(req *request, repo store.Repository, dg digest.Digest, from string) (bool, error) {
	var blob store.Blob
	var err error
	if from != "" {
		src, perr := ParseRepoName(from)
		if perr != nil {
			return false, nil
		}
		ok, aerr := h.allowed(req.ctx, req.creds, src, auth.ActionPull)
		if aerr != nil {
			return false, aerr
		}
		if !ok && req.creds.Token != nil {
			// The token lacks the source, but its holder may read it: ask the client for a
			// token that covers both repositories, as the token flow intends.
			have, err := h.auth.RepositoryActions(req.ctx, req.creds.Identity, src.Namespace, src.Name)
			if err != nil {
				return false, ErrInternal.Wrap(err)
			}
			if slices.Contains(have, auth.ActionPull) {
				h.challenge(req, "repository:"+req.name.String()+":pull,push repository:"+src.String()+":pull", true)
				return false, ErrUnauthorized.WithMessage("the token does not cover the mount source %s", src)
			}
		}
		if !ok {
			return false, nil
		}
		srcRepo, serr := h.store.Repository(req.ctx, src.Namespace, src.Name)
		if serr != nil {
			return false, nil
		}
		blob, err = h.store.MountBlob(req.ctx, repo.ID, srcRepo.ID, dg.String())
	} else {
		// Any repository the caller's identity can read may serve as the source.
		srcID, serr := h.store.ReadableBlobSource(req.ctx, h.auth.Viewer(req.creds.Identity), dg.String())
		if serr != nil {
			return false, nil
		}
		blob, err = h.store.MountBlob(req.ctx, repo.ID, srcID, dg.String())
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBlobDeleting) {
		return false, nil
	}
	if err != nil {
		return false, ErrInternal.Wrap(err)
	}
	h.blobCreated(req, blob.Digest)
	return true, nil
}

func (h *Handler) blobCreated(req *request, dg string) {
	hdr := req.w.Header()
	hdr.Set("Location", "/v2/"+req.name.String()+"/blobs/"+dg)
	hdr.Set("Docker-Content-Digest", dg)
	hdr.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusCreated)
}

func (h *Handler) uploadAccepted(req *request, id string, size int64) {
	hdr := req.w.Header()
	hdr.Set("Location", "/v2/"+req.name.String()+"/blobs/uploads/"+id)
	hdr.Set("Docker-Upload-UUID", id)
	hdr.Set("Range", uploadRange(size))
	hdr.Set("Content-Length", "0")
	hdr.Set("OCI-Chunk-Min-Length", "0")
	status := http.StatusAccepted
	if req.r.Method == http.MethodGet {
		status = http.StatusNoContent
	}
	req.w.WriteHeader(status)
}

// uploadRange is the Range header of an upload holding size bytes.
func uploadRange(size int64) string {
	if size == 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

// loadUpload authorizes an upload request and returns the repository and the session.
func (h *Handler) loadUpload(req *request, id string) (store.Repository, store.Upload, error) {
	if err := h.authorize(req, auth.ActionPull, auth.ActionPush); err != nil {
		return store.Repository{}, store.Upload{}, err
	}
	repo, err := h.store.Repository(req.ctx, req.name.Namespace, req.name.Name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, store.Upload{}, ErrBlobUploadUnknown.Err()
	}
	if err != nil {
		return store.Repository{}, store.Upload{}, ErrInternal.Wrap(err)
	}
	up, err := h.store.Upload(req.ctx, repo.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, store.Upload{}, ErrBlobUploadUnknown.WithMessage("upload %s is unknown or finished", id)
	}
	if err != nil {
		return store.Repository{}, store.Upload{}, ErrInternal.Wrap(err)
	}
	return repo, up, nil
}

func (h *Handler) uploadStatus(req *request, id string) error {
	_, up, err := h.loadUpload(req, id)
	if err != nil {
		return err
	}
	h.uploadAccepted(req, up.ID, up.Size)
	return nil
}

// patchUpload appends a chunk (with Content-Range) or a stream (without) to an upload.
func (h *Handler) patchUpload(req *request, id string) error {
	unlock := h.lockUpload(id)
	defer unlock()
	_, up, err := h.loadUpload(req, id)
	if err != nil {
		return err
	}
	up, _, err = h.receive(req, up, "")
	if err != nil {
		return err
	}
	h.uploadAccepted(req, up.ID, up.Size)
	return nil
}

// finishUpload completes an upload with an optional last chunk and the digest.
func (h *Handler) finishUpload(req *request, id string) error {
	unlock := h.lockUpload(id)
	defer unlock()
	repo, up, err := h.loadUpload(req, id)
	if err != nil {
		return err
	}
	v := req.r.URL.Query().Get("digest")
	if v == "" {
		return ErrDigestInvalid.WithMessage("the digest query parameter is required to finish an upload")
	}
	dg, err := ParseDigest(v)
	if err != nil {
		return ErrDigestInvalid.WithMessage("%v", err)
	}
	return h.complete(req, repo, up, dg)
}

// cancelUpload discards an upload.
func (h *Handler) cancelUpload(req *request, id string) error {
	unlock := h.lockUpload(id)
	defer unlock()
	_, up, err := h.loadUpload(req, id)
	if err != nil {
		return err
	}
	if err := h.discardUpload(req, up.ID); err != nil {
		return ErrInternal.Wrap(err)
	}
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

// discardUpload removes an upload's staged bytes and then its row.
func (h *Handler) discardUpload(req *request, id string) error {
	if err := h.storage.Delete(req.ctx, storage.UploadPath(id)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("discard upload %s: %w", id, err)
	}
	if err := h.store.DeleteUpload(req.ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("discard upload %s: %w", id, err)
	}
	return nil
}

// receive writes the request body to the upload at its current size and records the new
// size; the bytes stay staged. It returns the digest of all the upload's bytes when a running
// hash covers them (sha256 from the start, or want's algorithm for a single-request upload),
// else "". A request without a body touches no storage.
func (h *Handler) receive(req *request, up store.Upload, want digest.Algorithm) (store.Upload, digest.Digest, error) {
	if err := checkContentRange(req.r, up.Size); err != nil {
		return up, "", err
	}
	var hs hash.Hash
	alg := digest.SHA256
	switch {
	case up.Size == 0 && want != "" && want != digest.SHA256:
		alg = want
		hs = newHash(want)
	case up.Size == 0:
		hs = sha256.New()
	case up.HashState != nil:
		hs = sha256.New()
		if err := hs.(encoding.BinaryUnmarshaler).UnmarshalBinary(up.HashState); err != nil {
			hs = nil
		}
	}
	sum := func() digest.Digest {
		if hs == nil {
			return ""
		}
		return digest.NewDigest(alg, hs)
	}
	if req.r.ContentLength == 0 {
		return up, sum(), nil
	}
	w, err := h.storage.Writer(req.ctx, storage.UploadPath(up.ID), up.Size)
	if err != nil {
		if errors.Is(err, storage.ErrInvalidOffset) {
			return up, "", ErrBlobUploadInvalid.WithMessage("upload %s has no staged bytes to continue (it was finished or lost); start a new upload", up.ID)
		}
		return up, "", ErrInternal.Wrap(err)
	}
	var hashArg hash.Hash
	if hs != nil {
		hashArg = hs
	}
	n, err := ingest.Copy(w, hashArg, idleTimeout(req), h.opts.MaxLayerSize-up.Size)
	if err != nil {
		w.Close()
		if errors.Is(err, ingest.ErrTooLarge) {
			h.discardUpload(req, up.ID)
			return up, "", ErrTooLarge.WithDetail(map[string]int64{"max_allowed": h.opts.MaxLayerSize})
		}
		return up, "", ErrBlobUploadInvalid.Wrap(fmt.Errorf("receive chunk: %w", err))
	}
	if cr := req.r.Header.Get("Content-Range"); cr != "" {
		start, end, _ := parseContentRange(cr)
		if n != end-start+1 {
			w.Close()
			return up, "", ErrSizeInvalid.WithMessage("Content-Range %s announces %d bytes, the body had %d", cr, end-start+1, n)
		}
	}
	if err := w.Close(); err != nil {
		return up, "", ErrInternal.Wrap(err)
	}
	var state []byte
	if hs != nil && alg == digest.SHA256 {
		state, _ = hs.(encoding.BinaryMarshaler).MarshalBinary()
	}
	// The request may have been cancelled by now; the bytes are staged, so record them.
	if err := h.store.AdvanceUpload(context.WithoutCancel(req.ctx), up.ID, up.Size, up.Size+n, state); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return up, "", ErrBlobUploadInvalid.WithMessage("upload %s changed during this request", up.ID)
		}
		return up, "", ErrInternal.Wrap(err)
	}
	up.Size += n
	up.HashState = state
	return up, sum(), nil
}

// bodyIdleTimeout is how long an upload may wait for the client's next bytes.
const bodyIdleTimeout = 2 * time.Minute

// idleTimeout returns the request body with a read deadline that moves with every read, so a
// client that stalls mid-body frees its upload instead of holding it.
func idleTimeout(req *request) io.Reader {
	return &idleReader{r: req.r.Body, rc: http.NewResponseController(req.w)}
}

type idleReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (i *idleReader) Read(p []byte) (int, error) {
	i.rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout))
	return i.r.Read(p)
}

// checkContentRange enforces in-order chunks: a Content-Range must start where the upload ends.
func checkContentRange(r *http.Request, size int64) error {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return nil
	}
	start, end, err := parseContentRange(cr)
	if err != nil {
		return ErrRangeInvalid.WithMessage("%v", err)
	}
	if start != size {
		return ErrRangeInvalid.WithMessage("chunk starts at %d but the upload has %d bytes", start, size)
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		return ErrRangeInvalid.WithMessage("Content-Range %s does not match Content-Length %d", cr, r.ContentLength)
	}
	return nil
}

// parseContentRange reads START-END (also "bytes START-END/TOTAL").
func parseContentRange(v string) (int64, int64, error) {
	v = strings.TrimSpace(strings.TrimPrefix(v, "bytes "))
	v, _, _ = strings.Cut(v, "/")
	a, b, ok := strings.Cut(v, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start || end == math.MaxInt64 {
		return 0, 0, fmt.Errorf("invalid Content-Range %q: want START-END", v)
	}
	return start, end, nil
}

// complete receives the last bytes of an upload, verifies the digest, moves the bytes to the
// blob's place and links the blob into the repository. Nothing is visible before the end; a
// wrong digest discards the upload. Each step can be repeated: a client that retries the
// final PUT after a failure (or a crash of the server) finishes the same upload.
func (h *Handler) complete(req *request, repo store.Repository, up store.Upload, dg digest.Digest) error {
	up, got, err := h.receive(req, up, dg.Algorithm())
	if err != nil {
		return err
	}
	src, dst := storage.UploadPath(up.ID), storage.BlobPath(dg.String())
	where, err := h.commitStaged(req, up, dst)
	if err != nil {
		return err
	}
	if got.Algorithm() != dg.Algorithm() {
		if got, err = h.digestOf(req, where, dg.Algorithm()); err != nil {
			return ErrInternal.Wrap(err)
		}
	}
	if got != dg {
		if err := h.discardUpload(req, up.ID); err != nil {
			h.log.ErrorContext(req.ctx, "discard upload with wrong digest", "err", err)
		}
		return ErrDigestInvalid.WithMessage("content digest is %s, not %s", got, dg)
	}
	blob, err := h.store.ReserveBlob(req.ctx, dg.String(), up.Size, h.opts.BlobReserveWait)
	if err != nil {
		if errors.Is(err, store.ErrBlobDeleting) {
			return ErrTooManyRequests.WithMessage("an earlier copy of %s is being removed; retry", dg)
		}
		return ErrInternal.Wrap(err)
	}
	if where == src {
		if info, err := h.storage.Stat(req.ctx, dst); err == nil && info.Size == up.Size {
			if err := h.storage.Delete(req.ctx, src); err != nil && !errors.Is(err, storage.ErrNotFound) {
				h.log.WarnContext(req.ctx, "remove duplicate upload", "err", err)
			}
		} else if err := h.storage.Move(req.ctx, src, dst); err != nil {
			return ErrInternal.Wrap(err)
		}
	}
	if err := h.store.LinkBlob(req.ctx, repo.ID, blob.ID); err != nil {
		return ErrInternal.Wrap(err)
	}
	if err := h.store.DeleteUpload(req.ctx, up.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return ErrInternal.Wrap(err)
	}
	h.blobCreated(req, dg.String())
	return nil
}

// commitStaged makes an upload's staged bytes its committed object and returns the path that
// holds them. When an earlier attempt already committed them, that object is used; when it
// already moved them to the blob's place (dst), dst is.
func (h *Handler) commitStaged(req *request, up store.Upload, dst string) (string, error) {
	src := storage.UploadPath(up.ID)
	w, err := h.storage.Writer(req.ctx, src, up.Size)
	if err == nil {
		if err := w.Commit(req.ctx); err != nil {
			return "", ErrInternal.Wrap(err)
		}
		return src, nil
	}
	if !errors.Is(err, storage.ErrInvalidOffset) {
		return "", ErrInternal.Wrap(err)
	}
	for _, p := range []string{src, dst} {
		if info, err := h.storage.Stat(req.ctx, p); err == nil && info.Size == up.Size {
			return p, nil
		}
	}
	if err := h.discardUpload(req, up.ID); err != nil {
		h.log.ErrorContext(req.ctx, "discard upload without bytes", "err", err)
	}
	return "", ErrBlobUploadInvalid.WithMessage("the bytes of upload %s are lost; start a new upload", up.ID)
}

// digestOf hashes a committed object.
func (h *Handler) digestOf(req *request, path string, alg digest.Algorithm) (digest.Digest, error) {
	rc, err := h.storage.Reader(req.ctx, path, 0)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	hs := newHash(alg)
	if _, err := io.Copy(hs, rc); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return digest.NewDigest(alg, hs), nil
}
