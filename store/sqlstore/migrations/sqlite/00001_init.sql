-- onramp schema, SQLite dialect.
--
-- Conventions: times are INTEGER microseconds since the Unix epoch, UTC; booleans
-- are INTEGER 0/1; JSON documents are TEXT. Lower-cased copies of the
-- case-insensitive columns (*_lower) are computed in Go (strings.ToLower), so that
-- both engines fold case the same way, and carry the indexes. An empty externalId
-- is stored as NULL so that the unique indexes ignore it.

-- +goose Up
CREATE TABLE orgs (
    id                     TEXT    PRIMARY KEY,
    slug                   TEXT    NOT NULL UNIQUE,
    name                   TEXT    NOT NULL,
    jit_email_domains      INTEGER NOT NULL,
    jit_sso_connections    INTEGER NOT NULL,
    access_email_domains   TEXT    NOT NULL, -- JSON array of strings
    access_sso_connections TEXT    NOT NULL, -- JSON array of connection slugs
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE TABLE connections (
    id                  TEXT    PRIMARY KEY,
    org_id              TEXT    NOT NULL REFERENCES orgs (id),
    slug                TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    idp_metadata_xml    TEXT    NOT NULL,
    jit_provisioning    INTEGER NOT NULL,
    allow_idp_initiated INTEGER NOT NULL,
    mapping_preset      TEXT    NOT NULL,
    mapping             TEXT,             -- JSON, NULL when empty
    sp_cert_pem         TEXT    NOT NULL,
    sp_key_pem          TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);

-- seq orders users by creation (pagination). connection_id is deliberately not a
-- foreign key: the account outlives the connection that provisioned it.
CREATE TABLE users (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT    NOT NULL UNIQUE,
    org_id             TEXT    NOT NULL REFERENCES orgs (id),
    user_name          TEXT    NOT NULL,
    user_name_lower    TEXT    NOT NULL,
    external_id        TEXT,              -- NULL when empty
    display_name       TEXT    NOT NULL,
    display_name_lower TEXT    NOT NULL,
    given_name         TEXT    NOT NULL,
    family_name        TEXT    NOT NULL,
    emails             TEXT,              -- JSON array as given, NULL when none
    active             INTEGER NOT NULL,
    role               TEXT    NOT NULL,
    custom             TEXT,              -- JSON object, NULL when empty
    source             TEXT    NOT NULL,
    connection_id      TEXT    NOT NULL,
    resource           TEXT,              -- SCIM resource as sent, NULL when empty
    version            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_sign_in_at    INTEGER,
    deleted_at         INTEGER            -- set on a tombstone
);
-- Live users only: a tombstone frees its userName and externalId.
CREATE UNIQUE INDEX users_org_user_name ON users (org_id, user_name_lower) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_org_external_id ON users (org_id, external_id) WHERE deleted_at IS NULL;
CREATE INDEX users_org_seq ON users (org_id, seq);
CREATE INDEX users_org_updated ON users (org_id, updated_at);

-- One row per email address, for filters; users.emails is what reads return.
CREATE TABLE user_emails (
    user_id     TEXT    NOT NULL REFERENCES users (id),
    org_id      TEXT    NOT NULL,
    pos         INTEGER NOT NULL,
    value_lower TEXT    NOT NULL,
    type_lower  TEXT    NOT NULL,
    "primary"   INTEGER NOT NULL,
    PRIMARY KEY (user_id, pos)
);
CREATE INDEX user_emails_org_value ON user_emails (org_id, value_lower);

CREATE TABLE groups (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT    NOT NULL UNIQUE,
    org_id             TEXT    NOT NULL REFERENCES orgs (id),
    display_name       TEXT    NOT NULL,
    display_name_lower TEXT    NOT NULL,
    external_id        TEXT,              -- NULL when empty
    connection_id      TEXT    NOT NULL,
    resource           TEXT,
    version            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (org_id, display_name_lower)
);
CREATE INDEX groups_org_seq ON groups (org_id, seq);
CREATE INDEX groups_org_external_id ON groups (org_id, external_id);
CREATE INDEX groups_org_updated ON groups (org_id, updated_at);

-- seq orders a group's members by when they were added.
CREATE TABLE group_members (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT    NOT NULL REFERENCES groups (id),
    user_id  TEXT    NOT NULL REFERENCES users (id),
    org_id   TEXT    NOT NULL,
    UNIQUE (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id, group_id);

CREATE TABLE identities (
    connection_id   TEXT    NOT NULL REFERENCES connections (id),
    name_id         TEXT    NOT NULL,
    org_id          TEXT    NOT NULL,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    last_sign_in_at INTEGER,
    PRIMARY KEY (connection_id, name_id)
);
CREATE INDEX identities_user ON identities (user_id);

CREATE TABLE tokens (
    id            TEXT    PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES orgs (id),
    connection_id TEXT    REFERENCES connections (id), -- NULL for admin tokens
    kind          TEXT    NOT NULL,
    hash          BLOB    NOT NULL,
    description   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX tokens_org ON tokens (org_id);
CREATE INDEX tokens_connection ON tokens (connection_id);

CREATE TABLE sessions (
    id_hash      BLOB    PRIMARY KEY,
    org_id       TEXT    NOT NULL,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

CREATE TABLE assertions (
    connection_id   TEXT    NOT NULL,
    assertion_id    TEXT    NOT NULL,
    not_on_or_after INTEGER NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX assertions_expiry ON assertions (not_on_or_after);

CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX audit_events_org_id ON audit_events (org_id, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE assertions;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE identities;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_emails;
DROP TABLE users;
DROP TABLE connections;
DROP TABLE orgs;
