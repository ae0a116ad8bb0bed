-- The replay fence (package sqlstore, doc.go "Deferred durability"): a
-- sign-in's commit is fsynced just after it is answered, so an OS crash or
-- power loss can take back the last sign-ins' replay records. The row says
-- which boot of the machine last opened the database; a store opened on
-- another boot sets fenced_at to its opening time, and SignIn refuses
-- assertions issued before it.

-- +goose Up
CREATE TABLE replay_fence (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    boot_id   TEXT NOT NULL,
    fenced_at INTEGER
);

-- +goose Down
DROP TABLE replay_fence;
