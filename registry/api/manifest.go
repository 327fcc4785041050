package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/oci"
	"github.com/wharf-registry/wharf/registry/store"
)

// manifestRoutes show a manifest and manage its labels. They end with the routes on a
// repository's own path (repositoryItemRoutes), which must come after every more specific
// /api/v1/repository/{repository}/... route.
func (a *API) manifestRoutes() []*Route {
	const one = "/api/v1/repository/{repository}/manifest/{manifestref}"
	routes := []*Route{{
		Method: "GET", Path: one, Op: "getRepoManifest", Group: "manifest", Anonymous: true, Scope: auth.ScopeRepoRead,
		Summary: "Fetch a manifest of a repository by digest.", Handle: a.getRepoManifest,
	}, {
		Method: "GET", Path: one + "/security", Op: "getRepoManifestSecurity", Group: "secscan", Anonymous: true,
		Scope: auth.ScopeRepoRead, Summary: "Fetch the security scan status and the vulnerabilities of a manifest.",
		Query: []string{"vulnerabilities"}, Handle: a.getRepoManifestSecurity,
	}, {
		Method: "GET", Path: one + "/labels", Op: "listManifestLabels", Group: "manifest", Anonymous: true, Scope: auth.ScopeRepoRead,
		Summary: "List the labels of a manifest.", Query: []string{"filter"}, Handle: a.listManifestLabels,
	}, {
		Method: "POST", Path: one + "/labels", Op: "addManifestLabel", Group: "manifest", Scope: auth.ScopeRepoWrite,
		Summary: "Adds a new label to a manifest.", Status: http.StatusCreated, Body: true, Handle: a.addManifestLabel,
	}, {
		Method: "GET", Path: one + "/labels/{labelid}", Op: "getManifestLabel", Group: "manifest", Anonymous: true,
		Scope: auth.ScopeRepoRead, Summary: "Retrieves the label with the specific ID under the manifest.",
		Handle: a.getManifestLabel,
	}, {
		Method: "DELETE", Path: one + "/labels/{labelid}", Op: "deleteManifestLabel", Group: "manifest", Scope: auth.ScopeRepoWrite,
		Summary: "Deletes an existing label from a manifest.", Status: http.StatusNoContent, Handle: a.deleteManifestLabel,
	}}
	return append(routes, a.repositoryItemRoutes()...)
}

// repoManifest authorizes role on the {repository} and loads its {manifestref} manifest.
func (a *API) repoManifest(c *Call, role string) (store.Repository, store.Manifest, error) {
	repo, err := c.Repo(role)
	if err != nil {
		return store.Repository{}, store.Manifest{}, err
	}
	ref := c.Param("manifestref")
	if _, err := oci.ParseDigest(ref); err != nil {
		return store.Repository{}, store.Manifest{}, badRequest("manifestref must be a manifest digest: " + err.Error())
	}
	m, err := a.store.ManifestByName(c.R.Context(), repo.Namespace, repo.Name, "", ref)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, store.Manifest{}, notFound("manifest " + ref)
	}
	if err != nil {
		return store.Repository{}, store.Manifest{}, err
	}
	return repo, m, nil
}

// manifestDoc is what the API reads of an image manifest or index.
type manifestDoc struct {
	MediaType string `json:"mediaType"`
	Config    *struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Layers []struct {
		Digest string   `json:"digest"`
		Size   int64    `json:"size"`
		URLs   []string `json:"urls"`
	} `json:"layers"`
	Manifests []json.RawMessage `json:"manifests"`
}

func (a *API) getRepoManifest(c *Call) (any, error) {
	_, m, err := a.repoManifest(c, store.RoleRead)
	if err != nil {
		return nil, err
	}
	var doc manifestDoc
	if err := json.Unmarshal(m.Content, &doc); err != nil {
		doc = manifestDoc{}
	}
	list := isManifestList(m.MediaType) || (m.MediaType == "" && doc.Manifests != nil)
	out := map[string]any{"digest": m.Digest, "is_manifest_list": list, "manifest_data": string(m.Content),
		"config_media_type": nil, "layers": nil, "layers_compressed_size": 0}
	if list {
		return out, nil
	}
	if doc.Config != nil {
		out["config_media_type"] = doc.Config.MediaType
	}
	layers := make([]any, 0, len(doc.Layers))
	var total int64
	for i, l := range doc.Layers {
		urls := l.URLs
		if urls == nil {
			urls = []string{}
		}
		layers = append(layers, map[string]any{"index": i, "compressed_size": l.Size, "is_remote": len(l.URLs) > 0,
			"urls": urls, "command": nil, "comment": nil, "author": nil, "blob_digest": l.Digest, "created_datetime": nil})
		total += l.Size
	}
	out["layers"], out["layers_compressed_size"] = layers, total
	return out, nil
}

func labelView(l store.Label) map[string]any {
	return map[string]any{"id": l.UUID, "key": l.Key, "value": l.Value, "source_type": l.Source, "media_type": l.MediaType}
}

