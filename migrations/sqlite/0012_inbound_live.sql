-- huifang hotline live figures (SQLite). Keep in step with migrations/postgres/0012_inbound_live.sql:
-- tests/foundation/schema.rs compares the two.

-- What each node's hotline holds now, written about once a second (as dialer_live is for the
-- outbound calls); the wallboard sums the rows of every node written within the last few
-- seconds, so a node that died stops counting at once, and a node that stops deletes its row.
-- waiting: callers in a queue now; waiting_since: when the longest-waiting of them called
-- (null with nobody waiting).
create table inbound_live (
    node text primary key,
    waiting bigint not null,
    waiting_since timestamp,
    updated_at timestamp not null
);

-- Today's figures on every wallboard (and /reports) read the calls by when they joined a
-- queue, several times a second while wallboards are open: an index, not a scan of every
-- call ever taken.
create index inbound_calls_queued on inbound_calls (queued_at);
