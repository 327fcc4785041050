package oci

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/store"
)

// getBlob serves GET and HEAD of a blob, with Range support. With object storage, GETs are
// redirected to a signed storage URL unless proxying is configured.
func (h *Handler) getBlob(req *request, ref string) error {
	if err := h.authorize(req, auth.ActionPull); err != nil {
		return err
	}
	dg, err := ParseDigest(ref)
	if err != nil {
		return ErrDigestInvalid.WithMessage("%v", err)
	}
	repo, err := h.repository(req)
	if err != nil {
		return err
	}
	blob, err := h.store.RepoBlob(req.ctx, repo.ID, dg.String())
	if errors.Is(err, store.ErrNotFound) {
		return ErrBlobUnknown.WithDetail(map[string]string{"digest": dg.String()})
	}
	if err != nil {
		return ErrInternal.Wrap(err)
	}
	w, r := req.w, req.r
	hdr := w.Header()
	hdr.Set("Docker-Content-Digest", blob.Digest)
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("ETag", `"`+blob.Digest+`"`)
	hdr.Set("Cache-Control", "max-age=31536000")
	path := storage.BlobPath(blob.Digest)
	if r.Method == http.MethodHead {
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Length", strconv.FormatInt(blob.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if !h.opts.ProxyStorage {
		url, err := h.storage.RedirectURL(req.ctx, path, h.opts.RedirectExpiry)
		if err == nil {
			hdr.Set("Location", url)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return nil
		}
		if !errors.Is(err, storage.ErrRedirectUnsupported) {
			return ErrInternal.Wrap(err)
		}
	}
	start, length, partial, err := parseRange(r.Header.Get("Range"), blob.Size)
	if err != nil {
		hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", blob.Size))
		return ErrRangeInvalid.WithMessage("%v", err)
	}
	rc, err := h.storage.Reader(req.ctx, path, start)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return ErrBlobUnknown.Wrap(fmt.Errorf("blob %s is in the database but not in storage: %w", blob.Digest, err))
		}
		return ErrInternal.Wrap(err)
	}
	defer rc.Close()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, blob.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if _, err := io.Copy(w, io.LimitReader(rc, length)); err != nil {
		h.log.DebugContext(req.ctx, "blob download interrupted", "digest", blob.Digest, "err", err)
	}
	return nil
}

// parseRange reads a single-range Range header (bytes=a-b, bytes=a-, bytes=-n).
func parseRange(header string, size int64) (start, length int64, partial bool, err error) {
	if header == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return 0, size, false, nil // a range in another unit is ignored (RFC 9110, 14.2)
	}
	if strings.Contains(spec, ",") {
		return 0, 0, false, fmt.Errorf("unsupported range %q: use a single bytes=START-END range", header)
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, fmt.Errorf("invalid range %q", header)
	}
	switch {
	case first == "":
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, fmt.Errorf("invalid range %q", header)
		}
		if size == 0 {
			return 0, 0, false, fmt.Errorf("range %q of an empty blob", header)
		}
		n = min(n, size)
		return size - n, n, true, nil
	default:
		s, err := strconv.ParseInt(first, 10, 64)
		if err != nil || s < 0 || s >= size {
			return 0, 0, false, fmt.Errorf("range %q is outside the blob's %d bytes", header, size)
		}
		e := size - 1
		if last != "" {
			e, err = strconv.ParseInt(last, 10, 64)
			if err != nil || e < s {
				return 0, 0, false, fmt.Errorf("invalid range %q", header)
			}
			e = min(e, size-1)
		}
		return s, e - s + 1, true, nil
	}
}

// deleteBlob unlinks a blob from the repository; the collector removes its bytes once nothing
// uses them.
func (h *Handler) deleteBlob(req *request, ref string) error {
	if err := h.authorize(req, auth.ActionDelete); err != nil {
		return err
	}
	dg, err := ParseDigest(ref)
	if err != nil {
		return ErrDigestInvalid.WithMessage("%v", err)
	}
	if h.opts.ReadOnly {
		return ErrUnsupported.WithMessage("the registry is in read-only mode")
	}
	repo, err := h.repository(req)
	if err != nil {
		return err
	}
	if err := h.store.UnlinkBlob(req.ctx, repo.ID, dg.String()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrBlobUnknown.WithDetail(map[string]string{"digest": dg.String()})
		}
		return ErrInternal.Wrap(err)
	}
	h.log.InfoContext(req.ctx, "blob deleted", "repository", req.name.String(), "digest", dg.String(), "by", req.creds.Identity.Name())
	if err := h.record(req, "delete_blob", repo.ID, map[string]any{"digest": dg.String()}); err != nil {
		return err
	}
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}
