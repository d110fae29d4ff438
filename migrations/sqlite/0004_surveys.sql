-- huifang keypad surveys and their outcomes (SQLite). Keep in step with
-- migrations/postgres/0004_surveys.sql: tests/foundation/schema.rs compares the two.

-- The ticket a callback contact closes the loop for (callback campaigns; null otherwise).
alter table campaign_contacts add column ticket_id bigint references tickets (ticket_id);

-- One answer per survey node per attempt, written the moment the owner gives it: a survey
-- cut off by a hang-up keeps what was answered, and a retry skips it.
create table survey_answers (
    answer_id integer primary key,
    attempt_id bigint not null references attempts (attempt_id),
    campaign_contact_id bigint not null references campaign_contacts (campaign_contact_id),
    campaign_id bigint not null references campaigns (campaign_id),
    node text not null,
    kind text not null,
    value text not null,
    at timestamp not null,
    unique (attempt_id, node)
);
create index survey_answers_contact on survey_answers (campaign_contact_id);
create index survey_answers_campaign on survey_answers (campaign_id, at);

-- What a callback survey means for its ticket (satisfied, neutral, unsatisfied, unreached),
-- decided before it is acted upon. applied_at is set once every effect (close, reopen,
-- escalation, agent callback) is written, so a restart finishes what a crash interrupted.
create table survey_verdicts (
    verdict_id integer primary key,
    campaign_contact_id bigint not null unique references campaign_contacts (campaign_contact_id),
    campaign_id bigint not null references campaigns (campaign_id),
    ticket_id bigint not null references tickets (ticket_id),
    verdict text not null check (verdict in ('satisfied', 'neutral', 'unsatisfied', 'unreached')),
    rating bigint,
    level_before text not null,
    decided_at timestamp not null,
    applied_at timestamp
);
create index survey_verdicts_pending on survey_verdicts (verdict_id) where applied_at is null;

-- The agents' callback list: owners a person must call back (unsatisfied, unreached by the
-- dialer, asked for an agent when none was free).
create table agent_callbacks (
    agent_callback_id integer primary key,
    verdict_id bigint references survey_verdicts (verdict_id),
    ticket_id bigint references tickets (ticket_id),
    owner_id bigint references owners (owner_id),
    phone text not null,
    campaign_id bigint references campaigns (campaign_id),
    reason text not null,
    note text not null default '',
    agent text,
    state text not null default 'open' check (state in ('open', 'done', 'cancelled')),
    due_at timestamp not null,
    created_at timestamp not null,
    done_at timestamp,
    unique (verdict_id, reason)
);
create index agent_callbacks_open on agent_callbacks (state, due_at);
