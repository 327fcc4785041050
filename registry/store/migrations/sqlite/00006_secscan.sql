-- +goose Up
-- Index reports (what is installed in an image, by layer), keyed by manifest digest: the same
-- content in every repository. Written by the built-in scanner and by `wharf scanner serve`.
CREATE TABLE scan_report (
    manifest_digest TEXT   PRIMARY KEY,
    indexer_state   TEXT   NOT NULL,
    report          TEXT   NOT NULL,
    created_at      BIGINT NOT NULL
);

-- The registry's scanning state of each image manifest, which is also the scanning queue:
-- a row is claimed by setting lease_until, so that a crashed worker's claim runs out and the
-- manifest is tried again. findings are the vulnerability keys of the last match against the
-- vulnerability data named by vulndb_ref.
CREATE TABLE scan_status (
    manifest_digest TEXT   PRIMARY KEY,
    status          TEXT   NOT NULL,
    indexer_state   TEXT   NOT NULL DEFAULT '',
    attempts        BIGINT NOT NULL DEFAULT 0,
    error           TEXT   NOT NULL DEFAULT '',
    lease_until     BIGINT NOT NULL DEFAULT 0,
    next_try_at     BIGINT NOT NULL DEFAULT 0,
    indexed_at      BIGINT NOT NULL DEFAULT 0,
    vulndb_ref      TEXT   NOT NULL DEFAULT '',
    findings        TEXT   NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL
);
CREATE INDEX scan_status_due ON scan_status (status, next_try_at);

-- "Vulnerability found" events: an indexed manifest gained a vulnerability at or above the
-- configured severity when new vulnerability data arrived. The notification worker delivers
-- them and sets delivered_at.
CREATE TABLE security_event (
    id              INTEGER PRIMARY KEY,
    repository_id   BIGINT NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    manifest_digest TEXT   NOT NULL,
    vulnerability   TEXT   NOT NULL,
    package         TEXT   NOT NULL,
    severity        TEXT   NOT NULL,
    fixed_in        TEXT   NOT NULL DEFAULT '',
    link            TEXT   NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX security_event_repository ON security_event (repository_id, id);

-- +goose Down
DROP TABLE security_event;
DROP TABLE scan_status;
DROP TABLE scan_report;
