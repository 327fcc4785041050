package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/oci"
	"github.com/wharf-registry/wharf/registry/store"
)

// tagRoutes list a repository's tag history and create, move, expire, delete and restore
// tags.
func (a *API) tagRoutes() []*Route {
	const one = "/api/v1/repository/{repository}/tag/{tag}"
	return []*Route{{
		Method: "GET", Path: "/api/v1/repository/{repository}/tag/", Op: "listRepoTags", Group: "tag", Anonymous: true,
		Summary: "List the tags of a repository, active and ended, newest first.", Scope: auth.ScopeRepoRead,
		Query: []string{"limit", "page", "onlyActiveTags", "specificTag"}, Handle: a.listRepoTags,
	}, {
		Method: "PUT", Path: one, Op: "changeTag", Group: "tag", Scope: auth.ScopeRepoWrite, Status: http.StatusCreated, Body: true,
		Summary: "Change which manifest a tag points to, create a new tag, or set its expiration.", Handle: a.changeTag,
	}, {
		Method: "DELETE", Path: one, Op: "deleteFullTag", Group: "tag", Scope: auth.ScopeRepoWrite, Status: http.StatusNoContent,
		Summary: "Delete the specified repository tag.", Handle: a.deleteFullTag,
	}, {
		Method: "POST", Path: one + "/restore", Op: "restoreTag", Group: "tag", Scope: auth.ScopeRepoWrite, Body: true,
		Summary: "Restores a repository tag back to a previous manifest in the repository.", Handle: a.restoreTag,
	}}
}

// tagDate formats a time as the API's dates (RFC 1123, in UTC).
func tagDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// isManifestList reports whether a media type is an index or a manifest list.
func isManifestList(mediaType string) bool {
	return mediaType == "application/vnd.oci.image.index.v1+json" ||
		mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// tagView is a tag lifetime in Quay's JSON shape.
type tagView struct {
	Name           string `json:"name"`
	Reversion      bool   `json:"reversion"`
	StartTS        int64  `json:"start_ts"`
	EndTS          *int64 `json:"end_ts,omitempty"`
	ManifestDigest string `json:"manifest_digest"`
	IsManifestList bool   `json:"is_manifest_list"`
	Size           int64  `json:"size"`
	LastModified   string `json:"last_modified"`
	Expiration     string `json:"expiration,omitempty"`
}

func newTagView(r store.TagRecord) tagView {
	v := tagView{Name: r.Name, StartTS: r.Start.Unix(), ManifestDigest: r.ManifestDigest,
		IsManifestList: isManifestList(r.MediaType), Size: r.Size, LastModified: tagDate(r.Start), Reversion: r.Reversion}
	end := r.End
	if end.IsZero() {
		end = r.Expires
	}
	if !end.IsZero() {
		ts := end.Unix()
		v.EndTS = &ts
		v.Expiration = tagDate(end)
	}
	return v
}

// tagIntParam reads a positive integer query parameter (def when absent).
func tagIntParam(c *Call, name string, def int) (int, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest(name + " must be an integer")
	}
	return n, nil
}

func (a *API) listRepoTags(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleRead)
	if err != nil {
		return nil, err
	}
	limit, err := tagIntParam(c, "limit", 50)
	if err != nil {
		return nil, err
	}
	page, err := tagIntParam(c, "page", 1)
	if err != nil {
		return nil, err
	}
	limit = min(100, max(1, limit))
	page = max(1, min(page, math.MaxInt32/limit))
	records, err := a.store.TagRecords(c.R.Context(), repo.ID, store.TagQuery{Name: c.Query("specificTag"),
		ActiveOnly: repoQueryBool(c, "onlyActiveTags", false), Offset: (page - 1) * limit, Limit: limit + 1})
	if err != nil {
		return nil, err
	}
	more := len(records) > limit
	if more {
		records = records[:limit]
	}
	views := make([]tagView, 0, len(records))
	for _, r := range records {
		views = append(views, newTagView(r))
	}
	return map[string]any{"tags": views, "page": page, "has_additional": more}, nil
}

// tagParam validates the {tag} of the path.
func tagParam(c *Call) (string, error) {
	tag := c.Param("tag")
	if !oci.ValidTag(tag) {
		return "", badRequest("Invalid tag name: use letters, digits, _ . and - (at most 128, not starting with . or -)")
	}
	return tag, nil
}

