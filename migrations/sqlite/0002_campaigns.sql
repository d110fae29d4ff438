-- huifang campaign engine schema (SQLite): campaigns, the hopper, one row per call attempt.
-- Keep in step with migrations/postgres/0002_campaigns.sql: tests/foundation/schema.rs compares
-- the two.

create table campaigns (
    campaign_id integer primary key,
    code text not null unique,
    name text not null,
    kind text not null,
    state text not null default 'draft'
        check (state in ('draft', 'scheduled', 'running', 'paused', 'completed', 'stopped')),
    definition text not null,
    created_at timestamp not null,
    updated_at timestamp not null
);

-- The hopper: one row per number to reach in a campaign. A node owns a row while its lease
-- (lease_owner, lease_until) runs; an expired lease may be taken over by any node.
create table campaign_contacts (
    campaign_contact_id integer primary key,
    campaign_id bigint not null references campaigns (campaign_id),
    owner_id bigint references owners (owner_id),
    phone text not null,
    tz text not null,
    priority bigint not null default 0,
    state text not null default 'pending' check (state in ('pending', 'leased', 'done')),
    attempts bigint not null default 0,
    attempts_today bigint not null default 0,
    next_attempt_at timestamp,
    lease_owner text,
    lease_until timestamp,
    final_outcome text,
    created_at timestamp not null,
    updated_at timestamp not null,
    unique (campaign_id, phone)
);
-- The claim walks this index in claim order and stops after `limit` rows; finished contacts
-- are left out so a campaign near its end does not scan everything it already called.
create index campaign_contacts_claim on campaign_contacts
    (campaign_id, priority desc, campaign_contact_id) where state <> 'done';

-- One row per call attempt, written before the call is placed (write-before-act).
create table attempts (
    attempt_id integer primary key,
    campaign_contact_id bigint not null references campaign_contacts (campaign_contact_id),
    campaign_id bigint not null references campaigns (campaign_id),
    channel text not null,
    node text not null,
    queued_at timestamp not null,
    dialed_at timestamp,
    answered_at timestamp,
    bridged_at timestamp,
    ended_at timestamp,
    outcome text,
    sip_status bigint,
    agent text,
    recording_path text
);
create index attempts_contact on attempts (campaign_contact_id);
create index attempts_campaign on attempts (campaign_id, queued_at);
-- Restart recovery lists a node's attempts that never ended.
create index attempts_unfinished on attempts (node) where ended_at is null;
