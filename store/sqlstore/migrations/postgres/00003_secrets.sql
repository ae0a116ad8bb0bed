-- Server secrets shared by every replica (store.Secrets). Keep in step with
-- the other dialect's migrations.

-- +goose Up
CREATE TABLE secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at bigint NOT NULL
);

-- +goose Down
DROP TABLE secrets;
