package oci

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// getManifest serves GET and HEAD of a manifest by tag or digest.
func (h *Handler) getManifest(req *request, ref string) error {
	if err := h.authorize(req, auth.ActionPull); err != nil {
		return err
	}
	reference, err := parseManifestReference(ref)
	if err != nil {
		return err
	}
	m, err := h.store.ManifestByName(req.ctx, req.name.Namespace, req.name.Name, reference.Tag, reference.Digest.String())
	if errors.Is(err, store.ErrNotFound) {
		if _, err := h.repository(req); err != nil {
			return err
		}
		return ErrManifestUnknown.WithDetail(map[string]string{"reference": ref})
	}
	if err != nil {
		return ErrInternal.Wrap(err)
	}
	if req.r.Method == http.MethodGet {
		meta := map[string]any{"manifest_digest": m.Digest}
		if reference.Tag != "" {
			meta["tag"] = reference.Tag
		}
		if err := h.record(req, "pull_repo", m.RepositoryID, meta); err != nil {
			return err
		}
	}
	hdr := req.w.Header()
	hdr.Set("Content-Type", m.MediaType)
	hdr.Set("Content-Length", strconv.Itoa(len(m.Content)))
	hdr.Set("Docker-Content-Digest", m.Digest)
	hdr.Set("ETag", `"`+m.Digest+`"`)
	req.w.WriteHeader(http.StatusOK)
	if req.r.Method != http.MethodHead {
		req.w.Write(m.Content)
	}
	return nil
}

