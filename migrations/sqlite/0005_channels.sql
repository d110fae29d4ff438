-- huifang SMS and email channels (SQLite). Keep in step with
-- migrations/postgres/0005_channels.sql: tests/foundation/schema.rs compares the two.

-- The outbox grows what sending needs. A row is claimed by one worker (state 'claimed' with a
-- lease), marked 'sending' just before it goes to the gateway and 'sent' with the provider's id
-- right after; a crash between the two leaves 'sending', which recovery marks 'unknown' instead
-- of sending it again. Final states: delivered, failed, unknown, suppressed (on the DNC list),
-- and sent when no receipt is expected (email, HTTP gateways).
alter table outbox add column html_body text;
alter table outbox add column campaign_id bigint references campaigns (campaign_id);
alter table outbox add column campaign_contact_id bigint references campaign_contacts (campaign_contact_id);
alter table outbox add column attempt_id bigint references attempts (attempt_id);
alter table outbox add column wake_contact_secs bigint;
-- A survey sent by SMS: the script node a digit reply answers, and the keys it accepts.
alter table outbox add column reply_node text;
alter table outbox add column reply_min bigint;
alter table outbox add column reply_max bigint;
alter table outbox add column gateway text;
alter table outbox add column receipt_expected boolean not null default false;
alter table outbox add column unsubscribe_token text;
alter table outbox add column lease_owner text;
alter table outbox add column lease_until timestamp;
alter table outbox add column ended_at timestamp;
create unique index outbox_unsubscribe on outbox (unsubscribe_token);
create index outbox_contact on outbox (campaign_contact_id);
create index outbox_recipient on outbox (recipient, message_id);

-- One row per SMS segment the gateway accepted, with its id: delivery receipts name segments.
create table outbox_parts (
    message_id bigint not null references outbox (message_id),
    part bigint not null,
    provider_id text not null,
    state text not null default 'sent' check (state in ('sent', 'delivered', 'failed')),
    error text,
    updated_at timestamp not null,
    primary key (message_id, part)
);
create index outbox_parts_provider on outbox_parts (provider_id);

-- Delivery receipts as they arrive, written before they are applied: a receipt may overtake
-- the write of its segment's id, so unapplied ones are matched again on every worker pass.
create table sms_receipts (
    receipt_id integer primary key,
    provider_id text not null,
    delivered boolean not null,
    status text not null,
    error text,
    received_at timestamp not null,
    applied_at timestamp
);
create index sms_receipts_unapplied on sms_receipts (provider_id) where applied_at is null;

-- Messages from owners (SMS replies; email unsubscribe clicks), each written before it is
-- acted upon, with what was done: opt_out, survey_answer or ignored.
create table inbound_messages (
    inbound_id integer primary key,
    channel text not null,
    sender text not null,
    recipient text not null,
    body text not null,
    received_at timestamp not null,
    action text not null,
    detail text not null default '',
    message_id bigint references outbox (message_id)
);
create index inbound_messages_sender on inbound_messages (sender, inbound_id);

-- Which of the campaign's channels a contact is on (an index into its fallback order).
alter table campaign_contacts add column channel_step bigint not null default 0;
