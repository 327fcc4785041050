package secscan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/report"
)

// Security is the body of Quay's GET /api/v1/repository/{repository}/manifest/{digest}/security:
// the scan status and, once scanned, the manifest's packages ("features") with their
// vulnerabilities, in the shape the Quay UI and OpenShift's Container Security Operator read.
type Security struct {
	Status string        `json:"status"`
	Data   *SecurityData `json:"data"`
}

// SecurityData wraps the layer, as Quay's (Clair v2 era) format does.
type SecurityData struct {
	Layer SecurityLayer `json:"Layer"`
}

// SecurityLayer is the whole image, named by the manifest digest.
type SecurityLayer struct {
	Name             string    `json:"Name"`
	ParentName       string    `json:"ParentName"`
	NamespaceName    string    `json:"NamespaceName"`
	IndexedByVersion int       `json:"IndexedByVersion"`
	Features         []Feature `json:"Features"`
}

// Feature is an installed package.
type Feature struct {
	Name            string          `json:"Name"`
	VersionFormat   string          `json:"VersionFormat"`
	NamespaceName   string          `json:"NamespaceName"`
	AddedBy         string          `json:"AddedBy"`
	Version         string          `json:"Version"`
	BaseScores      []float64       `json:"BaseScores,omitempty"`
	CVEIds          []string        `json:"CVEIds,omitempty"`
	Vulnerabilities []Vulnerability `json:"Vulnerabilities,omitempty"`
}

// Vulnerability is one vulnerability of a feature.
type Vulnerability struct {
	Severity      string                `json:"Severity"`
	NamespaceName string                `json:"NamespaceName"`
	Link          string                `json:"Link"`
	FixedBy       string                `json:"FixedBy"`
	Description   string                `json:"Description"`
	Name          string                `json:"Name"`
	Metadata      VulnerabilityMetadata `json:"Metadata"`
}

// VulnerabilityMetadata says where the record came from.
type VulnerabilityMetadata struct {
	UpdatedBy     string `json:"UpdatedBy"`
	RepoName      string `json:"RepoName"`
	RepoLink      string `json:"RepoLink"`
	DistroName    string `json:"DistroName"`
	DistroVersion string `json:"DistroVersion"`
	NVD           struct {
		CVSSv3 struct {
			Vectors string `json:"Vectors"`
			Score   string `json:"Score"`
		} `json:"CVSSv3"`
	} `json:"NVD"`
}

// ManifestSecurity answers the security endpoint for a manifest: "queued" until the worker
// indexed it, then "scanned" with the report matched against the scanner's current data
// ("failed" or "unsupported" when it could not be indexed; indexes are "unsupported": their
// children are scanned).
func (w *Worker) ManifestSecurity(ctx context.Context, m store.Manifest, vulnerabilities bool) (*Security, error) {
	if !slices.Contains(store.ImageManifestTypes, m.MediaType) { // indexes: their children are scanned
		return &Security{Status: store.ScanUnsupported}, nil
	}
	st, err := w.st.ScanStatusOf(ctx, m.Digest)
	if errors.Is(err, store.ErrNotFound) {
		w.Pushed(m.Digest, m.MediaType)
		return &Security{Status: store.ScanQueued}, nil
	}
	if err != nil {
		return nil, err
	}
	if st.Status != store.ScanScanned {
		return &Security{Status: st.Status}, nil
	}
	vr, err := w.scanner.VulnerabilityReport(ctx, m.Digest)
	if errors.Is(err, clair.ErrNotFound) { // the scanner lost it: index again
		if err := w.st.RequeueScan(ctx, m.Digest); err != nil {
			return nil, err
		}
		w.Pushed(m.Digest, m.MediaType)
		return &Security{Status: store.ScanQueued}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulnerability report of %s: %w", m.Digest, err)
	}
	return &Security{Status: store.ScanScanned, Data: &SecurityData{Layer: Layer(m.Digest, vr, vulnerabilities)}}, nil
}

// Layer turns a vulnerability report into Quay's layer document.
func Layer(digest string, vr *report.VulnerabilityReport, vulnerabilities bool) SecurityLayer {
	layer := SecurityLayer{Name: digest, IndexedByVersion: 4, Features: []Feature{}}
	ids := make([]string, 0, len(vr.Packages))
	for id := range vr.Packages {
		ids = append(ids, id)
	}
	for _, id := range ids {
		pkg := vr.Packages[id]
		f := Feature{Name: pkg.Name, Version: pkg.Version}
		var dist *report.Distribution
		if envs := vr.Environments[id]; len(envs) > 0 {
			f.AddedBy = envs[0].IntroducedIn
			dist = vr.Distributions[envs[0].DistributionID]
		}
		if dist != nil {
			f.NamespaceName = dist.DID + ":" + dist.VersionID
		}
		for _, vid := range vr.PackageVulnerabilities[id] {
			v := vr.Vulnerabilities[vid]
			if v == nil {
				continue
			}
			if strings.HasPrefix(v.Name, "CVE-") && !slices.Contains(f.CVEIds, v.Name) {
				f.CVEIds = append(f.CVEIds, v.Name)
			}
			if !vulnerabilities {
				continue
			}
			qv := Vulnerability{Severity: v.NormalizedSeverity.String(), NamespaceName: f.NamespaceName, Link: firstLink(v.Links),
				FixedBy: v.FixedInVersion, Description: v.Description, Name: v.Name}
			qv.Metadata.UpdatedBy = v.Updater
			if dist != nil {
				qv.Metadata.DistroName, qv.Metadata.DistroVersion = dist.Name, dist.VersionID
			}
			if v.Repository != nil {
				qv.Metadata.RepoName, qv.Metadata.RepoLink = v.Repository.Name, v.Repository.URI
			}
			if strings.HasPrefix(v.Severity, "CVSS:3") {
				qv.Metadata.NVD.CVSSv3.Vectors = v.Severity
			}
			f.Vulnerabilities = append(f.Vulnerabilities, qv)
		}
		sort.Slice(f.Vulnerabilities, func(i, j int) bool { return f.Vulnerabilities[i].Name < f.Vulnerabilities[j].Name })
		sort.Strings(f.CVEIds)
		layer.Features = append(layer.Features, f)
	}
	sort.Slice(layer.Features, func(i, j int) bool {
		a, b := layer.Features[i], layer.Features[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	return layer
}
