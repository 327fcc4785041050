-- +goose Up
-- Vulnerability data: advisories (one row per source and advisory id) and the packages each
-- affects. The store holds the rows; scanner/vulndb reads the data files and fills them,
-- scanner/matcher reads them back. ranges is the advisory's OSV ranges as JSON; aliases, links
-- and versions (affected versions named one by one) are lists, one item a line; digest is a
-- hash of the whole advisory as stored, so that importing unchanged data rewrites nothing.
-- vuln_affected repeats its advisory's source and name: the matcher reads hundreds of entries
-- of a package to find the few that hold its version, and reads only those advisories. It
-- is kept in the order of its primary key (WITHOUT ROWID), so a package's entries are
-- neighbours: a lookup reads a few pages, not one per entry.
CREATE TABLE vuln_advisory (
    id        INTEGER PRIMARY KEY,
    source    TEXT   NOT NULL,
    name      TEXT   NOT NULL,
    aliases   TEXT   NOT NULL DEFAULT '',
    summary   TEXT   NOT NULL DEFAULT '',
    details   TEXT   NOT NULL DEFAULT '',
    links     TEXT   NOT NULL DEFAULT '',
    published BIGINT NOT NULL DEFAULT 0,
    modified  BIGINT NOT NULL DEFAULT 0,
    digest    TEXT   NOT NULL,
    UNIQUE (source, name)
);

CREATE TABLE vuln_affected (
    ecosystem           TEXT   NOT NULL,
    package             TEXT   NOT NULL,
    advisory_id         BIGINT NOT NULL REFERENCES vuln_advisory (id) ON DELETE CASCADE,
    seq                 BIGINT NOT NULL,
    source              TEXT   NOT NULL,
    advisory            TEXT   NOT NULL,
    severity            TEXT   NOT NULL DEFAULT '',
    normalized_severity TEXT   NOT NULL DEFAULT 'Unknown',
    ranges              TEXT   NOT NULL DEFAULT '[]',
    versions            TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (ecosystem, package, advisory_id, seq)
) WITHOUT ROWID;
CREATE INDEX vuln_affected_advisory ON vuln_affected (advisory_id);

-- One row per import of vulnerability data that changed something (Clair's
-- update_operation): a new ref tells the registry to match its images again.
CREATE TABLE vuln_update_operation (
    id          INTEGER PRIMARY KEY,
    ref         TEXT   NOT NULL UNIQUE,
    updater     TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX vuln_update_operation_updater ON vuln_update_operation (updater, id);

-- +goose Down
DROP TABLE vuln_update_operation;
DROP TABLE vuln_affected;
DROP TABLE vuln_advisory;
