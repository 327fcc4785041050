-- +goose Up
-- A tag lifetime started by restoring an earlier manifest (Quay's "reversion").
ALTER TABLE tag ADD COLUMN reversion BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE tag DROP COLUMN reversion;
