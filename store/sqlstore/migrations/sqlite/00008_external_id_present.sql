-- users_org_external_id indexes only the accounts that have an externalId.
-- Accounts created by a SAML sign-in (JIT) and by IdPs that send none have
-- none (NULL); their index entries bought nothing, since a lookup by
-- externalId always names one, and cost a page written per such account
-- created (package jit, "Cost of a sign-in"). A query's external_id = ?
-- (or IS NOT NULL, or a range) implies the index's condition, so the
-- planner still uses it; uniqueness among live accounts is unchanged.

-- +goose Up
DROP INDEX users_org_external_id;
CREATE UNIQUE INDEX users_org_external_id ON users (org_id, external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL;

-- +goose Down
DROP INDEX users_org_external_id;
CREATE UNIQUE INDEX users_org_external_id ON users (org_id, external_id) WHERE deleted_at IS NULL;
