package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Blob is a content-addressed blob known to the registry.
type Blob struct {
	ID     int64
	Digest string
	Size   int64
}

// ErrBlobDeleting is returned when a blob is being removed by the garbage collector; the
// caller may retry once the removal has finished.
var ErrBlobDeleting = errors.New("blob is being garbage collected")

// RepoBlob returns the blob with digest when it is linked to the repository.
func (s *Store) RepoBlob(ctx context.Context, repoID int64, digest string) (Blob, error) {
	var b Blob
	err := s.queryRow(ctx, `SELECT b.id, b.digest, b.size FROM repo_blob rb JOIN blob b ON b.id = rb.blob_id
		WHERE rb.repository_id = ? AND b.digest = ? AND NOT b.deleting`, repoID, digest).Scan(&b.ID, &b.Digest, &b.Size)
	if err != nil {
		return Blob{}, notFound(err, "blob "+digest)
	}
	return b, nil
}

// ReserveBlob records a blob about to be committed to storage, or touches its row when it is
// already known, so that the garbage collector leaves it alone for the retention window. When
// a collector is removing an earlier copy it waits for that to finish (up to wait), so the new
// copy is never deleted by the old removal.
func (s *Store) ReserveBlob(ctx context.Context, digest string, size int64, wait time.Duration) (Blob, error) {
	deadline := time.Now().Add(wait)
	for {
		b := Blob{Digest: digest}
		now := s.now()
		err := s.queryRow(ctx, `INSERT INTO blob (digest, size, created_at, touched_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at WHERE blob.deleting = FALSE
			RETURNING id, size`, digest, size, now, now).Scan(&b.ID, &b.Size)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Blob{}, fmt.Errorf("reserve blob %s: %w", digest, err)
		}
		if time.Now().After(deadline) {
			return Blob{}, fmt.Errorf("reserve blob %s: %w", digest, ErrBlobDeleting)
		}
		select {
		case <-ctx.Done():
			return Blob{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LinkBlob links a reserved blob into a repository (after its bytes are in storage).
func (s *Store) LinkBlob(ctx context.Context, repoID, blobID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.link(ctx, tx, repoID, blobID) })
}

func (s *Store) link(ctx context.Context, tx *sql.Tx, repoID, blobID int64) error {
	now := s.now()
	res, err := tx.ExecContext(ctx, s.q("UPDATE blob SET touched_at = ? WHERE id = ? AND NOT deleting"), now, blobID)
	if err != nil {
		return fmt.Errorf("link blob: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("link blob %d: %w", blobID, ErrBlobDeleting)
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO repo_blob (repository_id, blob_id, touched_at) VALUES (?, ?, ?)
		ON CONFLICT (repository_id, blob_id) DO UPDATE SET touched_at = excluded.touched_at`), repoID, blobID, now)
	if err != nil {
		return fmt.Errorf("link blob: %w", err)
	}
	return nil
}

// MountBlob links into repoID the blob with digest that is linked in fromRepoID. It returns
// ErrNotFound when the source repository has no such blob.
func (s *Store) MountBlob(ctx context.Context, repoID, fromRepoID int64, digest string) (Blob, error) {
	var b Blob
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`SELECT b.id, b.digest, b.size FROM repo_blob rb JOIN blob b ON b.id = rb.blob_id
			WHERE rb.repository_id = ? AND b.digest = ? AND NOT b.deleting`), fromRepoID, digest).Scan(&b.ID, &b.Digest, &b.Size)
		if err != nil {
			return notFound(err, "mount source blob "+digest)
		}
		return s.link(ctx, tx, repoID, b.ID)
	})
	if err != nil {
		return Blob{}, err
	}
	return b, nil
}

// ReadableBlobSource finds a repository the viewer can read that holds the blob, for the
// automatic cross-repository mount of OCI 1.1. It returns ErrNotFound when there is none.
func (s *Store) ReadableBlobSource(ctx context.Context, v Viewer, digest string) (int64, error) {
	query := `SELECT rb.repository_id FROM repo_blob rb JOIN blob b ON b.id = rb.blob_id JOIN repository r ON r.id = rb.repository_id
		WHERE b.digest = ? AND NOT b.deleting`
	args := []any{digest}
	clause, cargs := readableClause(v)
	query += " AND " + clause
	args = append(args, cargs...)
	var id int64
	if err := s.queryRow(ctx, query+" LIMIT 1", args...).Scan(&id); err != nil {
		return 0, notFound(err, "readable blob "+digest)
	}
	return id, nil
}

// UnlinkBlob removes a blob from a repository. Manifests that reference it keep it stored.
func (s *Store) UnlinkBlob(ctx context.Context, repoID int64, digest string) error {
	res, err := s.exec(ctx, `DELETE FROM repo_blob WHERE repository_id = ?
		AND blob_id = (SELECT id FROM blob WHERE digest = ?)`, repoID, digest)
	if err != nil {
		return fmt.Errorf("unlink blob %s: %w", digest, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("unlink blob %s: %w", digest, ErrNotFound)
	}
	return nil
}

// MarkUnreferencedBlobs marks for deletion up to limit blobs that no repository links, no
// manifest references, and nothing touched since cutoff, and returns them. The caller removes
// their bytes and then calls FinishBlobDeletion. Writers that touch a marked blob wait or fail,
// so a marked blob is never resurrected half-way.
func (s *Store) MarkUnreferencedBlobs(ctx context.Context, cutoff time.Time, limit int) ([]Blob, error) {
	rows, err := s.query(ctx, `UPDATE blob SET deleting = TRUE
		WHERE id IN (SELECT b.id FROM blob b WHERE NOT b.deleting AND b.touched_at < ?
			AND NOT EXISTS (SELECT 1 FROM repo_blob rb WHERE rb.blob_id = b.id)
			AND NOT EXISTS (SELECT 1 FROM manifest_blob mb WHERE mb.blob_id = b.id)
			LIMIT ?)
		AND NOT deleting AND touched_at < ?
		RETURNING id, digest, size`, micros(cutoff), limit, micros(cutoff))
	if err != nil {
		return nil, fmt.Errorf("mark unreferenced blobs: %w", err)
	}
	return scanBlobs(rows)
}

// BlobsBeingDeleted lists blobs marked for deletion, so that a collector can finish removals
// that a crashed collector left.
func (s *Store) BlobsBeingDeleted(ctx context.Context, limit int) ([]Blob, error) {
	rows, err := s.query(ctx, "SELECT id, digest, size FROM blob WHERE deleting LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("list blobs being deleted: %w", err)
	}
	return scanBlobs(rows)
}

// FinishBlobDeletion removes the row of a marked blob whose bytes are gone.
func (s *Store) FinishBlobDeletion(ctx context.Context, blobID int64) error {
	if _, err := s.exec(ctx, "DELETE FROM blob WHERE id = ? AND deleting", blobID); err != nil {
		return fmt.Errorf("finish blob deletion: %w", err)
	}
	return nil
}

func scanBlobs(rows *sql.Rows) ([]Blob, error) {
	defer rows.Close()
	var out []Blob
	for rows.Next() {
		var b Blob
		if err := rows.Scan(&b.ID, &b.Digest, &b.Size); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
