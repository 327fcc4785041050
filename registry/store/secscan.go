package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Scan statuses, Quay's words for a manifest's security status.
const (
	ScanQueued      = "queued"
	ScanScanned     = "scanned"
	ScanFailed      = "failed"
	ScanUnsupported = "unsupported"
)

// ImageManifestTypes are the manifest media types the scanner indexes: images, not indexes.
var ImageManifestTypes = []string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// IndexReportRow is a stored index report.
type IndexReportRow struct {
	ManifestDigest string
	IndexerState   string
	Report         []byte // the report's JSON
	CreatedAt      time.Time
}

// PutIndexReport stores (or replaces) the index report of a manifest.
func (s *Store) PutIndexReport(ctx context.Context, digest, indexerState string, reportJSON []byte) error {
	_, err := s.exec(ctx, `INSERT INTO scan_report (manifest_digest, indexer_state, report, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (manifest_digest) DO UPDATE SET indexer_state = excluded.indexer_state, report = excluded.report,
		created_at = excluded.created_at`, digest, indexerState, string(reportJSON), s.now())
	if err != nil {
		return fmt.Errorf("store the index report of %s: %w", digest, err)
	}
	return nil
}

// IndexReport returns the stored index report of a manifest, or ErrNotFound.
func (s *Store) IndexReport(ctx context.Context, digest string) (IndexReportRow, error) {
	var r IndexReportRow
	var report string
	var created int64
	err := s.queryRow(ctx, `SELECT manifest_digest, indexer_state, report, created_at FROM scan_report WHERE manifest_digest = ?`, digest).
		Scan(&r.ManifestDigest, &r.IndexerState, &report, &created)
	if err != nil {
		return r, notFound(err, "index report of "+digest)
	}
	r.Report, r.CreatedAt = []byte(report), fromMicros(created)
	return r, nil
}

