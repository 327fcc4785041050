// Package clair speaks Clair v4's HTTP API (version 1.2 of its OpenAPI document), both ways.
//
// NewHandler serves a Backend (an indexer and a matcher) over the API, so that Quay, clairctl
// and Wharf's registry can use `wharf scanner serve` as they would use Clair. Client is the
// other side: it calls any server of the API (a real Clair or Wharf's own scanner) and is
// itself a Backend, so the registry's security-scan worker can run against the built-in
// scanner in-process or against a remote one without knowing which.
//
// The endpoints served and called:
//
//	POST   /indexer/api/v1/index_report                    index a manifest → 201 IndexReport
//	DELETE /indexer/api/v1/index_report                    delete manifests (JSON array) → 200 deleted ones
//	GET    /indexer/api/v1/index_report/{digest}           → 200 IndexReport, 404
//	DELETE /indexer/api/v1/index_report/{digest}           → 204
//	GET    /indexer/api/v1/index_state                     → 200 {"state"} with an Etag, 304
//	GET    /matcher/api/v1/vulnerability_report/{digest}   → 201 VulnerabilityReport, 404
//	GET    /matcher/api/v1/internal/update_operation       → 200 updater → operations, 304
//
// Authentication is Clair's PSK mode, the one Quay uses: a JWT signed with HS256 under a
// pre-shared key, carrying an allow-listed issuer.
package clair

import (
	"context"
	"errors"

	"github.com/wharf-registry/wharf/scanner/report"
)

// Backend answers the questions the API asks: it is the scanner itself (an indexer and a
// matcher), or a Client of a remote one.
type Backend interface {
	// Index indexes the manifest's layers and returns the report; when the manifest was
	// already indexed by an indexer in the current state, it returns the stored report.
	Index(ctx context.Context, m report.Manifest) (*report.IndexReport, error)
	// IndexReport returns the stored report of a manifest, or an error wrapping
	// ErrNotFound when it was never indexed.
	IndexReport(ctx context.Context, manifestDigest string) (*report.IndexReport, error)
	// DeleteManifests forgets the manifests' reports and returns the digests of those that
	// were deleted (a digest never indexed is not an error, just not returned).
	DeleteManifests(ctx context.Context, digests []string) ([]string, error)
	// IndexState returns an opaque token that changes whenever the indexer would produce a
	// different report for the same image.
	IndexState(ctx context.Context) (string, error)
	// VulnerabilityReport matches the manifest's index report against the current
	// vulnerability data; an error wrapping ErrNotFound when it was not indexed.
	VulnerabilityReport(ctx context.Context, manifestDigest string) (*report.VulnerabilityReport, error)
	// UpdateOperations returns the imports of vulnerability data by updater, newest first.
	UpdateOperations(ctx context.Context) (map[string][]report.UpdateOperation, error)
}

var (
	// ErrNotFound is wrapped by errors about a manifest that was never indexed. A Backend
	// returns it; the handler answers 404; the client wraps it when the server answers 404.
	ErrNotFound = errors.New("not found")

	// ErrInvalid is wrapped by errors about a request that cannot be served as sent (a
	// malformed digest or manifest, a layer that is not an image layer). A Backend may wrap
	// it to make the handler answer 400 instead of 500; the client wraps it when the server
	// answers 400, and when it refuses to send a malformed digest.
	ErrInvalid = errors.New("invalid request")

	// ErrStateUnchanged is returned by Client.IndexIfChanged when the server answers 412:
	// the indexer is still in the state the caller named, so a report it already holds is
	// current.
	ErrStateUnchanged = errors.New("indexer state unchanged")
)

// Paths of the API, relative to the server's root.
const (
	pathIndexReport         = "/indexer/api/v1/index_report"
	pathIndexState          = "/indexer/api/v1/index_state"
	pathVulnerabilityReport = "/matcher/api/v1/vulnerability_report"
	pathUpdateOperation     = "/matcher/api/v1/internal/update_operation"
)

// Media types of the API's documents. Each has application/json as an alternative.
const (
	mediaJSON                = "application/json"
	mediaManifest            = "application/vnd.clair.manifest.v1+json"
	mediaIndexReport         = "application/vnd.clair.index_report.v1+json"
	mediaBulkDelete          = "application/vnd.clair.bulk_delete.v1+json"
	mediaIndexState          = "application/vnd.clair.index_state.v1+json"
	mediaVulnerabilityReport = "application/vnd.clair.vulnerability_report.v1+json"
	mediaUpdateOperations    = "application/vnd.clair.update_operations.v1+json"
	mediaError               = "application/vnd.clair.error.v1+json"
)

// validDigest reports whether s is a digest the API accepts: sha256 with 64 lower-case hex
// digits, or sha512 with 128. (The document also names blake3, marked not implemented.)
func validDigest(s string) bool {
	var n int
	switch {
	case len(s) > 7 && s[:7] == "sha256:":
		s, n = s[7:], 64
	case len(s) > 7 && s[:7] == "sha512:":
		s, n = s[7:], 128
	default:
		return false
	}
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