func (a *API) listManifestLabels(c *Call) (any, error) {
	_, m, err := a.repoManifest(c, store.RoleRead)
	if err != nil {
		return nil, err
	}
	labels, err := a.store.Labels(c.R.Context(), m.ID, c.Query("filter"))
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(labels))
	for _, l := range labels {
		out = append(out, labelView(l))
	}
	return map[string]any{"labels": out}, nil
}

// labelKeyRE is the form of label keys set through the API: lowercase letters and digits in
// components separated by single dots or dashes.
var labelKeyRE = regexp.MustCompile(`^[a-z0-9]+(?:[-.][a-z0-9]+)*$`)

// reservedLabelPrefixes are the key prefixes that only image builders and the registry set;
// the API refuses them (Quay's default reserved prefixes).
var reservedLabelPrefixes = []string{"com.docker.", "io.docker.", "org.dockerproject.", "org.opencontainers.",
	"io.cncf.", "io.kubernetes.", "io.k8s.", "io.quay", "com.coreos", "com.tectonic", "internal"}

func (a *API) addManifestLabel(c *Call) (any, error) {
	repo, m, err := a.repoManifest(c, store.RoleWrite)
	if err != nil {
		return nil, err
	}
	var body struct {
		Key       string  `json:"key"`
		Value     *string `json:"value"`
		MediaType *string `json:"media_type"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if body.Key == "" || body.Value == nil {
		return nil, badRequest("key and value are required")
	}
	for _, p := range reservedLabelPrefixes {
		if strings.HasPrefix(body.Key, p) {
			return nil, badRequest("Label has a reserved prefix")
		}
	}
	if len(body.Key) > 255 || !labelKeyRE.MatchString(body.Key) {
		return nil, badRequest("Label is of an invalid format or missing: use lowercase letters and digits separated by single dots or dashes")
	}
	mediaType := ""
	if body.MediaType != nil {
		mediaType = *body.MediaType
	}
	switch mediaType {
	case "":
		mediaType = "text/plain"
		if v := strings.TrimSpace(*body.Value); (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Valid([]byte(v)) {
			mediaType = "application/json"
		}
	case "text/plain", "application/json":
	default:
		return nil, badRequest("Media type is invalid please use a valid media type: text/plain, application/json")
	}
	l, err := a.store.AddLabel(c.R.Context(), store.Label{UUID: auth.NewUUID(), ManifestID: m.ID, Key: body.Key,
		Value: *body.Value, MediaType: mediaType, Source: "api"})
	if err != nil {
		return nil, err
	}
	if err := c.LogRepo("manifest_label_add", repo, map[string]any{"id": l.UUID, "key": l.Key, "value": l.Value,
		"manifest_digest": m.Digest, "media_type": l.MediaType, "namespace": repo.Namespace, "repo": repo.Name}); err != nil {
		return nil, err
	}
	c.W.Header().Set("Location", "/api/v1/repository/"+repo.FullName()+"/manifest/"+url.PathEscape(m.Digest)+"/labels/"+l.UUID)
	return map[string]any{"label": labelView(l)}, nil
}

// manifestLabel finds the {labelid} label of a manifest.
func (a *API) manifestLabel(c *Call, m store.Manifest) (store.Label, error) {
	labels, err := a.store.Labels(c.R.Context(), m.ID, "")
	if err != nil {
		return store.Label{}, err
	}
	for _, l := range labels {
		if l.UUID == c.Param("labelid") {
			return l, nil
		}
	}
	return store.Label{}, notFound("label " + c.Param("labelid"))
}

func (a *API) getManifestLabel(c *Call) (any, error) {
	_, m, err := a.repoManifest(c, store.RoleRead)
	if err != nil {
		return nil, err
	}
	l, err := a.manifestLabel(c, m)
	if err != nil {
		return nil, err
	}
	return labelView(l), nil
}

func (a *API) deleteManifestLabel(c *Call) (any, error) {
	repo, m, err := a.repoManifest(c, store.RoleWrite)
	if err != nil {
		return nil, err
	}
	l, err := a.manifestLabel(c, m)
	if err != nil {
		return nil, err
	}
	if err := a.store.DeleteLabel(c.R.Context(), m.ID, l.UUID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("label " + l.UUID)
		}
		return nil, err
	}
	if err := c.LogRepo("manifest_label_delete", repo, map[string]any{"id": l.UUID, "key": l.Key, "value": l.Value,
		"manifest_digest": m.Digest, "namespace": repo.Namespace, "repo": repo.Name}); err != nil {
		return nil, err
	}
	return nil, nil
}

// getRepoManifestSecurity is Quay's security endpoint: {"status": "queued"|"scanned"|"failed"|
// "unsupported", "data": {"Layer": {... "Features": [...]}}}.
func (a *API) getRepoManifestSecurity(c *Call) (any, error) {
	if a.opts.Security == nil {
		return nil, notFound("security scanning (FEATURE_SECURITY_SCANNER is off)")
	}
	_, m, err := a.repoManifest(c, store.RoleRead)
	if err != nil {
		return nil, err
	}
	return a.opts.Security(c.R.Context(), m, repoQueryBool(c, "vulnerabilities", false))
}