// DeleteIndexReports removes the index reports of the digests and returns those that existed.
func (s *Store) DeleteIndexReports(ctx context.Context, digests []string) ([]string, error) {
	deleted := []string{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		deleted = deleted[:0]
		for _, d := range digests {
			res, err := tx.ExecContext(ctx, s.q(`DELETE FROM scan_report WHERE manifest_digest = ?`), d)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				deleted = append(deleted, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete index reports: %w", err)
	}
	return deleted, nil
}

// IndexReportDigests lists stored index reports' manifest digests after the given one, in
// order, at most limit: a cursor over every report.
func (s *Store) IndexReportDigests(ctx context.Context, after string, limit int) ([]string, error) {
	return list(ctx, s, "index reports", scanString,
		`SELECT manifest_digest FROM scan_report WHERE manifest_digest > ? ORDER BY manifest_digest LIMIT ?`, after, limit)
}

// ScanStatus is a manifest's row in the scanning queue.
type ScanStatus struct {
	ManifestDigest string
	Status         string
	IndexerState   string
	Attempts       int
	Error          string
	IndexedAt      time.Time
	// VulnDBRef names the vulnerability data Findings were matched against.
	VulnDBRef string
	Findings  []string
	UpdatedAt time.Time
}

const scanStatusColumns = `manifest_digest, status, indexer_state, attempts, error, indexed_at, vulndb_ref, findings, updated_at`

func scanScanStatus(row scanner) (ScanStatus, error) {
	var st ScanStatus
	var indexed, updated int64
	var findings string
	if err := row.Scan(&st.ManifestDigest, &st.Status, &st.IndexerState, &st.Attempts, &st.Error, &indexed,
		&st.VulnDBRef, &findings, &updated); err != nil {
		return st, err
	}
	if indexed > 0 {
		st.IndexedAt = fromMicros(indexed)
	}
	st.UpdatedAt = fromMicros(updated)
	if findings != "" {
		if err := json.Unmarshal([]byte(findings), &st.Findings); err != nil {
			return st, fmt.Errorf("findings of %s: %w", st.ManifestDigest, err)
		}
	}
	return st, nil
}

// ScanStatusOf returns a manifest's scanning state, or ErrNotFound when it was never queued.
func (s *Store) ScanStatusOf(ctx context.Context, digest string) (ScanStatus, error) {
	st, err := scanScanStatus(s.queryRow(ctx, `SELECT `+scanStatusColumns+` FROM scan_status WHERE manifest_digest = ?`, digest))
	if err != nil {
		return st, notFound(err, "scan status of "+digest)
	}
	return st, nil
}

// QueueScans adds the image manifests that have no scanning state yet, at most limit, to the
// queue, and returns how many it added. With namespaces, only manifests in repositories of
// those namespaces are queued (SECURITY_SCANNER_V4_NAMESPACE_WHITELIST).
func (s *Store) QueueScans(ctx context.Context, namespaces []string, limit int) (int, error) {
	args := []any{}
	types := placeholders(len(ImageManifestTypes))
	for _, t := range ImageManifestTypes {
		args = append(args, t)
	}
	where := ""
	if len(namespaces) > 0 {
		where = ` AND n.name IN (` + placeholders(len(namespaces)) + `)`
		for _, ns := range namespaces {
			args = append(args, ns)
		}
	}
	args = append(args, limit)
	digests, err := list(ctx, s, "manifests to scan", scanString, `SELECT DISTINCT m.digest FROM manifest m
		JOIN repository r ON r.id = m.repository_id JOIN namespace n ON n.id = r.namespace_id
		WHERE m.media_type IN (`+types+`) AND NOT m.hidden`+where+`
		AND NOT EXISTS (SELECT 1 FROM scan_status s WHERE s.manifest_digest = m.digest) LIMIT ?`, args...)
	if err != nil {
		return 0, err
	}
	added := 0
	now := s.now()
	for _, d := range digests {
		res, err := s.exec(ctx, `INSERT INTO scan_status (manifest_digest, status, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (manifest_digest) DO NOTHING`, d, ScanQueued, now)
		if err != nil {
			return added, fmt.Errorf("queue %s for scanning: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
	}
	return added, nil
}

// ClaimScans claims up to n manifests to index for lease: those queued and due, and those
// scanned by an indexer whose state differs from indexerState (the indexer learnt something
// new) or longer ago than reindexAfter (0: never). A claim that is neither finished nor
// renewed runs out with its lease and the manifest is claimed again.
func (s *Store) ClaimScans(ctx context.Context, indexerState string, reindexAfter time.Duration, n int, lease time.Duration) ([]string, error) {
	var claimed []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		claimed = claimed[:0]
		now := s.now()
		reindexBefore := int64(0)
		if reindexAfter > 0 {
			reindexBefore = now - reindexAfter.Microseconds()
		}
		skip := ""
		if s.dialect == Postgres {
			skip = " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT manifest_digest FROM scan_status WHERE lease_until < ? AND (
			(status = ? AND next_try_at <= ?) OR (status = ? AND (indexer_state <> ? OR indexed_at < ?)))
			ORDER BY updated_at LIMIT ?`+skip), now, ScanQueued, now, ScanScanned, indexerState, reindexBefore, n)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return err
			}
			claimed = append(claimed, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range claimed {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE scan_status SET lease_until = ?, attempts = attempts + 1 WHERE manifest_digest = ?`),
				now+lease.Microseconds(), d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim manifests to scan: %w", err)
	}
	return claimed, nil
}

// ScanOutcome is how indexing a claimed manifest ended.
type ScanOutcome struct {
	Status       string // ScanScanned, ScanFailed (for good), ScanUnsupported or ScanQueued (try again)
	IndexerState string
	Error        string
	RetryAt      time.Time // for ScanQueued
}

// FinishScan records the outcome of indexing a claimed manifest and releases the claim. A
// newly scanned manifest starts with no findings: the first match records them.
func (s *Store) FinishScan(ctx context.Context, digest string, o ScanOutcome) error {
	now := s.now()
	retry := int64(0)
	if !o.RetryAt.IsZero() {
		retry = micros(o.RetryAt)
	}
	var err error
	if o.Status == ScanScanned {
		_, err = s.exec(ctx, `UPDATE scan_status SET status = ?, indexer_state = ?, error = '', next_try_at = 0, lease_until = 0,
			indexed_at = ?, attempts = 0, vulndb_ref = '', updated_at = ? WHERE manifest_digest = ?`,
			o.Status, o.IndexerState, now, now, digest)
	} else {
		_, err = s.exec(ctx, `UPDATE scan_status SET status = ?, indexer_state = ?, error = ?, next_try_at = ?, lease_until = 0,
			updated_at = ? WHERE manifest_digest = ?`, o.Status, o.IndexerState, o.Error, retry, now, digest)
	}
	if err != nil {
		return fmt.Errorf("record the scan of %s: %w", digest, err)
	}
	return nil
}

// RequeueScan puts a manifest back in the queue now (an on-demand scan).
func (s *Store) RequeueScan(ctx context.Context, digest string) error {
	_, err := s.exec(ctx, `INSERT INTO scan_status (manifest_digest, status, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (manifest_digest) DO UPDATE SET status = excluded.status, next_try_at = 0, attempts = 0, error = ''`,
		digest, ScanQueued, s.now())
	if err != nil {
		return fmt.Errorf("queue %s for scanning: %w", digest, err)
	}
	return nil
}

// StaleMatches lists scanned manifests whose findings were not matched against the
// vulnerability data named ref, after the given digest, at most limit.
func (s *Store) StaleMatches(ctx context.Context, ref, after string, limit int) ([]ScanStatus, error) {
	return list(ctx, s, "manifests to match", scanScanStatus, `SELECT `+scanStatusColumns+` FROM scan_status
		WHERE status = ? AND vulndb_ref <> ? AND manifest_digest > ? ORDER BY manifest_digest LIMIT ?`, ScanScanned, ref, after, limit)
}

// OrphanedScans lists manifests with a scanning state that no repository holds any more
// (the garbage collector removed them), at most limit.
func (s *Store) OrphanedScans(ctx context.Context, limit int) ([]string, error) {
	return list(ctx, s, "orphaned scans", scanString, `SELECT s.manifest_digest FROM scan_status s
		WHERE NOT EXISTS (SELECT 1 FROM manifest m WHERE m.digest = s.manifest_digest) ORDER BY s.manifest_digest LIMIT ?`, limit)
}

// ForgetScans removes the scanning state of manifests.
func (s *Store) ForgetScans(ctx context.Context, digests []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range digests {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM scan_status WHERE manifest_digest = ?`), d); err != nil {
				return fmt.Errorf("forget the scan of %s: %w", d, err)
			}
		}
		return nil
	})
}

// SecurityEvent is a "vulnerability found" event for one repository holding a manifest.
type SecurityEvent struct {
	ID             int64
	RepositoryID   int64
	Repository     string // NAMESPACE/NAME
	ManifestDigest string
	Vulnerability  string
	Package        string
	Severity       string
	FixedIn        string
	Link           string
	CreatedAt      time.Time
	DeliveredAt    time.Time
}

// Finding is a vulnerability found in a manifest, for an event.
type Finding struct {
	Vulnerability, Package, Severity, FixedIn, Link string
}

// RecordFindings stores a manifest's findings (keys) as matched against ref, and, in the same
// transaction, one event per new finding for every repository holding the manifest. It does
// nothing when the manifest's findings were meanwhile matched against ref by another worker.
func (s *Store) RecordFindings(ctx context.Context, digest, ref string, findings []string, newFindings []Finding) (int, error) {
	body, err := json.Marshal(findings)
	if err != nil {
		return 0, err
	}
	events := 0
	err = s.tx(ctx, func(tx *sql.Tx) error {
		events = 0
		var current string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT vulndb_ref FROM scan_status WHERE manifest_digest = ?`+s.forUpdate()), digest).Scan(&current); err != nil {
			return notFound(err, "scan status of "+digest)
		}
		if current == ref {
			return nil
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE scan_status SET vulndb_ref = ?, findings = ?, updated_at = ? WHERE manifest_digest = ?`),
			ref, string(body), now, digest); err != nil {
			return err
		}
		if len(newFindings) == 0 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT DISTINCT repository_id FROM manifest WHERE digest = ? AND NOT hidden`), digest)
		if err != nil {
			return err
		}
		var repos []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			repos = append(repos, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, repo := range repos {
			for _, f := range newFindings {
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO security_event (repository_id, manifest_digest, vulnerability,
					package, severity, fixed_in, link, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
					repo, digest, f.Vulnerability, f.Package, f.Severity, f.FixedIn, f.Link, now); err != nil {
					return err
				}
				events++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record the findings of %s: %w", digest, err)
	}
	return events, nil
}

// SecurityEvents lists events after the given ID, oldest first, at most limit; with
// undelivered, only those not yet delivered.
func (s *Store) SecurityEvents(ctx context.Context, afterID int64, limit int, undelivered bool) ([]SecurityEvent, error) {
	cond := ""
	if undelivered {
		cond = " AND e.delivered_at IS NULL"
	}
	return list(ctx, s, "security events", func(row scanner) (SecurityEvent, error) {
		var e SecurityEvent
		var ns, repo string
		var created int64
		var delivered sql.NullInt64
		err := row.Scan(&e.ID, &e.RepositoryID, &ns, &repo, &e.ManifestDigest, &e.Vulnerability, &e.Package, &e.Severity,
			&e.FixedIn, &e.Link, &created, &delivered)
		e.Repository, e.CreatedAt = ns+"/"+repo, fromMicros(created)
		if delivered.Valid {
			e.DeliveredAt = fromMicros(delivered.Int64)
		}
		return e, err
	}, `SELECT e.id, e.repository_id, n.name, r.name, e.manifest_digest, e.vulnerability, e.package, e.severity, e.fixed_in,
		e.link, e.created_at, e.delivered_at FROM security_event e JOIN repository r ON r.id = e.repository_id
		JOIN namespace n ON n.id = r.namespace_id WHERE e.id > ?`+cond+` ORDER BY e.id LIMIT ?`, afterID, limit)
}

// ManifestLocation is a repository holding a manifest, with the manifest's bytes.
type ManifestLocation struct {
	RepositoryID int64
	Namespace    string
	Repository   string
	MediaType    string
	Content      []byte
}

// ManifestLocations lists the repositories holding a manifest (visible ones), with the
// manifest; ErrNotFound when none does.
func (s *Store) ManifestLocations(ctx context.Context, digest string) ([]ManifestLocation, error) {
	locs, err := list(ctx, s, "repositories of "+digest, func(row scanner) (ManifestLocation, error) {
		var l ManifestLocation
		return l, row.Scan(&l.RepositoryID, &l.Namespace, &l.Repository, &l.MediaType, &l.Content)
	}, `SELECT r.id, n.name, r.name, m.media_type, m.content FROM manifest m JOIN repository r ON r.id = m.repository_id
		JOIN namespace n ON n.id = r.namespace_id WHERE m.digest = ? AND NOT m.hidden ORDER BY r.id`, digest)
	if err != nil {
		return nil, err
	}
	if len(locs) == 0 {
		return nil, fmt.Errorf("manifest %s: %w", digest, ErrNotFound)
	}
	return locs, nil
}

// ChildDigests lists the manifests an index in a repository names.
func (s *Store) ChildDigests(ctx context.Context, repoID int64, digest string) ([]string, error) {
	return list(ctx, s, "children of "+digest, scanString, `SELECT c.digest FROM manifest m JOIN manifest_child mc ON mc.manifest_id = m.id
		JOIN manifest c ON c.id = mc.child_id WHERE m.repository_id = ? AND m.digest = ? ORDER BY c.digest`, repoID, digest)
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
