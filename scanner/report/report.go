// Package report holds the documents the scanner produces and exchanges, in the shapes of Clair
// v4's published API (its OpenAPI document, version 1.2): the Manifest a client asks to index,
// the IndexReport (what is installed in an image, and which layer brought it), the
// VulnerabilityReport (which of those packages are affected, by what), and the IndexState.
//
// These types are the scanner's internal model too: the indexer fills an IndexReport, the
// matcher turns one into a VulnerabilityReport, the Clair API serves them as they are, and the
// registry reads the same JSON from its built-in scanner, a `wharf scanner serve` or a real
// Clair.
//
// One Wharf convention rides on Clair's shape without adding fields: every package the indexer
// finds has, among its environment's repositories, one whose Key is EcosystemKey and whose Name
// is the package's OSV ecosystem ("Debian:12", "Alpine:v3.19", "Go", "PyPI", ...). That is
// what the matcher looks vulnerabilities up by.
package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// EcosystemKey is the Key of the Repository that names a package's OSV ecosystem.
const EcosystemKey = "osv-ecosystem"

// Package kinds.
const (
	KindBinary = "BINARY"
	KindSource = "SOURCE"
)

// Manifest is what a client submits to be indexed: the image manifest's digest and its
// layers in order, each with where to fetch it.
type Manifest struct {
	Hash   string  `json:"hash"`
	Layers []Layer `json:"layers,omitempty"`
}

// Layer is one layer of a Manifest: its digest and how to fetch its blob.
type Layer struct {
	Hash      string              `json:"hash"`
	URI       string              `json:"uri"`
	Headers   map[string][]string `json:"headers,omitempty"`
	MediaType string              `json:"media_type,omitempty"`
}

// Index states, as Clair reports them.
const (
	StateIndexFinished = "IndexFinished"
	StateIndexError    = "IndexError"
)

// IndexReport is the inventory of one manifest.
type IndexReport struct {
	ManifestHash  string                    `json:"manifest_hash"`
	State         string                    `json:"state"`
	Err           string                    `json:"err,omitempty"`
	Success       bool                      `json:"success"`
	Packages      map[string]*Package       `json:"packages,omitempty"`
	Distributions map[string]*Distribution  `json:"distributions,omitempty"`
	Repositories  map[string]*Repository    `json:"repository,omitempty"`
	Environments  map[string][]*Environment `json:"environments,omitempty"`
}

// Package is installed software. A binary package may name the source package it was built
// from (Debian's Source:, Alpine's origin, an RPM's source RPM).
type Package struct {
	ID                string   `json:"id,omitempty"`
	Name              string   `json:"name"`
	Version           string   `json:"version"`
	Kind              string   `json:"kind,omitempty"`
	Source            *Package `json:"source,omitempty"`
	NormalizedVersion string   `json:"normalized_version,omitempty"`
	Module            string   `json:"module,omitempty"`
	Arch              string   `json:"arch,omitempty"`
	CPE               string   `json:"cpe,omitempty"`
}

// Distribution is the operating system a package belongs to, from os-release.
type Distribution struct {
	ID              string `json:"id"`
	DID             string `json:"did,omitempty"`
	Name            string `json:"name,omitempty"`
	Version         string `json:"version,omitempty"`
	VersionCodeName string `json:"version_code_name,omitempty"`
	VersionID       string `json:"version_id,omitempty"`
	Arch            string `json:"arch,omitempty"`
	CPE             string `json:"cpe,omitempty"`
	PrettyName      string `json:"pretty_name,omitempty"`
}

// Repository is where a package comes from (see EcosystemKey).
type Repository struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Key  string `json:"key,omitempty"`
	URI  string `json:"uri,omitempty"`
	CPE  string `json:"cpe,omitempty"`
}

// Environment says where a package was found: the package database (a path in the image),
// the layer that introduced it, its distribution and repositories.
type Environment struct {
	PackageDB      string   `json:"package_db,omitempty"`
	IntroducedIn   string   `json:"introduced_in,omitempty"`
	DistributionID string   `json:"distribution_id,omitempty"`
	RepositoryIDs  []string `json:"repository_ids,omitempty"`
}

