-- SQLite's 00006 rebuilds sessions, assertions and audit_events so that a
-- sign-in writes fewer pages (WITHOUT ROWID, no AUTOINCREMENT). PostgreSQL
-- stores them as it did; this migration keeps the two dialects' versions in
-- step and changes nothing.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
