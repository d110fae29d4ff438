-- huifang preview dialing (SQLite). Keep in step with migrations/postgres/0007_preview.sql:
-- tests/foundation/schema.rs compares the two.

-- A contact of a preview campaign a dialer node offers one desktop agent before dialling: the
-- agent sees it and decides (dial or skip); the node reads the decision and acts. An offer the
-- node withdraws (the agent paused or logged off) or that a restart found open is closed with
-- that decision ('withdrawn', 'expired'). At most one undecided offer per agent.
create table agent_previews (
    preview_id integer primary key,
    agent text not null,
    campaign_id bigint not null references campaigns (campaign_id),
    campaign_contact_id bigint not null references campaign_contacts (campaign_contact_id),
    node text not null,
    offered_at timestamp not null,
    decision text check (decision in ('dial', 'skip', 'withdrawn', 'expired')),
    decided_at timestamp,
    -- Set when the node has acted on the decision (placed the call, released the contact).
    closed_at timestamp
);
create index agent_previews_open on agent_previews (agent, closed_at);
