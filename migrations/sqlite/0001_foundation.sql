-- huifang foundation schema (SQLite). Keep in step with migrations/postgres/0001_foundation.sql:
-- tests/foundation/schema.rs compares the two.

create table meta (
    key text primary key,
    value text not null
);

create table regions (
    region_id integer primary key,
    code text not null unique,
    name text not null,
    time_zone text not null default 'Asia/Shanghai'
);

create table projects (
    project_id integer primary key,
    code text not null unique,
    name text not null,
    city text not null default '',
    region_id bigint not null references regions (region_id)
);

create table buildings (
    building_id integer primary key,
    project_id bigint not null references projects (project_id),
    name text not null,
    unique (project_id, name)
);

create table units (
    unit_id integer primary key,
    code text not null unique,
    building_id bigint not null references buildings (building_id),
    number text not null,
    floor bigint,
    area_m2 double precision,
    handover_date date,
    updated_at timestamp not null
);

create table suppliers (
    supplier_id integer primary key,
    code text not null unique,
    name text not null,
    trade text not null default '',
    phone text,
    email text,
    updated_at timestamp not null
);

create table unit_components (
    unit_id bigint not null references units (unit_id),
    component text not null,
    supplier_id bigint not null references suppliers (supplier_id),
    warranty_months bigint not null,
    primary key (unit_id, component)
);

create table owners (
    owner_id integer primary key,
    code text not null unique,
    name text not null,
    email text,
    language text not null default 'zh-CN',
    time_zone text not null default 'Asia/Shanghai',
    consent_voice boolean not null default true,
    consent_sms boolean not null default true,
    consent_email boolean not null default true,
    updated_at timestamp not null
);

create table owner_phones (
    phone text primary key,
    owner_id bigint not null references owners (owner_id),
    position bigint not null default 0
);
create index owner_phones_owner on owner_phones (owner_id);

create table owner_units (
    owner_id bigint not null references owners (owner_id),
    unit_id bigint not null references units (unit_id),
    primary key (owner_id, unit_id)
);
create index owner_units_unit on owner_units (unit_id);

create table staff (
    staff_id integer primary key,
    code text not null unique,
    name text not null,
    role text not null,
    department text not null default '',
    phone text not null,
    email text,
    region_id bigint references regions (region_id),
    project_id bigint references projects (project_id),
    active boolean not null default true,
    updated_at timestamp not null
);

create table responsibilities (
    project_id bigint not null references projects (project_id),
    category text not null,
    staff_id bigint not null references staff (staff_id),
    head_staff_id bigint references staff (staff_id),
    primary key (project_id, category)
);

create table dnc (
    phone text not null,
    channel text not null,
    scope text not null default '',
    reason text not null default '',
    created_at timestamp not null,
    primary key (phone, channel, scope)
);

create table tickets (
    ticket_id integer primary key,
    owner_id bigint references owners (owner_id),
    unit_id bigint references units (unit_id),
    phone text,
    kind text not null,
    category text not null,
    component text,
    description text not null,
    state text not null,
    level text not null,
    warranty text not null,
    warranty_until date,
    paid boolean not null default false,
    owner_on_site boolean not null default false,
    assignee_id bigint references staff (staff_id),
    reopen_count bigint not null default 0,
    opened_at timestamp not null,
    dispatched_at timestamp,
    ack_due_at timestamp,
    acknowledged_at timestamp,
    onsite_due_at timestamp,
    on_site_at timestamp,
    completed_at timestamp,
    closed_at timestamp,
    level_changed_at timestamp not null,
    updated_at timestamp not null
);
create index tickets_state on tickets (state);
create index tickets_owner on tickets (owner_id);

create table ticket_events (
    event_id integer primary key,
    ticket_id bigint not null references tickets (ticket_id),
    at timestamp not null,
    actor text not null,
    action text not null,
    from_state text,
    to_state text,
    level text,
    reason text not null default ''
);
create index ticket_events_ticket on ticket_events (ticket_id);

create table outbox (
    message_id integer primary key,
    channel text not null,
    recipient text not null,
    subject text,
    body text not null,
    ticket_id bigint references tickets (ticket_id),
    staff_id bigint references staff (staff_id),
    purpose text not null,
    state text not null default 'queued',
    attempts bigint not null default 0,
    provider_id text,
    last_error text,
    created_at timestamp not null,
    next_attempt_at timestamp not null,
    sent_at timestamp
);
create index outbox_state on outbox (state, next_attempt_at);

create table callback_tasks (
    task_id integer primary key,
    ticket_id bigint not null references tickets (ticket_id),
    owner_id bigint references owners (owner_id),
    phone text,
    state text not null default 'pending',
    attempts bigint not null default 0,
    created_at timestamp not null,
    due_at timestamp not null
);
create index callback_tasks_state on callback_tasks (state, due_at);
