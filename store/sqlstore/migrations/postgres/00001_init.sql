-- onramp schema, PostgreSQL dialect. Keep it in step with migrations/sqlite: the
-- same tables, columns, keys and indexes, with PostgreSQL's types.
--
-- Conventions: times are bigint microseconds since the Unix epoch, UTC, exactly as
-- in SQLite, so that one Go codec serves both engines and range filters compare
-- integers on indexes. Booleans are boolean, byte strings bytea. JSON documents are
-- text, not jsonb: the store never queries inside them, and text keeps the bytes an
-- identity provider sent (jsonb would reorder keys and drop duplicates). The
-- case-insensitive columns have lower-cased copies (*_lower) computed in Go
-- (strings.ToLower) that carry the indexes, instead of lower() expression indexes,
-- so that both engines fold Unicode the same way whatever the database's
-- collation. An empty externalId is stored as NULL so that the unique indexes
-- ignore it. seq columns are identity columns: they order lists by creation.
--
-- The text columns that filters compare (user and group IDs and the columns
-- that refer to them, externalId, the *_lower copies) are COLLATE "C": byte
-- order, which for UTF-8 is code point order, as SQLite's BINARY. So gt/ge/lt/le mean the same on both engines whatever
-- locale the database was created with, and LIKE 'prefix%' can use the indexes.

-- +goose Up
CREATE TABLE orgs (
    id                     text    PRIMARY KEY,
    slug                   text    NOT NULL UNIQUE,
    name                   text    NOT NULL,
    jit_email_domains      boolean NOT NULL,
    jit_sso_connections    boolean NOT NULL,
    access_email_domains   text    NOT NULL, -- JSON array of strings
    access_sso_connections text    NOT NULL, -- JSON array of connection slugs
    created_at             bigint  NOT NULL,
    updated_at             bigint  NOT NULL
);

CREATE TABLE connections (
    id                  text    PRIMARY KEY,
    org_id              text    NOT NULL REFERENCES orgs (id),
    slug                text    NOT NULL,
    name                text    NOT NULL,
    idp_metadata_xml    text    NOT NULL,
    jit_provisioning    boolean NOT NULL,
    allow_idp_initiated boolean NOT NULL,
    mapping_preset      text    NOT NULL,
    mapping             text,             -- JSON, NULL when empty
    sp_cert_pem         text    NOT NULL,
    sp_key_pem          text    NOT NULL,
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    UNIQUE (org_id, slug)
);

-- connection_id is deliberately not a foreign key: the account outlives the
-- connection that provisioned it.
CREATE TABLE users (
    seq                bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 text    COLLATE "C" NOT NULL UNIQUE,
    org_id             text    NOT NULL REFERENCES orgs (id),
    user_name          text    NOT NULL,
    user_name_lower    text    COLLATE "C" NOT NULL,
    external_id        text    COLLATE "C", -- NULL when empty
    display_name       text    NOT NULL,
    display_name_lower text    COLLATE "C" NOT NULL,
    given_name         text    NOT NULL,
    family_name        text    NOT NULL,
    emails             text,              -- JSON array as given, NULL when none
    active             boolean NOT NULL,
    role               text    NOT NULL,
    custom             text,              -- JSON object, NULL when empty
    source             text    NOT NULL,
    connection_id      text    NOT NULL,
    resource           text,              -- SCIM resource as sent, NULL when empty
    version            bigint  NOT NULL,
    created_at         bigint  NOT NULL,
    updated_at         bigint  NOT NULL,
    last_sign_in_at    bigint,
    deleted_at         bigint             -- set on a tombstone
);
-- Live users only: a tombstone frees its userName and externalId.
CREATE UNIQUE INDEX users_org_user_name ON users (org_id, user_name_lower) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_org_external_id ON users (org_id, external_id) WHERE deleted_at IS NULL;
CREATE INDEX users_org_seq ON users (org_id, seq);
CREATE INDEX users_org_updated ON users (org_id, updated_at);

-- One row per email address, for filters; users.emails is what reads return.
CREATE TABLE user_emails (
    user_id     text    COLLATE "C" NOT NULL REFERENCES users (id),
    org_id      text    NOT NULL,
    pos         integer NOT NULL,
    value_lower text    COLLATE "C" NOT NULL,
    type_lower  text    COLLATE "C" NOT NULL,
    "primary"   boolean NOT NULL,
    PRIMARY KEY (user_id, pos)
);
CREATE INDEX user_emails_org_value ON user_emails (org_id, value_lower);

CREATE TABLE groups (
    seq                bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 text    COLLATE "C" NOT NULL UNIQUE,
    org_id             text    NOT NULL REFERENCES orgs (id),
    display_name       text    NOT NULL,
    display_name_lower text    COLLATE "C" NOT NULL,
    external_id        text    COLLATE "C", -- NULL when empty
    connection_id      text    NOT NULL,
    resource           text,
    version            bigint  NOT NULL,
    created_at         bigint  NOT NULL,
    updated_at         bigint  NOT NULL,
    UNIQUE (org_id, display_name_lower)
);
CREATE INDEX groups_org_seq ON groups (org_id, seq);
CREATE INDEX groups_org_external_id ON groups (org_id, external_id);
CREATE INDEX groups_org_updated ON groups (org_id, updated_at);

-- seq orders a group's members by when they were added.
CREATE TABLE group_members (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id text   COLLATE "C" NOT NULL REFERENCES groups (id),
    user_id  text   COLLATE "C" NOT NULL REFERENCES users (id),
    org_id   text   NOT NULL,
    UNIQUE (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id, group_id);

CREATE TABLE identities (
    connection_id   text   NOT NULL REFERENCES connections (id),
    name_id         text   NOT NULL,
    org_id          text   NOT NULL,
    user_id         text   COLLATE "C" NOT NULL REFERENCES users (id),
    created_at      bigint NOT NULL,
    last_sign_in_at bigint,
    PRIMARY KEY (connection_id, name_id)
);
CREATE INDEX identities_user ON identities (user_id);

CREATE TABLE tokens (
    id            text   PRIMARY KEY,
    org_id        text   NOT NULL REFERENCES orgs (id),
    connection_id text   REFERENCES connections (id), -- NULL for admin tokens
    kind          text   NOT NULL,
    hash          bytea  NOT NULL,
    description   text   NOT NULL,
    created_at    bigint NOT NULL,
    revoked_at    bigint
);
CREATE INDEX tokens_org ON tokens (org_id);
CREATE INDEX tokens_connection ON tokens (connection_id);

CREATE TABLE sessions (
    id_hash      bytea  PRIMARY KEY,
    org_id       text   NOT NULL,
    user_id      text   COLLATE "C" NOT NULL REFERENCES users (id),
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

CREATE TABLE assertions (
    connection_id   text   NOT NULL,
    assertion_id    text   NOT NULL,
    not_on_or_after bigint NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX assertions_expiry ON assertions (not_on_or_after);

CREATE TABLE audit_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id        text   NOT NULL,
    time          bigint NOT NULL,
    actor         text   NOT NULL,
    action        text   NOT NULL,
    user_id       text   NOT NULL,
    group_id      text   NOT NULL,
    connection_id text   NOT NULL,
    rule          text   NOT NULL,
    detail        text                -- JSON object, NULL when empty
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
