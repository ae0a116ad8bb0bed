-- Fewer pages written per sign-in (package jit, "Cost of a sign-in"): a
-- sign-in's durable commit costs in proportion to the pages it changes, and
-- three of them bought nothing.
--   sessions, assertions: WITHOUT ROWID, so that the row lives in its primary
--   key's b-tree instead of a rowid table beside a separate index of the key
--   (one page per insert instead of two).
--   audit_events: a plain INTEGER PRIMARY KEY instead of AUTOINCREMENT, which
--   writes the sqlite_sequence table at every insert. IDs still only grow: a
--   new row takes the largest ID plus one, and retention (PurgeEvents) never
--   deletes the newest row.
-- Each table is rebuilt with its rows and indexes. Nothing to do on
-- PostgreSQL (same version number there, to keep the two in step).

-- +goose Up
CREATE TABLE sessions_new (
    id_hash      BLOB    NOT NULL PRIMARY KEY,
    org_id       TEXT    NOT NULL,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sessions_new (id_hash, org_id, user_id, created_at, expires_at, last_seen_at)
    SELECT id_hash, org_id, user_id, created_at, expires_at, last_seen_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

CREATE TABLE assertions_new (
    connection_id   TEXT    NOT NULL,
    assertion_id    TEXT    NOT NULL,
    not_on_or_after INTEGER NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
) WITHOUT ROWID;
INSERT INTO assertions_new (connection_id, assertion_id, not_on_or_after)
    SELECT connection_id, assertion_id, not_on_or_after FROM assertions;
DROP TABLE assertions;
ALTER TABLE assertions_new RENAME TO assertions;
CREATE INDEX assertions_expiry ON assertions (not_on_or_after);

CREATE TABLE audit_events_new (
    id            INTEGER PRIMARY KEY,
    org_id        TEXT    NOT NULL,
    time          INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    group_id      TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    rule          TEXT    NOT NULL,
    detail        TEXT                -- JSON object, NULL when empty
);
INSERT INTO audit_events_new (id, org_id, time, actor, action, user_id, group_id, connection_id, rule, detail)
    SELECT id, org_id, time, actor, action, user_id, group_id, connection_id, rule, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_org_id ON audit_events (org_id, id);
CREATE INDEX audit_events_time ON audit_events (time);

-- +goose Down
CREATE TABLE audit_events_old (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id        TEXT    NOT NULL,
    time          INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    group_id      TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    rule          TEXT    NOT NULL,
    detail        TEXT
);
INSERT INTO audit_events_old (id, org_id, time, actor, action, user_id, group_id, connection_id, rule, detail)
    SELECT id, org_id, time, actor, action, user_id, group_id, connection_id, rule, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_old RENAME TO audit_events;
CREATE INDEX audit_events_org_id ON audit_events (org_id, id);
CREATE INDEX audit_events_time ON audit_events (time);

CREATE TABLE assertions_old (
    connection_id   TEXT    NOT NULL,
    assertion_id    TEXT    NOT NULL,
    not_on_or_after INTEGER NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
INSERT INTO assertions_old (connection_id, assertion_id, not_on_or_after)
    SELECT connection_id, assertion_id, not_on_or_after FROM assertions;
DROP TABLE assertions;
ALTER TABLE assertions_old RENAME TO assertions;
CREATE INDEX assertions_expiry ON assertions (not_on_or_after);

CREATE TABLE sessions_old (
    id_hash      BLOB    PRIMARY KEY,
    org_id       TEXT    NOT NULL,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
INSERT INTO sessions_old (id_hash, org_id, user_id, created_at, expires_at, last_seen_at)
    SELECT id_hash, org_id, user_id, created_at, expires_at, last_seen_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
