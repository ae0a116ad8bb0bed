-- SQLite's 00007 adds the replay fence its deferred sign-in commits need.
-- PostgreSQL commits every write synchronously and needs none; this
-- migration keeps the two dialects' versions in step and changes nothing.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
