-- +goose Up
-- Global messages: what superusers post to be shown atop every page of the web UI (Quay's
-- /api/v1/messages). content is Markdown or plain text, as media_type says; severity is
-- info, warning or error.
CREATE TABLE global_message (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT   NOT NULL UNIQUE,
    content    TEXT   NOT NULL,
    severity   TEXT   NOT NULL,
    media_type TEXT   NOT NULL DEFAULT 'text/markdown',
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE global_message;
