package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// RepoCollection is what one garbage-collection pass removed from a repository.
type RepoCollection struct {
	TagsExpired      int
	ManifestsDeleted int
	BlobLinksDeleted int
}

// RepositoryIDs lists every repository id.
func (s *Store) RepositoryIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id FROM repository ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CollectRepository removes from one repository, in one transaction: tag history that ended
// before tagCutoff; manifests that no remaining tag, live index or live subject keeps and that
// nothing touched since touchCutoff; and blob links that no remaining manifest uses and that
// nothing touched since touchCutoff.
func (s *Store) CollectRepository(ctx context.Context, repoID int64, tagCutoff, touchCutoff time.Time) (RepoCollection, error) {
	var st RepoCollection
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st = RepoCollection{}
		if err := s.lockRepo(ctx, tx, repoID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE tag SET lifetime_end = expires_at WHERE repository_id = ? AND lifetime_end IS NULL
			AND expires_at IS NOT NULL AND expires_at <= ?`), repoID, s.now()); err != nil {
			return fmt.Errorf("end expired tags: %w", err)
		}
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM tag WHERE repository_id = ? AND lifetime_end IS NOT NULL AND lifetime_end < ?"),
			repoID, micros(tagCutoff))
		if err != nil {
			return fmt.Errorf("expire tag history: %w", err)
		}
		n, _ := res.RowsAffected()
		st.TagsExpired = int(n)

		dead, err := s.deadManifests(ctx, tx, repoID, micros(touchCutoff))
		if err != nil {
			return err
		}
		for len(dead) > 0 {
			batch := dead[:min(len(dead), 500)]
			dead = dead[len(batch):]
			in, args := inList(batch)
			for _, stmt := range []string{
				"DELETE FROM manifest_child WHERE manifest_id IN " + in + " OR child_id IN " + in,
				"DELETE FROM manifest_blob WHERE manifest_id IN " + in,
				"DELETE FROM manifest WHERE id IN " + in,
			} {
				a := args
				if strings.Count(stmt, " IN ") == 2 {
					a = append(append([]any{}, args...), args...)
				}
				if _, err := tx.ExecContext(ctx, s.q(stmt), a...); err != nil {
					return fmt.Errorf("delete manifests: %w", err)
				}
			}
			st.ManifestsDeleted += len(batch)
		}

		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM repo_blob WHERE repository_id = ? AND touched_at < ?
			AND NOT EXISTS (SELECT 1 FROM manifest_blob mb JOIN manifest m ON m.id = mb.manifest_id
				WHERE m.repository_id = ? AND mb.blob_id = repo_blob.blob_id)`), repoID, micros(touchCutoff), repoID)
		if err != nil {
			return fmt.Errorf("delete blob links: %w", err)
		}
		n, _ = res.RowsAffected()
		st.BlobLinksDeleted = int(n)
		return nil
	})
	if err != nil {
		return RepoCollection{}, fmt.Errorf("collect repository %d: %w", repoID, err)
	}
	return st, nil
}

// deadManifests computes which manifests of a repository nothing keeps: the live set starts
// from every remaining tag and every manifest touched since cutoff, and grows through index
// children and through referrers of live subjects.
func (s *Store) deadManifests(ctx context.Context, tx *sql.Tx, repoID, cutoff int64) ([]int64, error) {
	type node struct {
		digest  string
		subject string
		live    bool
	}
	nodes := map[int64]*node{}
	bySubject := map[string][]int64{}
	var queue []int64
	rows, err := tx.QueryContext(ctx, s.q("SELECT id, digest, subject_digest, touched_at FROM manifest WHERE repository_id = ?"), repoID)
	if err != nil {
		return nil, fmt.Errorf("load manifests: %w", err)
	}
	for rows.Next() {
		var id, touched int64
		n := &node{}
		if err := rows.Scan(&id, &n.digest, &n.subject, &touched); err != nil {
			rows.Close()
			return nil, err
		}
		nodes[id] = n
		if n.subject != "" {
			bySubject[n.subject] = append(bySubject[n.subject], id)
		}
		if touched >= cutoff {
			queue = append(queue, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	children := map[int64][]int64{}
	rows, err = tx.QueryContext(ctx, s.q(`SELECT mc.manifest_id, mc.child_id FROM manifest_child mc JOIN manifest m ON m.id = mc.manifest_id
		WHERE m.repository_id = ?`), repoID)
	if err != nil {
		return nil, fmt.Errorf("load index children: %w", err)
	}
	for rows.Next() {
		var parent, child int64
		if err := rows.Scan(&parent, &child); err != nil {
			rows.Close()
			return nil, err
		}
		children[parent] = append(children[parent], child)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, s.q("SELECT DISTINCT manifest_id FROM tag WHERE repository_id = ?"), repoID)
	if err != nil {
		return nil, fmt.Errorf("load tags: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		queue = append(queue, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		n := nodes[id]
		if n == nil || n.live {
			continue
		}
		n.live = true
		queue = append(queue, children[id]...)
		queue = append(queue, bySubject[n.digest]...)
	}
	var dead []int64
	for id, n := range nodes {
		if !n.live {
			dead = append(dead, id)
		}
	}
	return dead, nil
}

func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")", args
}
