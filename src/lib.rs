//! # huifang (回访)
//!
//! The outbound campaign dialer and keypad survey bot of a property developer's 400
//! customer-service center, with the inbound ticket module it closes the loop for.
//!
//! ## Rooms, top to bottom
//!
//! A room may import only rooms on lines below its own, never one above it nor one on its own
//! line; `pure` rooms import nothing of the crate at all. The table is read by a test
//! (`tests/architecture`), which fails when a module imports one above it, so this map is
//! always the true one.
//!
//! | line | rooms | what they are |
//! |---|---|---|
//! | 1 | `cli`, `fuzzing` | the command line: parse arguments, call the domain (and the console's server), print; the fuzz targets' door to private parsers |
//! | 2 | `web` | the console: pages, JSON API and live streams over the domain |
//! | 3 | `demo` | a simulated day of the hotline on an accelerated clock, then its callback round |
//! | 4 | `inbound` | the 400 hotline: its menu (IVR), queues (ACD) to the dialer's agents, a row per call |
//! | 5 | `dialer` | the campaign engine: hopper, one call placed, messages, survey lines, verdicts, the node |
//! | 6 | `campaigns` | definitions from TOML (kinds, lists, mode, windows, retries), life cycle, wallboard |
//! | 7 | `desktop` | the agent desktop: presence wishes, the call an agent is on, screen pop, wrap-up |
//! | 8 | `outcomes` | what a callback survey means for its ticket (close, reopen, escalate, agent callback) |
//! | 9 | `tickets` | the inbound loop: open, dispatch, SLA, escalation, completion, closure |
//! | 10 | `outbox` | SMS and email to send, their receipts, replies and opt-outs; the worker that sends |
//! | 11 | `contacts`, `metrics`, `users`, `callbacks` | owners, units, DNC; the figures; console accounts; callback tasks |
//! | 12 | `config`, `sample` | the node's configuration file; the fictional sample data set |
//! | 13 | `channels`, `surveys`, `limits`, `audit` | SMPP/HTTP/SMTP gateways; survey scripts and their walk; rate limits; the append-only audit log |
//! | 14 | `store`, `vocab`, `phone`, `clock` | sqlx on SQLite or PostgreSQL; the closed vocabularies; phone numbers; the injected clock |
//! | pure | `pacing`, `telephony` | how many calls to place now (no tokio, sqlx or clock); the SIP/RTP crate `huifang-telephony` |
//!
//! Where a room's files have an order of their own, its `mod.rs` says so (see [`dialer`],
//! [`pacing`]).

pub mod audit;
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
#[doc(hidden)]
pub mod fuzzing;
pub mod inbound;
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
