//! # huifang (回访)
//!
//! The outbound campaign dialer and keypad survey bot of a property developer's 400
//! customer-service center, with the inbound ticket module it closes the loop for.
//!
//! Rooms, with arrows pointing down:
//! - [`cli`] and [`web`]: thin edges that parse input and call the domain.
//! - [`demo`]: a simulated day of the hotline on an accelerated clock.
//! - [`campaigns`]: campaign definitions from TOML files — kinds, lists, dial mode, call windows in
//!   the contact's time zone, retry rules and caps (pure; validated once, errors with key and line).
//! - [`dialer`]: the campaign engine's pacing (a pure `Pacer` of observed state) and its simulator.
//! - [`tickets`]: the inbound loop — open, dispatch, SLA, escalation, completion, closure.
//! - [`contacts`]: owners, units, suppliers, staff; CSV import; screen-pop look-ups.
//! - [`surveys`]: keypad survey scripts and their walk over one connected call.
//! - [`outcomes`]: what a callback survey means for its ticket (close, reopen, escalate, agent callback).
//! - [`metrics`]: the figures supervisors are judged by, over a period and a grouping.
//! - [`outbox`], [`callbacks`]: the contracts with the channels and the callback campaigns; the
//!   outbox worker sends SMS and email and records receipts, replies and opt-outs.
//! - [`channels`]: the gateways — SMPP and HTTP for SMS, SMTP for email (network only).
//! - [`sample`]: the deterministic generator of the fictional sample data set.
//! - [`telephony`]: SIP, RTP, prompts, DTMF, bridging and recording (sans-IO core, one transport).
//! - [`store`]: sqlx on SQLite (embedded default) or PostgreSQL.
//! - [`vocab`], [`phone`], [`clock`], [`config`]: the shared small types.

pub mod callbacks;
pub mod campaigns;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod demo;
pub mod desktop;
pub mod dialer;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod outcomes;
pub mod pacing;
pub mod phone;
pub mod sample;
pub mod store;
pub mod surveys;
pub use huifang_telephony as telephony;
pub mod tickets;
pub mod users;
pub mod vocab;
pub mod web;
