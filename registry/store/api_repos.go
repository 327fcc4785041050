package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TagRecord is one lifetime of a tag with what the REST API shows of its manifest.
type TagRecord struct {
	Name           string
	ManifestDigest string
	// MediaType is the manifest's media type (an index or manifest list is a "manifest list").
	MediaType string
	// Size is the total size of the blobs the manifest references (config and layers).
	Size int64
	// Start is when the tag began pointing at the manifest; End when it stopped (zero while
	// active; an expired tag ends at its expiration).
	Start, End time.Time
	// Expires is when an active tag is set to expire (zero: never).
	Expires time.Time
	// Reversion tells a lifetime started by restoring an earlier manifest.
	Reversion bool
}

// Active reports whether the tag still points at the manifest.
func (r TagRecord) Active() bool { return r.End.IsZero() }

// TagQuery selects tag lifetimes for the REST API's tag list.
type TagQuery struct {
	// Name limits the list to one tag ("" for all).
	Name string
	// ActiveOnly leaves out ended and expired lifetimes.
	ActiveOnly bool
	// Offset and Limit page the list, newest first.
	Offset, Limit int
}

// TagRecords lists the lifetimes of a repository's tags, newest first, with their manifests'
// media types and sizes.
func (s *Store) TagRecords(ctx context.Context, repoID int64, tq TagQuery) ([]TagRecord, error) {
	now := s.now()
	query := `SELECT t.name, m.digest, m.media_type,
			CAST(COALESCE((SELECT SUM(b.size) FROM manifest_blob mb JOIN blob b ON b.id = mb.blob_id WHERE mb.manifest_id = m.id), 0) AS BIGINT),
			t.lifetime_start, COALESCE(t.lifetime_end, CASE WHEN t.expires_at <= ? THEN t.expires_at END), t.expires_at, t.reversion
		FROM tag t JOIN manifest m ON m.id = t.manifest_id WHERE t.repository_id = ?`
	args := []any{now, repoID}
	if tq.Name != "" {
		query += " AND t.name = ?"
		args = append(args, tq.Name)
	}
	if tq.ActiveOnly {
		query += " AND t.lifetime_end IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)"
		args = append(args, now)
	}
	query += " ORDER BY t.lifetime_start DESC, t.id DESC LIMIT ? OFFSET ?"
	args = append(args, tq.Limit, tq.Offset)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list tags of repository %d: %w", repoID, err)
	}
	defer rows.Close()
	out := []TagRecord{}
	for rows.Next() {
		var r TagRecord
		var start int64
		var end, expires sql.NullInt64
		if err := rows.Scan(&r.Name, &r.ManifestDigest, &r.MediaType, &r.Size, &start, &end, &expires, &r.Reversion); err != nil {
			return nil, fmt.Errorf("list tags of repository %d: %w", repoID, err)
		}
		r.Start = fromMicros(start)
		if end.Valid {
			r.End = fromMicros(end.Int64)
		} else if expires.Valid {
			r.Expires = fromMicros(expires.Int64)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PointTag points tag at a manifest of the repository (by digest), creating the tag or moving
// it, in one transaction. It returns the digest the tag pointed at before ("" when the tag
// was not active). ErrNotFound when the repository has no such (visible) manifest.
func (s *Store) PointTag(ctx context.Context, repoID int64, tag, digest string) (string, error) {
	var previous string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		previous = ""
		if err := s.lockRepo(ctx, tx, repoID); err != nil {
			return err
		}
		now := s.now()
		var manifestID int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE manifest SET touched_at = ? WHERE repository_id = ? AND digest = ? AND NOT hidden
			RETURNING id`), now, repoID, digest).Scan(&manifestID)
		if err != nil {
			return notFound(err, "point tag "+tag+": manifest "+digest)
		}
		// An expired tag ends at its expiration, so that the new lifetime starts afresh.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE tag SET lifetime_end = expires_at WHERE repository_id = ? AND name = ?
			AND lifetime_end IS NULL AND expires_at <= ?`), repoID, tag, now); err != nil {
			return fmt.Errorf("end expired tag %s: %w", tag, err)
		}
		err = tx.QueryRowContext(ctx, s.q(`SELECT m.digest FROM tag t JOIN manifest m ON m.id = t.manifest_id
			WHERE t.repository_id = ? AND t.name = ? AND t.lifetime_end IS NULL`), repoID, tag).Scan(&previous)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find tag %s: %w", tag, err)
		}
		return s.moveTag(ctx, tx, repoID, tag, manifestID, now)
	})
	if err != nil {
		return "", err
	}
	return previous, nil
}
