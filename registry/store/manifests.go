package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Manifest is a manifest row. Content holds the exact bytes the client pushed.
type Manifest struct {
	ID           int64
	RepositoryID int64
	Digest       string
	MediaType    string
	ArtifactType string
	Subject      string
	// Annotations is the manifest's annotations as JSON ("" when none).
	Annotations string
	Content     []byte
	Size        int64
	CreatedAt   time.Time
}

// MissingError reports references a manifest makes to content the repository lacks.
type MissingError struct {
	// Kind is "blob" or "manifest".
	Kind   string
	Digest string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("referenced %s %s is not in the repository", e.Kind, e.Digest)
}

// ManifestPut is a manifest to store, with what it references.
type ManifestPut struct {
	RepositoryID int64
	Digest       string
	MediaType    string
	ArtifactType string
	Subject      string
	Annotations  string
	Content      []byte
	// Blobs must be linked to the repository (config and layers).
	Blobs []string
	// Children must be manifests in the repository (entries of an index).
	Children []string
	// Tags are pointed at the manifest, moving them if they exist.
	Tags []string
}

// PutManifest stores a manifest and points its tags at it in one transaction. It fails with a
// *MissingError, storing nothing, when a referenced blob or child manifest is missing.
func (s *Store) PutManifest(ctx context.Context, p ManifestPut) (Manifest, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRepo(ctx, tx, p.RepositoryID); err != nil {
			return err
		}
		now := s.now()
		blobIDs := make([]int64, 0, len(p.Blobs))
		for _, d := range p.Blobs {
			var blobID int64
			err := tx.QueryRowContext(ctx, s.q(`UPDATE repo_blob SET touched_at = ? WHERE repository_id = ?
				AND blob_id = (SELECT id FROM blob WHERE digest = ? AND NOT deleting) RETURNING blob_id`), now, p.RepositoryID, d).Scan(&blobID)
			if errors.Is(err, sql.ErrNoRows) {
				return &MissingError{Kind: "blob", Digest: d}
			}
			if err != nil {
				return fmt.Errorf("check blob %s: %w", d, err)
			}
			blobIDs = append(blobIDs, blobID)
		}
		childIDs := make([]int64, 0, len(p.Children))
		for _, d := range p.Children {
			var childID int64
			err := tx.QueryRowContext(ctx, s.q(`UPDATE manifest SET touched_at = ? WHERE repository_id = ? AND digest = ? AND NOT hidden
				RETURNING id`), now, p.RepositoryID, d).Scan(&childID)
			if errors.Is(err, sql.ErrNoRows) {
				return &MissingError{Kind: "manifest", Digest: d}
			}
			if err != nil {
				return fmt.Errorf("check child manifest %s: %w", d, err)
			}
			childIDs = append(childIDs, childID)
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO manifest (repository_id, digest, media_type, artifact_type, subject_digest,
				annotations, content, created_at, touched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (repository_id, digest) DO UPDATE SET hidden = FALSE, touched_at = excluded.touched_at
			RETURNING id`), p.RepositoryID, p.Digest, p.MediaType, p.ArtifactType, p.Subject, p.Annotations, p.Content, now, now).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert manifest: %w", err)
		}
		for _, b := range blobIDs {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO manifest_blob (manifest_id, blob_id) VALUES (?, ?)
				ON CONFLICT (manifest_id, blob_id) DO NOTHING`), id, b); err != nil {
				return fmt.Errorf("insert manifest blob: %w", err)
			}
		}
		for _, c := range childIDs {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO manifest_child (manifest_id, child_id) VALUES (?, ?)
				ON CONFLICT (manifest_id, child_id) DO NOTHING`), id, c); err != nil {
				return fmt.Errorf("insert manifest child: %w", err)
			}
		}
		for _, tag := range p.Tags {
			if err := s.moveTag(ctx, tx, p.RepositoryID, tag, id, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{ID: id, RepositoryID: p.RepositoryID, Digest: p.Digest, MediaType: p.MediaType, ArtifactType: p.ArtifactType,
		Subject: p.Subject, Annotations: p.Annotations, Content: p.Content, Size: int64(len(p.Content))}, nil
}

// lockRepo serializes manifest and tag writes and garbage collection within one repository.
func (s *Store) lockRepo(ctx context.Context, tx *sql.Tx, repoID int64) error {
	var id int64
	err := tx.QueryRowContext(ctx, s.q("SELECT id FROM repository WHERE id = ?"+s.forUpdate()), repoID).Scan(&id)
	if err != nil {
		return notFound(err, fmt.Sprintf("repository %d", repoID))
	}
	return nil
}

const manifestColumns = "m.id, m.repository_id, m.digest, m.media_type, m.artifact_type, m.subject_digest, m.annotations, m.content, m.created_at"

func scanManifest(row scanner) (Manifest, error) {
	var m Manifest
	var created int64
	err := row.Scan(&m.ID, &m.RepositoryID, &m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &m.Annotations, &m.Content, &created)
	m.Size = int64(len(m.Content))
	m.CreatedAt = time.UnixMicro(created)
	return m, err
}

// ManifestByName returns the manifest that a tag or (when tag is "") a digest names in
// NAMESPACE/REPOSITORY, in one query: the pull path. ErrNotFound does not say whether the
// repository exists.
func (s *Store) ManifestByName(ctx context.Context, namespace, repository, tag, digest string) (Manifest, error) {
	var row *sql.Row
	if tag != "" {
		row = s.queryRow(ctx, "SELECT "+manifestColumns+` FROM namespace n JOIN repository r ON r.namespace_id = n.id
			JOIN tag t ON t.repository_id = r.id JOIN manifest m ON m.id = t.manifest_id
			WHERE n.name = ? AND r.name = ? AND t.name = ? AND t.lifetime_end IS NULL
			AND (t.expires_at IS NULL OR t.expires_at > ?)`, namespace, repository, tag, s.now())
	} else {
		row = s.queryRow(ctx, "SELECT "+manifestColumns+` FROM namespace n JOIN repository r ON r.namespace_id = n.id
			JOIN manifest m ON m.repository_id = r.id WHERE n.name = ? AND r.name = ? AND m.digest = ? AND NOT m.hidden`,
			namespace, repository, digest)
	}
	m, err := scanManifest(row)
	if err != nil {
		return Manifest{}, notFound(err, "manifest "+tag+digest)
	}
	return m, nil
}

// DeleteManifest removes a manifest from view and ends every tag pointing at it. The tags stay
// in the history, restorable for the retention window, and the rows stay until then.
func (s *Store) DeleteManifest(ctx context.Context, repoID int64, digest string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRepo(ctx, tx, repoID); err != nil {
			return err
		}
		now := s.now()
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE manifest SET hidden = TRUE, touched_at = ? WHERE repository_id = ? AND digest = ? AND NOT hidden
			RETURNING id`), now, repoID, digest).Scan(&id)
		if err != nil {
			return notFound(err, "manifest "+digest)
		}
		if _, err := tx.ExecContext(ctx, s.q("UPDATE tag SET lifetime_end = ? WHERE manifest_id = ? AND lifetime_end IS NULL"), now, id); err != nil {
			return fmt.Errorf("end tags of manifest %s: %w", digest, err)
		}
		return nil
	})
}

// Referrers lists the manifests of the repository whose subject is digest, optionally only
// those of one artifact type, oldest first.
func (s *Store) Referrers(ctx context.Context, repoID int64, digest, artifactType string) ([]Manifest, error) {
	query := "SELECT " + manifestColumns + " FROM manifest m WHERE m.repository_id = ? AND m.subject_digest = ? AND NOT m.hidden"
	args := []any{repoID, digest}
	if artifactType != "" {
		query += " AND m.artifact_type = ?"
		args = append(args, artifactType)
	}
	rows, err := s.query(ctx, query+" ORDER BY m.id", args...)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", digest, err)
	}
	defer rows.Close()
	out := []Manifest{}
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, fmt.Errorf("referrers of %s: %w", digest, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