// putManifest stores a manifest after checking it and everything it references.
func (h *Handler) putManifest(req *request, ref string) error {
	if err := h.authorize(req, auth.ActionPull, auth.ActionPush); err != nil {
		return err
	}
	reference, err := parseManifestReference(ref)
	if err != nil {
		return err
	}
	tags := []string{}
	if reference.Tag != "" {
		tags = append(tags, reference.Tag)
	}
	for _, t := range req.r.URL.Query()["tag"] {
		if !ValidTag(t) {
			return ErrManifestInvalid.WithMessage("invalid tag %q", t)
		}
		tags = append(tags, t)
	}
	if req.r.ContentLength > MaxManifestSize {
		return &Error{Code: Code{ErrManifestInvalid.Value, http.StatusRequestEntityTooLarge, "manifest too large"},
			Message: "manifest is larger than " + strconv.Itoa(MaxManifestSize) + " bytes"}
	}
	content, err := io.ReadAll(io.LimitReader(req.r.Body, MaxManifestSize+1))
	if err != nil {
		return ErrManifestInvalid.Wrap(err)
	}
	if len(content) > MaxManifestSize {
		return &Error{Code: Code{ErrManifestInvalid.Value, http.StatusRequestEntityTooLarge, "manifest too large"},
			Message: "manifest is larger than " + strconv.Itoa(MaxManifestSize) + " bytes"}
	}
	dg := digest.SHA256.FromBytes(content)
	if reference.Digest != "" {
		dg = reference.Digest.Algorithm().FromBytes(content)
		if dg != reference.Digest {
			return ErrDigestInvalid.WithMessage("manifest digest is %s, not %s", dg, reference.Digest)
		}
	}
	parsed, err := ParseManifest(req.r.Header.Get("Content-Type"), content)
	if err != nil {
		return ErrManifestInvalid.WithMessage("%v", err)
	}
	repo, err := h.writableRepository(req)
	if err != nil {
		return err
	}
	_, err = h.store.PutManifest(req.ctx, store.ManifestPut{
		RepositoryID: repo.ID, Digest: dg.String(), MediaType: parsed.MediaType, ArtifactType: parsed.ArtifactType,
		Subject: parsed.Subject, Annotations: parsed.Annotations, Content: content,
		Blobs: parsed.Blobs, Children: parsed.Children, Tags: tags,
	})
	var missing *store.MissingError
	if errors.As(err, &missing) {
		return ErrManifestBlobUnknown.WithDetail(map[string]string{"digest": missing.Digest, "kind": missing.Kind})
	}
	if err != nil {
		return ErrInternal.Wrap(err)
	}
	h.log.InfoContext(req.ctx, "manifest pushed", "repository", req.name.String(), "digest", dg.String(), "tags", tags,
		"by", req.creds.Identity.Name())
	if err := h.record(req, "push_repo", repo.ID, map[string]any{"manifest_digest": dg.String(), "tags": tags}); err != nil {
		return err
	}
	if h.opts.Pushed != nil {
		h.opts.Pushed(dg.String(), parsed.MediaType)
	}
	hdr := req.w.Header()
	hdr.Set("Location", "/v2/"+req.name.String()+"/manifests/"+dg.String())
	hdr.Set("Docker-Content-Digest", dg.String())
	if parsed.Subject != "" {
		hdr.Set("OCI-Subject", parsed.Subject)
	}
	for _, t := range tags {
		hdr.Add("OCI-Tag", t)
	}
	hdr.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// parseManifestReference reads a manifest reference: a bad digest is DIGEST_INVALID, a bad
// tag MANIFEST_INVALID.
func parseManifestReference(ref string) (Reference, error) {
	reference, err := ParseReference(ref)
	if err == nil {
		return reference, nil
	}
	if strings.Contains(ref, ":") {
		return Reference{}, ErrDigestInvalid.WithMessage("%v", err)
	}
	return Reference{}, ErrManifestInvalid.WithMessage("%v", err)
}

// deleteManifest deletes a manifest (by digest) or a tag (by name).
func (h *Handler) deleteManifest(req *request, ref string) error {
	if err := h.authorize(req, auth.ActionDelete); err != nil {
		return err
	}
	reference, err := parseManifestReference(ref)
	if err != nil {
		return err
	}
	if h.opts.ReadOnly {
		return ErrUnsupported.WithMessage("the registry is in read-only mode")
	}
	repo, err := h.repository(req)
	if err != nil {
		return err
	}
	if reference.Tag != "" {
		err = h.store.DeleteTag(req.ctx, repo.ID, reference.Tag)
	} else {
		err = h.store.DeleteManifest(req.ctx, repo.ID, reference.Digest.String())
	}
	if errors.Is(err, store.ErrNotFound) {
		return ErrManifestUnknown.WithDetail(map[string]string{"reference": ref})
	}
	if err != nil {
		return ErrInternal.Wrap(err)
	}
	h.log.InfoContext(req.ctx, "manifest deleted", "repository", req.name.String(), "reference", ref, "by", req.creds.Identity.Name())
	kind, meta := "delete_manifest", map[string]any{"manifest_digest": reference.Digest.String()}
	if reference.Tag != "" {
		kind, meta = "delete_tag", map[string]any{"tag": reference.Tag}
	}
	if err := h.record(req, kind, repo.ID, meta); err != nil {
		return err
	}
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}

// pageParams reads n and last; n defaults to and is capped at the page size.
func (h *Handler) pageParams(req *request) (int, string, error) {
	q := req.r.URL.Query()
	n := h.opts.PageSize
	if v := q.Get("n"); v != "" {
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed < 0 {
			return 0, "", (&Error{Code: Code{"PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested"}})
		}
		n = min(parsed, h.opts.PageSize)
	}
	return n, q.Get("last"), nil
}

// setNextLink adds the Link header of the next page.
func setNextLink(w http.ResponseWriter, path string, n int, last string) {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
}

// listTags answers GET /v2/NAME/tags/list.
func (h *Handler) listTags(req *request, _ string) error {
	if err := h.authorize(req, auth.ActionPull); err != nil {
		return err
	}
	n, last, err := h.pageParams(req)
	if err != nil {
		return err
	}
	repo, err := h.repository(req)
	if err != nil {
		return err
	}
	tags := []string{}
	if n > 0 {
		tags, err = h.store.Tags(req.ctx, repo.ID, last, n+1)
		if err != nil {
			return ErrInternal.Wrap(err)
		}
		if len(tags) > n {
			tags = tags[:n]
			setNextLink(req.w, "/v2/"+req.name.String()+"/tags/list", n, tags[n-1])
		}
	}
	return writeJSON(req.w, http.StatusOK, "application/json", map[string]any{"name": req.name.String(), "tags": tags})
}

// catalog answers GET /v2/_catalog with the repositories the caller can read.
func (h *Handler) catalog(req *request) error {
	creds, err := h.auth.Authenticate(req.r)
	if err != nil {
		return h.authError(req, "registry:catalog:*", err)
	}
	if !creds.Presented && !h.opts.AnonymousAccess {
		h.challenge(req, "registry:catalog:*", false)
		return ErrUnauthorized.Err()
	}
	n, last, err := h.pageParams(req)
	if err != nil {
		return err
	}
	repos := []string{}
	if n > 0 {
		repos, err = h.store.Catalog(req.ctx, h.auth.CatalogViewer(creds.Identity), last, n+1)
		if err != nil {
			return ErrInternal.Wrap(err)
		}
		if len(repos) > n {
			repos = repos[:n]
			setNextLink(req.w, "/v2/_catalog", n, repos[n-1])
		}
	}
	return writeJSON(req.w, http.StatusOK, "application/json", map[string]any{"repositories": repos})
}

// referrers answers GET /v2/NAME/referrers/DIGEST with an index of the manifests whose
// subject is DIGEST, optionally filtered by artifactType.
func (h *Handler) referrers(req *request, ref string) error {
	if err := h.authorize(req, auth.ActionPull); err != nil {
		return err
	}
	dg, err := ParseDigest(ref)
	if err != nil {
		return ErrDigestInvalid.WithMessage("%v", err)
	}
	artifactType := req.r.URL.Query().Get("artifactType")
	// A repository that does not exist has no referrers: the answer is an empty index.
	refs := []store.Manifest{}
	repo, err := h.store.Repository(req.ctx, req.name.Namespace, req.name.Name)
	switch {
	case err == nil:
		refs, err = h.store.Referrers(req.ctx, repo.ID, dg.String(), artifactType)
		if err != nil {
			return ErrInternal.Wrap(err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return ErrInternal.Wrap(err)
	}
	index := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}{2, MediaTypeOCIIndex, make([]Descriptor, 0, len(refs))}
	for _, m := range refs {
		index.Manifests = append(index.Manifests, referrerDescriptor(m.MediaType, m.Digest, m.ArtifactType, m.Annotations, m.Size))
	}
	if artifactType != "" {
		req.w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(req.w, http.StatusOK, MediaTypeOCIIndex, index)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return ErrInternal.Wrap(err)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
	return nil
}
