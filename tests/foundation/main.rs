//! Foundation tests: store, import, look-ups, tickets, SLA and escalation, API and CLI.
//! One test binary for the area keeps link time down.

mod api;
mod cli;
mod helpers;
mod import;
mod inbound_metrics;
mod lookup;
mod metrics;
mod metrics_target;
mod schema;
mod tickets;
