-- huifang web console (SQLite). Keep in step with migrations/postgres/0006_console.sql:
-- tests/foundation/schema.rs compares the two.

-- Who may log in to the console. A supervisor sees the agents and calls of their team; an
-- agent their own calls and callbacks; an admin everything.
create table users (
    user_id integer primary key,
    username text not null unique,
    display_name text not null,
    role text not null check (role in ('admin', 'supervisor', 'agent')),
    team text not null default '',
    password_hash text not null,
    active boolean not null default true,
    created_at timestamp not null
);

-- A logged-in browser. Only a hash of the cookie's token is kept, so a copy of the database
-- opens no session; the CSRF token is checked on every form and API write.
create table web_sessions (
    token_hash text primary key,
    user_id bigint not null references users (user_id),
    csrf_token text not null,
    created_at timestamp not null,
    expires_at timestamp not null
);
create index web_sessions_user on web_sessions (user_id);

-- An agent's seat: what the agent asked for on the desktop (their phone's SIP URI; ready,
-- paused or logged off) and what the dialer node that holds their nailed-up leg reports
-- (phase, since when). attempts.agent names the same agent.
create table agent_presence (
    agent text primary key,
    sip_uri text,
    wanted text not null default 'off' check (wanted in ('ready', 'paused', 'off')),
    node text,
    phase text not null default 'offline',
    phase_since timestamp,
    updated_at timestamp not null
);

-- The agent's disposition of a connected call: written once per attempt from the desktop.
create table dispositions (
    disposition_id integer primary key,
    attempt_id bigint not null unique references attempts (attempt_id),
    agent text not null,
    outcome text not null,
    satisfaction bigint check (satisfaction between 1 and 5),
    notes text not null default '',
    at timestamp not null
);

-- Live counters a dialer node publishes for each campaign it works (about once a second);
-- the wallboard sums the fresh rows of all nodes.
create table dialer_live (
    campaign_id bigint not null references campaigns (campaign_id),
    node text not null,
    dialing bigint not null,
    ringing bigint not null,
    connected bigint not null,
    waiting bigint not null,
    updated_at timestamp not null,
    primary key (campaign_id, node)
);
