-- +goose Up
-- Stars: the repositories a user marked, to find them again (Quay's /api/v1/user/starred).
-- Deleting the user or the repository deletes the star.
CREATE TABLE repository_star (
    user_id       BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, repository_id)
);
CREATE INDEX repository_star_repository ON repository_star (repository_id);

-- +goose Down
DROP TABLE repository_star;
