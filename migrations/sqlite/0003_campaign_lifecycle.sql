-- huifang campaign lifecycle and the running dialer (SQLite). Keep in step with
-- migrations/postgres/0003_campaign_lifecycle.sql: tests/foundation/schema.rs compares the two.

-- One row per campaign state change (created, scheduled, started, paused, resumed, stopped,
-- completed): who did it, when and why. Written in the same commit as the state itself.
create table campaign_events (
    campaign_event_id integer primary key,
    campaign_id bigint not null references campaigns (campaign_id),
    at timestamp not null,
    actor text not null,
    action text not null,
    from_state text,
    to_state text not null,
    reason text not null default ''
);
create index campaign_events_campaign on campaign_events (campaign_id, campaign_event_id);

-- A scheduled campaign starts by itself once this moment has passed.
alter table campaigns add column starts_at timestamp;

-- The language of the prompts a contact hears (the owner's, or the list's).
alter table campaign_contacts add column language text not null default 'zh-CN';

-- Why an attempt ended as it did, for people (the SIP reason phrase, `interrupted by restart`).
alter table attempts add column detail text;

-- The definition file a campaign was created from (absolute), so its CSV lists and survey
-- script, named relative to it, can be read again.
alter table campaigns add column source_file text;
