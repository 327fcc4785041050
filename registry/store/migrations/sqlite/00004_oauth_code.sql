-- +goose Up
-- OAuth 2 authorization codes (the authorization code grant): single use, short-lived, kept
-- as hashes only.
CREATE TABLE oauth_code (
    code_hash      TEXT   PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES oauth_application (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    scope          TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    expires_at     BIGINT NOT NULL
);

-- +goose Down
DROP TABLE oauth_code;