// VulnerabilityReport is an IndexReport with the vulnerabilities that affect its packages.
type VulnerabilityReport struct {
	ManifestHash           string                       `json:"manifest_hash"`
	Packages               map[string]*Package          `json:"packages"`
	Distributions          map[string]*Distribution     `json:"distributions"`
	Repositories           map[string]*Repository       `json:"repository,omitempty"`
	Environments           map[string][]*Environment    `json:"environments"`
	Vulnerabilities        map[string]*Vulnerability    `json:"vulnerabilities"`
	PackageVulnerabilities map[string][]string          `json:"package_vulnerabilities"`
	Enrichments            map[string][]json.RawMessage `json:"enrichments,omitempty"`
}

// Vulnerability is one advisory as it applies to one package.
type Vulnerability struct {
	ID                 string        `json:"id"`
	Updater            string        `json:"updater"`
	Name               string        `json:"name"`
	Description        string        `json:"description,omitempty"`
	Issued             *time.Time    `json:"issued,omitempty"`
	Links              string        `json:"links,omitempty"`
	Severity           string        `json:"severity,omitempty"`
	NormalizedSeverity Severity      `json:"normalized_severity"`
	Package            *Package      `json:"package,omitempty"`
	Distribution       *Distribution `json:"distribution,omitempty"`
	Repository         *Repository   `json:"repository,omitempty"`
	FixedInVersion     string        `json:"fixed_in_version,omitempty"`
	ArchOp             string        `json:"arch_op,omitempty"`
	Range              *Range        `json:"range,omitempty"`
}

// Range is a range of versions: lower bound inclusive, upper bound exclusive.
type Range struct {
	Lower string `json:"[,omitempty"`
	Upper string `json:"),omitempty"`
}

// IndexState is an opaque token that changes whenever the indexer would produce a different
// report for the same image (new extractors, new versions of them).
type IndexState struct {
	State string `json:"state"`
}

// Error is the body of an error response of the Clair API.
type Error struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// Severity is a normalised severity, Quay's and Clair's levels, ordered.
type Severity int

// The severities, from least to most severe.
const (
	Unknown Severity = iota
	Negligible
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"Unknown", "Negligible", "Low", "Medium", "High", "Critical"}

// String returns the level's name ("High").
func (s Severity) String() string {
	if s < Unknown || s > Critical {
		return severityNames[Unknown]
	}
	return severityNames[s]
}

// ParseSeverity reads a level's name, ignoring case.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(n, name) {
			return Severity(i), nil
		}
	}
	return Unknown, fmt.Errorf("unknown severity %q: use one of %s", name, strings.Join(severityNames[:], ", "))
}

// MarshalText writes the level's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a level's name; an unrecognised one is Unknown.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		v = Unknown
	}
	*s = v
	return nil
}

// Ecosystem returns the OSV ecosystem the environment's repositories name (see
// EcosystemKey), or "".
func (r *IndexReport) Ecosystem(env *Environment) string {
	return ecosystemOf(r.Repositories, env)
}

func ecosystemOf(repos map[string]*Repository, env *Environment) string {
	if env == nil {
		return ""
	}
	for _, id := range env.RepositoryIDs {
		if repo := repos[id]; repo != nil && repo.Key == EcosystemKey {
			return repo.Name
		}
	}
	return ""
}

// Ecosystem returns the OSV ecosystem the environment's repositories name, or "".
func (r *VulnerabilityReport) Ecosystem(env *Environment) string {
	return ecosystemOf(r.Repositories, env)
}

// UpdateOperation records one import of vulnerability data (Clair's internal
// update_operation): a new Ref means the matcher may now answer differently.
type UpdateOperation struct {
	Ref         string    `json:"ref"`
	Updater     string    `json:"updater"`
	Fingerprint string    `json:"fingerprint"`
	Date        time.Time `json:"date"`
	Kind        string    `json:"kind"`
}
