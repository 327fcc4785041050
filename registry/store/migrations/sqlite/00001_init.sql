-- +goose Up
CREATE TABLE namespace (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL DEFAULT 'user',
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    superuser     BOOLEAN NOT NULL DEFAULT FALSE,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE repository (
    id           INTEGER PRIMARY KEY,
    namespace_id BIGINT  NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    visibility   TEXT    NOT NULL DEFAULT 'private',
    created_at   BIGINT  NOT NULL,
    UNIQUE (namespace_id, name)
);

CREATE TABLE blob (
    id         INTEGER PRIMARY KEY,
    digest     TEXT    NOT NULL UNIQUE,
    size       BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    touched_at BIGINT  NOT NULL,
    deleting   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE repo_blob (
    repository_id BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    blob_id       BIGINT NOT NULL REFERENCES blob (id),
    touched_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, blob_id)
);
CREATE INDEX repo_blob_blob ON repo_blob (blob_id);

CREATE TABLE manifest (
    id             INTEGER PRIMARY KEY,
    repository_id  BIGINT  NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    digest         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    artifact_type  TEXT    NOT NULL DEFAULT '',
    subject_digest TEXT    NOT NULL DEFAULT '',
    annotations    TEXT    NOT NULL DEFAULT '',
    content        BLOB    NOT NULL,
    hidden         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    touched_at     BIGINT  NOT NULL,
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifest_subject ON manifest (repository_id, subject_digest);

CREATE TABLE manifest_blob (
    manifest_id BIGINT NOT NULL REFERENCES manifest (id) ON DELETE CASCADE,
    blob_id     BIGINT NOT NULL REFERENCES blob (id),
    PRIMARY KEY (manifest_id, blob_id)
);
CREATE INDEX manifest_blob_blob ON manifest_blob (blob_id);

CREATE TABLE manifest_child (
    manifest_id BIGINT NOT NULL REFERENCES manifest (id) ON DELETE CASCADE,
    child_id    BIGINT NOT NULL REFERENCES manifest (id),
    PRIMARY KEY (manifest_id, child_id)
);
CREATE INDEX manifest_child_child ON manifest_child (child_id);

CREATE TABLE tag (
    id             INTEGER PRIMARY KEY,
    repository_id  BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    name           TEXT   NOT NULL,
    manifest_id    BIGINT NOT NULL REFERENCES manifest (id),
    lifetime_start BIGINT NOT NULL,
    lifetime_end   BIGINT
);
CREATE UNIQUE INDEX tag_active ON tag (repository_id, name) WHERE lifetime_end IS NULL;
CREATE INDEX tag_manifest ON tag (manifest_id);
CREATE INDEX tag_history ON tag (repository_id, name, lifetime_start);

CREATE TABLE upload (
    id            TEXT   PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    size          BIGINT NOT NULL DEFAULT 0,
    hash_state    BLOB,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX upload_updated ON upload (updated_at);

CREATE TABLE signing_key (
    id          INTEGER PRIMARY KEY,
    algorithm   TEXT   NOT NULL,
    private_key BLOB   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE signing_key;
DROP TABLE upload;
DROP TABLE tag;
DROP TABLE manifest_child;
DROP TABLE manifest_blob;
DROP TABLE manifest;
DROP TABLE repo_blob;
DROP TABLE blob;
DROP TABLE repository;
DROP TABLE namespace;
