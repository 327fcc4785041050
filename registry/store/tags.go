package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TagEvent is one lifetime of a tag: it pointed at ManifestDigest from Start until End (zero
// while the tag is active).
type TagEvent struct {
	Name           string
	ManifestDigest string
	Start, End     time.Time
	// Expires is when an active tag is set to expire (zero: never).
	Expires time.Time
}

// Active reports whether the tag still points at the manifest.
func (e TagEvent) Active() bool { return e.End.IsZero() }

// moveTag points tag at manifestID, closing its current lifetime; nothing changes when it
// already points there.
func (s *Store) moveTag(ctx context.Context, tx *sql.Tx, repoID int64, tag string, manifestID, now int64) error {
	return s.startTag(ctx, tx, repoID, tag, manifestID, now, false)
}

// startTag is moveTag that records whether the new lifetime restores an earlier manifest.
func (s *Store) startTag(ctx context.Context, tx *sql.Tx, repoID int64, tag string, manifestID, now int64, reversion bool) error {
	var curID, curManifest int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT id, manifest_id FROM tag WHERE repository_id = ? AND name = ? AND lifetime_end IS NULL`+s.forUpdate()),
		repoID, tag).Scan(&curID, &curManifest)
	switch {
	case err == nil && curManifest == manifestID:
		return nil
	case err == nil:
		if _, err := tx.ExecContext(ctx, s.q("UPDATE tag SET lifetime_end = ? WHERE id = ?"), now, curID); err != nil {
			return fmt.Errorf("end tag %s: %w", tag, err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("find tag %s: %w", tag, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tag (repository_id, name, manifest_id, lifetime_start, reversion) VALUES (?, ?, ?, ?, ?)`),
		repoID, tag, manifestID, now, reversion); err != nil {
		return fmt.Errorf("set tag %s: %w", tag, err)
	}
	return nil
}

// Tags lists the active tag names of a repository in lexical order, after last, at most n.
func (s *Store) Tags(ctx context.Context, repoID int64, last string, n int) ([]string, error) {
	return list(ctx, s, "tags", scanString, `SELECT name FROM tag WHERE repository_id = ? AND lifetime_end IS NULL AND name > ?
		AND (expires_at IS NULL OR expires_at > ?) ORDER BY name LIMIT ?`, repoID, last, s.now(), n)
}

// DeleteTag ends a tag's lifetime; it stays in the history.
func (s *Store) DeleteTag(ctx context.Context, repoID int64, tag string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRepo(ctx, tx, repoID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q("UPDATE tag SET lifetime_end = ? WHERE repository_id = ? AND name = ? AND lifetime_end IS NULL"),
			s.now(), repoID, tag)
		if err != nil {
			return fmt.Errorf("delete tag %s: %w", tag, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete tag %s: %w", tag, ErrNotFound)
		}
		return nil
	})
}

// TagHistory lists the lifetimes of a repository's tags (of one tag when name is set), newest
// first, at most n.
func (s *Store) TagHistory(ctx context.Context, repoID int64, name string, n int) ([]TagEvent, error) {
	query := `SELECT t.name, m.digest, t.lifetime_start, COALESCE(t.lifetime_end, CASE WHEN t.expires_at <= ? THEN t.expires_at END), t.expires_at FROM tag t JOIN manifest m ON m.id = t.manifest_id
		WHERE t.repository_id = ?`
	args := []any{s.now(), repoID}
	if name != "" {
		query += " AND t.name = ?"
		args = append(args, name)
	}
	query += " ORDER BY t.lifetime_start DESC, t.id DESC LIMIT ?"
	args = append(args, n)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("tag history: %w", err)
	}
	defer rows.Close()
	var out []TagEvent
	for rows.Next() {
		var e TagEvent
		var start int64
		var end, expires sql.NullInt64
		if err := rows.Scan(&e.Name, &e.ManifestDigest, &start, &end, &expires); err != nil {
			return nil, fmt.Errorf("tag history: %w", err)
		}
		e.Start = time.UnixMicro(start)
		if end.Valid {
			e.End = time.UnixMicro(end.Int64)
		} else if expires.Valid {
			e.Expires = time.UnixMicro(expires.Int64)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RestoreTag points tag at a manifest it (or any tag) pointed at before, as long as the
// manifest is still kept (within the retention window). A deleted manifest comes back.
func (s *Store) RestoreTag(ctx context.Context, repoID int64, tag, digest string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRepo(ctx, tx, repoID); err != nil {
			return err
		}
		now := s.now()
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE manifest SET hidden = FALSE, touched_at = ? WHERE repository_id = ? AND digest = ?
			RETURNING id`), now, repoID, digest).Scan(&id)
		if err != nil {
			return notFound(err, "restore "+tag+": manifest "+digest)
		}
		return s.startTag(ctx, tx, repoID, tag, id, now, true)
	})
}

// SetTagExpiration makes an active tag expire at a time (zero: never). An expired tag ends
// and stays in the history.
func (s *Store) SetTagExpiration(ctx context.Context, repoID int64, tag string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE tag SET expires_at = ? WHERE repository_id = ? AND name = ? AND lifetime_end IS NULL
		AND (expires_at IS NULL OR expires_at > ?)`, optMicros(at), repoID, tag, s.now())
	if err != nil {
		return fmt.Errorf("set expiration of %s: %w", tag, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set expiration of %s: %w", tag, ErrNotFound)
	}
	return nil
}

// Label is a key/value on a manifest: from its image config (source "manifest") or set
// through the API (source "api").
type Label struct {
	ID         int64
	UUID       string
	ManifestID int64
	Key        string
	Value      string
	MediaType  string
	Source     string
}

// AddLabel stores a label.
func (s *Store) AddLabel(ctx context.Context, l Label) (Label, error) {
	err := s.queryRow(ctx, `INSERT INTO label (uuid, manifest_id, key, value, media_type, source_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		l.UUID, l.ManifestID, l.Key, l.Value, l.MediaType, l.Source, s.now()).Scan(&l.ID)
	if err != nil {
		return Label{}, fmt.Errorf("add label: %w", err)
	}
	return l, nil
}

// Labels lists a manifest's labels whose key starts with prefix.
func (s *Store) Labels(ctx context.Context, manifestID int64, prefix string) ([]Label, error) {
	rows, err := s.query(ctx, `SELECT id, uuid, manifest_id, key, value, media_type, source_type FROM label WHERE manifest_id = ? ORDER BY id`, manifestID)
	if err != nil {
		return nil, fmt.Errorf("list labels: %w", err)
	}
	defer rows.Close()
	out := []Label{}
	for rows.Next() {
		var l Label
		if err := rows.Scan(&l.ID, &l.UUID, &l.ManifestID, &l.Key, &l.Value, &l.MediaType, &l.Source); err != nil {
			return nil, fmt.Errorf("list labels: %w", err)
		}
		if strings.HasPrefix(l.Key, prefix) {
			out = append(out, l)
		}
	}
	return out, rows.Err()
}

// DeleteLabel removes a label of a manifest by uuid.
func (s *Store) DeleteLabel(ctx context.Context, manifestID int64, uuid string) error {
	return s.deleteOne(ctx, "DELETE FROM label WHERE manifest_id = ? AND uuid = ?", "label", manifestID, uuid)
}
