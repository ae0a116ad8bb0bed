-- Server secrets shared by every replica (store.Secrets). Keep in step with
-- the other dialect's migrations.

-- +goose Up
CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE secrets;
