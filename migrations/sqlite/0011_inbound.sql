-- huifang inbound hotline (SQLite). Keep in step with migrations/postgres/0011_inbound.sql:
-- tests/foundation/schema.rs compares the two.

-- One row per call to the 400 number, written when the INVITE arrives and updated at every
-- step before the step is acted on (answered by the menu, a key pressed, queued, put through
-- to an agent, ended), so a crash loses no caller: a restart closes the node's open rows as
-- 'interrupted' and lists their callers for a callback.
-- outcome: answered (talked to an agent), abandoned (hung up while queued), callback (asked
-- to be called back), closed (outside opening hours), menu (hung up or no choice in the menu),
-- refused (the INVITE was not taken), failed (an error), interrupted (the node stopped).
create table inbound_calls (
    inbound_call_id integer primary key,
    node text not null,
    number text not null,
    caller text not null,
    arrived_at timestamp not null,
    answered_at timestamp,
    language text not null default '',
    -- The keys pressed in the menu, in order (e.g. '9,1').
    choices text not null default '',
    queue text,
    queued_at timestamp,
    agent text,
    connected_at timestamp,
    ended_at timestamp,
    outcome text check (outcome in ('answered', 'abandoned', 'callback', 'closed', 'menu', 'refused', 'failed', 'interrupted')),
    recording_path text,
    detail text not null default ''
);
create index inbound_calls_arrived on inbound_calls (arrived_at);
create index inbound_calls_open on inbound_calls (node, ended_at);
create index inbound_calls_agent on inbound_calls (agent, connected_at);

-- An inbound caller who was not served (hung up in the queue, asked for a callback) is put
-- on the agents' list with the queue in its note; those rows have no verdict.
alter table agent_callbacks add column inbound_call_id bigint references inbound_calls (inbound_call_id);
