-- The mass de-provisioning safety rail (store.Holds) and the audit log's
-- retention. Keep in step with the other dialect's migrations.
--
-- deprovisions logs each de-provisioning a token made, for the sliding
-- window: rows older than a token's window are deleted by its next
-- de-provisioning, and all of a token's rows when a hold of it is released.
-- token_id and the holds' columns are not foreign keys: a hold outlives the
-- token (and connection) it stopped, as history.

-- +goose Up
CREATE TABLE deprovisions (
    token_id   TEXT    NOT NULL,
    counted_at INTEGER NOT NULL,
    org_id     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL
);
CREATE INDEX deprovisions_token_at ON deprovisions (token_id, counted_at);

CREATE TABLE deprovisioning_holds (
    id             TEXT    PRIMARY KEY,
    org_id         TEXT    NOT NULL,
    token_id       TEXT    NOT NULL,
    connection_id  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    deprovisioned  INTEGER NOT NULL,
    active_users   INTEGER NOT NULL,
    allowed        INTEGER NOT NULL,
    window_micros  INTEGER NOT NULL,
    released_at    INTEGER,
    released_by    TEXT    NOT NULL
);
-- At most one open hold per token.
CREATE UNIQUE INDEX deprovisioning_holds_open ON deprovisioning_holds (token_id) WHERE released_at IS NULL;
CREATE INDEX deprovisioning_holds_org ON deprovisioning_holds (org_id, created_at);

-- For purging audit events past their retention.
CREATE INDEX audit_events_time ON audit_events (time);

-- +goose Down
DROP INDEX audit_events_time;
DROP TABLE deprovisioning_holds;
DROP TABLE deprovisions;
