-- huifang account states and the audit log (SQLite). Keep in step with
-- migrations/postgres/0008_accounts_audit.sql: tests/foundation/schema.rs compares the two.

-- users.active already switches an account off (`huifang user disable`); these say when it last
-- logged in and how its failed logins stand. failed_logins counts wrong passwords since the last
-- good one; at the lock-out threshold locked_at is set, and only an admin (`huifang user
-- unlock`) or the lock-out period's end opens the account again.
alter table users add column last_login_at timestamp;
alter table users add column failed_logins bigint not null default 0;
alter table users add column locked_at timestamp;

-- Who did what, when, from where: logins (ok and failed), look-ups and screen pops of an
-- owner, ticket and campaign changes, account changes. Append-only: rows are never updated,
-- and only the retention pass (`[audit] retention_days`) deletes old ones.
create table audit_log (
    audit_id integer primary key,
    at timestamp not null,
    actor text not null,
    action text not null,
    target text not null default '',
    address text not null default '',
    detail text not null default ''
);
create index audit_log_at on audit_log (at);
create index audit_log_actor on audit_log (actor, at);

create trigger audit_log_append_only before update on audit_log
begin
    select raise(abort, 'audit_log is append-only');
end;
