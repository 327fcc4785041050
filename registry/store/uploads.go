package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Upload is a blob upload session in progress.
type Upload struct {
	ID           string
	RepositoryID int64
	// Size is the number of bytes received so far.
	Size int64
	// HashState is the marshalled state of the running SHA-256 over those bytes (nil when
	// the digest must be computed by reading the staged content).
	HashState []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CreateUpload starts an upload session in a repository.
func (s *Store) CreateUpload(ctx context.Context, repoID int64) (Upload, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Upload{}, fmt.Errorf("create upload: %w", err)
	}
	now := s.now()
	u := Upload{ID: hex.EncodeToString(raw[:]), RepositoryID: repoID, CreatedAt: time.UnixMicro(now), UpdatedAt: time.UnixMicro(now)}
	if _, err := s.exec(ctx, `INSERT INTO upload (id, repository_id, size, created_at, updated_at) VALUES (?, ?, 0, ?, ?)`,
		u.ID, repoID, now, now); err != nil {
		return Upload{}, fmt.Errorf("create upload: %w", err)
	}
	return u, nil
}

// Upload returns an upload session of the repository.
func (s *Store) Upload(ctx context.Context, repoID int64, id string) (Upload, error) {
	var u Upload
	var created, updated int64
	err := s.queryRow(ctx, `SELECT id, repository_id, size, hash_state, created_at, updated_at FROM upload
		WHERE id = ? AND repository_id = ?`, id, repoID).Scan(&u.ID, &u.RepositoryID, &u.Size, &u.HashState, &created, &updated)
	if err != nil {
		return Upload{}, notFound(err, "upload "+id)
	}
	u.CreatedAt, u.UpdatedAt = time.UnixMicro(created), time.UnixMicro(updated)
	return u, nil
}

// AdvanceUpload records that an upload grew from size from to size to. It returns ErrConflict
// when the upload is no longer at from (a concurrent request moved it).
func (s *Store) AdvanceUpload(ctx context.Context, id string, from, to int64, hashState []byte) error {
	res, err := s.exec(ctx, "UPDATE upload SET size = ?, hash_state = ?, updated_at = ? WHERE id = ? AND size = ?",
		to, hashState, s.now(), id, from)
	if err != nil {
		return fmt.Errorf("advance upload %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("advance upload %s from %d: %w", id, from, ErrConflict)
	}
	return nil
}

// DeleteUpload removes an upload session.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	res, err := s.exec(ctx, "DELETE FROM upload WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete upload %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete upload %s: %w", id, ErrNotFound)
	}
	return nil
}

// StaleUploads lists upload sessions idle since before, at most n.
func (s *Store) StaleUploads(ctx context.Context, before time.Time, n int) ([]Upload, error) {
	rows, err := s.query(ctx, "SELECT id, repository_id, size FROM upload WHERE updated_at < ? LIMIT ?", micros(before), n)
	if err != nil {
		return nil, fmt.Errorf("stale uploads: %w", err)
	}
	defer rows.Close()
	var out []Upload
	for rows.Next() {
		var u Upload
		if err := rows.Scan(&u.ID, &u.RepositoryID, &u.Size); err != nil {
			return nil, fmt.Errorf("stale uploads: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
