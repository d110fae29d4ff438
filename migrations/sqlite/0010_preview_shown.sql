-- huifang: the preview offer's screen pop on record (SQLite). Keep in step with
-- migrations/postgres/0010_preview_shown.sql: tests/foundation/schema.rs compares the two.

-- When the agent's desktop first showed the offer with its owner's screen pop: the audit row
-- (`owner.screen_pop`, detail `preview ID`) is written then, once per offer, not on every poll.
alter table agent_previews add column shown_at timestamp;