// activeTag returns the active lifetime of a tag (ok false when the tag is not active).
func (a *API) activeTag(c *Call, repoID int64, tag string) (store.TagRecord, bool, error) {
	records, err := a.store.TagRecords(c.R.Context(), repoID, store.TagQuery{Name: tag, ActiveOnly: true, Limit: 1})
	if err != nil || len(records) == 0 {
		return store.TagRecord{}, false, err
	}
	return records[0], true, nil
}

func (a *API) changeTag(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleWrite)
	if err != nil {
		return nil, err
	}
	tag, err := tagParam(c)
	if err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	rawExp, hasExp := body["expiration"]
	rawDigest, hasDigest := body["manifest_digest"]
	if !hasExp && !hasDigest {
		return nil, badRequest(`body must set "manifest_digest" or "expiration"`)
	}
	// Validate everything before changing anything.
	var expiration *float64
	if hasExp {
		if err := json.Unmarshal(rawExp, &expiration); err != nil {
			return nil, badRequest("expiration must be a Unix time in seconds or null")
		}
		if expiration != nil && (math.IsNaN(*expiration) || *expiration > 1e11 || time.Unix(int64(*expiration), 0).Before(a.store.Now())) {
			return nil, badRequest("expiration must be in the future")
		}
	}
	var digest string
	if hasDigest {
		if err := json.Unmarshal(rawDigest, &digest); err != nil {
			return nil, badRequest("manifest_digest must be a string")
		}
		if _, err := oci.ParseDigest(digest); err != nil {
			return nil, badRequest(err.Error())
		}
	}
	ctx := c.R.Context()
	base := func() map[string]any {
		return map[string]any{"username": c.ID.Name(), "repo": repo.Name, "tag": tag, "namespace": repo.Namespace}
	}
	if hasExp {
		cur, ok, err := a.activeTag(c, repo.ID, tag)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound("tag " + tag)
		}
		var at time.Time
		if expiration != nil {
			sec, frac := math.Modf(*expiration)
			at = time.Unix(int64(sec), int64(frac*1e9))
		}
		if err := a.store.SetTagExpiration(ctx, repo.ID, tag, at); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, badRequest("Could not update tag expiration; Tag has probably changed")
			}
			return nil, err
		}
		if !(cur.Expires.IsZero() && at.IsZero()) {
			meta := base()
			meta["expiration_date"], meta["old_expiration_date"] = nil, nil
			if !at.IsZero() {
				meta["expiration_date"] = at.Unix()
			}
			if !cur.Expires.IsZero() {
				meta["old_expiration_date"] = cur.Expires.Unix()
			}
			if err := c.LogRepo("change_tag_expiration", repo, meta); err != nil {
				return nil, err
			}
		}
	}
	if hasDigest {
		previous, err := a.store.PointTag(ctx, repo.ID, tag, digest)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("manifest " + digest)
		}
		if err != nil {
			return nil, err
		}
		kind, meta := "create_tag", base()
		meta["manifest_digest"], meta["original_manifest_digest"] = digest, nil
		if previous != "" {
			kind, meta["original_manifest_digest"] = "move_tag", previous
		}
		if err := c.LogRepo(kind, repo, meta); err != nil {
			return nil, err
		}
	}
	return "Updated", nil
}

func (a *API) deleteFullTag(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleWrite)
	if err != nil {
		return nil, err
	}
	tag := c.Param("tag")
	cur, ok, err := a.activeTag(c, repo.ID, tag)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("tag " + tag)
	}
	if err := a.store.DeleteTag(c.R.Context(), repo.ID, tag); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("tag " + tag)
		}
		return nil, err
	}
	if err := c.LogRepo("delete_tag", repo, map[string]any{"username": c.ID.Name(), "repo": repo.Name,
		"namespace": repo.Namespace, "tag": tag, "manifest_digest": cur.ManifestDigest}); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *API) restoreTag(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleWrite)
	if err != nil {
		return nil, err
	}
	tag, err := tagParam(c)
	if err != nil {
		return nil, err
	}
	var body struct {
		ManifestDigest string `json:"manifest_digest"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if body.ManifestDigest == "" {
		return nil, badRequest("Missing manifest_digest")
	}
	if _, err := oci.ParseDigest(body.ManifestDigest); err != nil {
		return nil, badRequest(err.Error())
	}
	err = a.store.RestoreTag(c.R.Context(), repo.ID, tag, body.ManifestDigest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("manifest " + body.ManifestDigest + " (no longer kept, it cannot be restored)")
	}
	if err != nil {
		return nil, err
	}
	if err := c.LogRepo("revert_tag", repo, map[string]any{"username": c.ID.Name(), "repo": repo.Name,
		"namespace": repo.Namespace, "tag": tag, "manifest_digest": body.ManifestDigest}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}
