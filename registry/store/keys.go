package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SigningKey is a private key the registry signs tokens with, kept in the database so that
// every node signs and verifies with the same keys.
type SigningKey struct {
	ID         int64
	Algorithm  string
	PrivateKey []byte
}

// SigningKeys returns the signing keys for algorithm, newest first, generating and storing
// one with generate when there is none. Nodes starting together agree on one key.
func (s *Store) SigningKeys(ctx context.Context, algorithm string, generate func() ([]byte, error)) ([]SigningKey, error) {
	keys, err := s.signingKeys(ctx, s.db, algorithm)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, "LOCK TABLE signing_key IN SHARE ROW EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		existing, err := s.signingKeys(ctx, tx, algorithm)
		if err != nil || len(existing) > 0 {
			return err
		}
		key, err := generate()
		if err != nil {
			return fmt.Errorf("generate signing key: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.q("INSERT INTO signing_key (algorithm, private_key, created_at) VALUES (?, ?, ?)"), algorithm, key, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	keys, err = s.signingKeys(ctx, s.db, algorithm)
	if err == nil && len(keys) == 0 {
		err = errors.New("signing key: none stored")
	}
	return keys, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) signingKeys(ctx context.Context, q querier, algorithm string) ([]SigningKey, error) {
	rows, err := q.QueryContext(ctx, s.q("SELECT id, algorithm, private_key FROM signing_key WHERE algorithm = ? ORDER BY id DESC"), algorithm)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var k SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
