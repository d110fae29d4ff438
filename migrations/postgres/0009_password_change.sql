-- huifang: a generated password is changed at the first login (PostgreSQL). Keep in step with
-- migrations/sqlite/0009_password_change.sql: tests/foundation/schema.rs compares the two.

-- Set when `huifang user add` (or `--reset`) generated the password and printed it: a password
-- somebody else has seen. Until the account's owner chooses their own, its sessions reach only
-- the password form and logout. Cleared by the change (and by a reset with a chosen password).
alter table users add column must_change_password boolean not null default false;
