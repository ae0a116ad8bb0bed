-- Email sign-in, home-realm discovery, invitations and rate limits
-- (PostgreSQL). Conventions as in 00001_init.sql. Keep in step with
-- migrations/sqlite.

-- +goose Up

-- A domain routes to at most one connection of one organization (the key is
-- the domain alone). Deleting the connection deletes its routes.
CREATE TABLE domain_routes (
    domain        text    COLLATE "C" PRIMARY KEY, -- lower-case, no trailing dot
    org_id        text    NOT NULL REFERENCES orgs (id),
    connection_id text    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    created_at    bigint  NOT NULL,
    updated_at    bigint  NOT NULL
);
CREATE INDEX domain_routes_org ON domain_routes (org_id);
CREATE INDEX domain_routes_connection ON domain_routes (connection_id);

-- One-time sign-in links. org_id and user_id are '' when the link is not
-- bound to an organization or account; code_hash is NULL for links without a
-- code.
CREATE TABLE login_links (
    id_hash     bytea   PRIMARY KEY,
    email       text    NOT NULL,
    email_lower text    COLLATE "C" NOT NULL,
    org_id      text    NOT NULL,
    user_id     text    NOT NULL,
    code_hash   bytea,
    return_to   text    NOT NULL,
    attempts    integer NOT NULL,
    created_at  bigint  NOT NULL,
    expires_at  bigint  NOT NULL,
    used_at     bigint
);
CREATE INDEX login_links_email ON login_links (email_lower, expires_at);
CREATE INDEX login_links_expires ON login_links (expires_at);

-- Invitations. At most one pending (neither accepted nor revoked) invitation
-- per address and organization. user_id is '' until accepted.
CREATE TABLE invitations (
    id          text    PRIMARY KEY,
    org_id      text    NOT NULL REFERENCES orgs (id),
    email       text    NOT NULL,
    email_lower text    COLLATE "C" NOT NULL,
    role        text    NOT NULL,
    token_hash  bytea   NOT NULL UNIQUE,
    invited_by  text    NOT NULL,
    sends       integer NOT NULL,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    expires_at  bigint  NOT NULL,
    accepted_at bigint,
    user_id     text    NOT NULL,
    revoked_at  bigint
);
CREATE UNIQUE INDEX invitations_pending ON invitations (org_id, email_lower)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_org ON invitations (org_id, created_at);

-- Fixed-window rate-limit counters, shared by every replica.
CREATE TABLE rate_limits (
    bucket     text    COLLATE "C" PRIMARY KEY,
    count      integer NOT NULL,
    window_end bigint  NOT NULL
);
CREATE INDEX rate_limits_window_end ON rate_limits (window_end);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE invitations;
DROP TABLE login_links;
DROP TABLE domain_routes;
