package secscan

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
	"github.com/wharf-registry/wharf/scanner/service"
)

// StorageLayers reads a manifest's layers from blob storage: the built-in scanner's source.
func StorageLayers(sd storage.Driver) service.LayerSource {
	return func(ctx context.Context, m report.Manifest) ([]indexer.Layer, error) {
		layers := make([]indexer.Layer, 0, len(m.Layers))
		for _, l := range m.Layers {
			path := storage.BlobPath(l.Hash)
			info, err := sd.Stat(ctx, path)
			if err != nil {
				return nil, fmt.Errorf("layer %s in storage: %w", l.Hash, err)
			}
			layers = append(layers, indexer.Layer{Digest: l.Hash, MediaType: l.MediaType, Size: info.Size,
				Open: func(ctx context.Context) (io.ReadCloser, error) {
					rc, err := sd.Reader(ctx, path, 0)
					if err != nil {
						return nil, fmt.Errorf("read layer %s from storage: %w", l.Hash, err)
					}
					return rc, nil
				}})
		}
		return layers, nil
	}
}

// RegistryLayerLocation tells an external scanner to fetch layers from this registry's
// /v2/ API at baseURL (e.g. https://registry.example.com), with a short-lived bearer token
// that may pull from the one repository: what Quay hands Clair.
func RegistryLayerLocation(as *auth.Service, baseURL string) func(store.ManifestLocation, string) (string, map[string][]string, error) {
	baseURL = strings.TrimSuffix(baseURL, "/")
	return func(loc store.ManifestLocation, digest string) (string, map[string][]string, error) {
		repo := loc.Namespace + "/" + loc.Repository
		tok, err := as.IssueToken(auth.Identity{}, []auth.Access{{Type: "repository", Name: repo, Actions: []string{"pull"}}})
		if err != nil {
			return "", nil, fmt.Errorf("a token for the scanner to pull %s: %w", repo, err)
		}
		return baseURL + "/v2/" + repo + "/blobs/" + digest, map[string][]string{"Authorization": {"Bearer " + tok.Token}}, nil
	}
}
