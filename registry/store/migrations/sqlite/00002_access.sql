-- +goose Up
-- Robots are namespaces of kind 'robot' named OWNER+NAME and owned by OWNER.
ALTER TABLE namespace ADD COLUMN owner_id BIGINT REFERENCES namespace (id) ON DELETE CASCADE;
ALTER TABLE namespace ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE namespace ADD COLUMN robot_token TEXT NOT NULL DEFAULT '';
ALTER TABLE namespace ADD COLUMN login_source TEXT NOT NULL DEFAULT 'database';
ALTER TABLE namespace ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE namespace ADD COLUMN last_accessed BIGINT;
ALTER TABLE namespace ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE namespace ADD COLUMN last_failed_login BIGINT NOT NULL DEFAULT 0;
CREATE INDEX namespace_owner ON namespace (owner_id);
CREATE INDEX namespace_external ON namespace (login_source, external_id);

ALTER TABLE repository ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE tag ADD COLUMN expires_at BIGINT;

CREATE TABLE team (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_member (
    team_id BIGINT NOT NULL REFERENCES team (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_member_user ON team_member (user_id);

CREATE TABLE team_sync (
    team_id      BIGINT PRIMARY KEY REFERENCES team (id) ON DELETE CASCADE,
    group_dn     TEXT   NOT NULL,
    last_updated BIGINT
);

CREATE TABLE repo_user_permission (
    repository_id BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    role          TEXT   NOT NULL,
    PRIMARY KEY (repository_id, user_id)
);
CREATE INDEX repo_user_permission_user ON repo_user_permission (user_id);

CREATE TABLE repo_team_permission (
    repository_id BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    team_id       BIGINT NOT NULL REFERENCES team (id) ON DELETE CASCADE,
    role          TEXT   NOT NULL,
    PRIMARY KEY (repository_id, team_id)
);
CREATE INDEX repo_team_permission_team ON repo_team_permission (team_id);

CREATE TABLE prototype (
    id                 INTEGER PRIMARY KEY,
    uuid               TEXT   NOT NULL UNIQUE,
    org_id             BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    activating_user_id BIGINT REFERENCES namespace (id) ON DELETE CASCADE,
    delegate_user_id   BIGINT REFERENCES namespace (id) ON DELETE CASCADE,
    delegate_team_id   BIGINT REFERENCES team (id) ON DELETE CASCADE,
    role               TEXT   NOT NULL
);
CREATE INDEX prototype_org ON prototype (org_id);

-- Secrets below are stored as SHA-256 hashes of high-entropy tokens: shown once, never kept.
CREATE TABLE app_token (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT   NOT NULL UNIQUE,
    user_id       BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    title         TEXT   NOT NULL,
    token_hash    TEXT   NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    last_accessed BIGINT
);
CREATE INDEX app_token_user ON app_token (user_id);

CREATE TABLE oauth_application (
    id              INTEGER PRIMARY KEY,
    org_id          BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    client_id       TEXT   NOT NULL UNIQUE,
    client_secret   TEXT   NOT NULL,
    name            TEXT   NOT NULL,
    description     TEXT   NOT NULL DEFAULT '',
    application_uri TEXT   NOT NULL DEFAULT '',
    redirect_uri    TEXT   NOT NULL DEFAULT '',
    avatar_email    TEXT   NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);
CREATE INDEX oauth_application_org ON oauth_application (org_id);

CREATE TABLE oauth_token (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT   NOT NULL UNIQUE,
    application_id BIGINT REFERENCES oauth_application (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    token_hash     TEXT   NOT NULL UNIQUE,
    scope          TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX oauth_token_user ON oauth_token (user_id);

CREATE TABLE web_session (
    id_hash    TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES namespace (id) ON DELETE CASCADE,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_session_user ON web_session (user_id);

CREATE TABLE label (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT   NOT NULL UNIQUE,
    manifest_id BIGINT NOT NULL REFERENCES manifest (id) ON DELETE CASCADE,
    key         TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    media_type  TEXT   NOT NULL,
    source_type TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX label_manifest ON label (manifest_id);

-- Failed logins per client address (per user they are counted on the namespace row).
CREATE TABLE login_failure (
    ip           TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure BIGINT  NOT NULL
);

-- The audit log: no foreign keys, entries outlive what they name.
CREATE TABLE log_entry (
    id             INTEGER PRIMARY KEY,
    kind           TEXT   NOT NULL,
    performer_id   BIGINT,
    performer      TEXT   NOT NULL DEFAULT '',
    performer_kind TEXT   NOT NULL DEFAULT '',
    account_id     BIGINT,
    account        TEXT   NOT NULL DEFAULT '',
    repository_id  BIGINT,
    repository     TEXT   NOT NULL DEFAULT '',
    ip             TEXT   NOT NULL DEFAULT '',
    metadata       TEXT   NOT NULL DEFAULT '{}',
    created_at     BIGINT NOT NULL
);
CREATE INDEX log_entry_time ON log_entry (created_at);
CREATE INDEX log_entry_account ON log_entry (account_id, created_at);
CREATE INDEX log_entry_repository ON log_entry (repository_id, created_at);
CREATE INDEX log_entry_performer ON log_entry (performer_id, created_at);

-- +goose Down
DROP TABLE log_entry;
DROP TABLE login_failure;
DROP TABLE label;
DROP TABLE web_session;
DROP TABLE oauth_token;
DROP TABLE oauth_application;
DROP TABLE app_token;
DROP TABLE prototype;
DROP TABLE repo_team_permission;
DROP TABLE repo_user_permission;
DROP TABLE team_sync;
DROP TABLE team_member;
DROP TABLE team;
