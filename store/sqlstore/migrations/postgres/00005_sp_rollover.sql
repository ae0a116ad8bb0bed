-- A connection's second SP key pair, for rolling its SP certificate over
-- without a gap (package jit, "SP key rollover"): while it is set, the SP
-- metadata publishes both certificates and encrypted assertions decrypt
-- with either key. Empty when no rollover is under way. Keep in step with
-- the other dialect's migrations.

-- +goose Up
ALTER TABLE connections ADD COLUMN sp_next_cert_pem text NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN sp_next_key_pem  text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE connections DROP COLUMN sp_next_key_pem;
ALTER TABLE connections DROP COLUMN sp_next_cert_pem;
