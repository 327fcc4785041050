// Package service is the scanner itself: an indexer and a matcher over the metadata store,
// answering the questions of Clair v4's API (clair.Backend). `wharf scanner serve` serves it
// over HTTP, fetching layers from the URIs clients give; the registry's built-in scanner
// calls it in-process, reading layers from blob storage.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/matcher"
	"github.com/wharf-registry/wharf/scanner/report"
)

// LayerSource opens the layers of a manifest to index.
type LayerSource func(ctx context.Context, m report.Manifest) ([]indexer.Layer, error)

// Service indexes manifests, keeps their index reports in the store and matches them
// against the vulnerability data in the same store.
type Service struct {
	store  *store.Store
	ix     *indexer.Indexer
	layers LayerSource
	log    *slog.Logger
}

var _ clair.Backend = (*Service)(nil)

// New returns a scanner over st that opens layers with layers.
func New(st *store.Store, ix *indexer.Indexer, layers LayerSource, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, ix: ix, layers: layers, log: log}
}

// Index returns the manifest's index report, indexing its layers unless a report made by an
// indexer in the current state is stored.
func (s *Service) Index(ctx context.Context, m report.Manifest) (*report.IndexReport, error) {
	if m.Hash == "" {
		return nil, errors.New("index: the manifest has no hash")
	}
	state := s.ix.State()
	if row, err := s.store.IndexReport(ctx, m.Hash); err == nil && row.IndexerState == state {
		return decodeIndexReport(row)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	layers, err := s.layers(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", m.Hash, err)
	}
	ir, err := s.ix.Index(ctx, m.Hash, layers)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", m.Hash, err)
	}
	body, err := json.Marshal(ir)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", m.Hash, err)
	}
	if err := s.store.PutIndexReport(ctx, m.Hash, state, body); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "indexed manifest", "manifest", m.Hash, "layers", len(m.Layers), "packages", len(ir.Packages))
	return ir, nil
}

// IndexReport returns the stored index report of a manifest, or clair.ErrNotFound.
func (s *Service) IndexReport(ctx context.Context, digest string) (*report.IndexReport, error) {
	row, err := s.store.IndexReport(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("manifest %s was not indexed: %w", digest, clair.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return decodeIndexReport(row)
}

// DeleteManifests forgets the index reports of the digests and returns those it had.
func (s *Service) DeleteManifests(ctx context.Context, digests []string) ([]string, error) {
	return s.store.DeleteIndexReports(ctx, digests)
}

// IndexState is the indexer's state token.
func (s *Service) IndexState(context.Context) (string, error) { return s.ix.State(), nil }

// VulnerabilityReport matches the manifest's stored index report against the current
// vulnerability data; clair.ErrNotFound when the manifest was not indexed.
func (s *Service) VulnerabilityReport(ctx context.Context, digest string) (*report.VulnerabilityReport, error) {
	ir, err := s.IndexReport(ctx, digest)
	if err != nil {
		return nil, err
	}
	vr, err := matcher.Match(ctx, s.store, ir)
	if err != nil {
		return nil, fmt.Errorf("match %s: %w", digest, err)
	}
	return vr, nil
}

// UpdateOperations lists the imports of vulnerability data, newest first, by updater.
func (s *Service) UpdateOperations(ctx context.Context) (map[string][]report.UpdateOperation, error) {
	ops, err := s.store.UpdateOperations(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]report.UpdateOperation{}
	for _, op := range ops {
		out[op.Updater] = append(out[op.Updater], op)
	}
	return out, nil
}

func decodeIndexReport(row store.IndexReportRow) (*report.IndexReport, error) {
	var ir report.IndexReport
	if err := json.Unmarshal(row.Report, &ir); err != nil {
		return nil, fmt.Errorf("stored index report of %s: %w", row.ManifestDigest, err)
	}
	return &ir, nil
}
