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
    token_id   text    NOT NULL,
    counted_at bigint  NOT NULL,
    org_id     text    NOT NULL,
    user_id    text    NOT NULL
);
CREATE INDEX deprovisions_token_at ON deprovisions (token_id, counted_at);

CREATE TABLE deprovisioning_holds (
    id             text    PRIMARY KEY,
    org_id         text    NOT NULL,
    token_id       text    NOT NULL,
    connection_id  text    NOT NULL,
    created_at     bigint  NOT NULL,
    deprovisioned  bigint  NOT NULL,
    active_users   bigint  NOT NULL,
    allowed        bigint  NOT NULL,
    window_micros  bigint  NOT NULL,
    released_at    bigint,
    released_by    text    NOT NULL
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
