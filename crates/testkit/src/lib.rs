//! Helpers shared by huifang's integration test binaries (`tests/*/main.rs`), one copy each.
//!
//! - [`db`]: a fresh database per test, SQLite always and PostgreSQL too when
//!   `TEST_DATABASE_URL` is set; hopper-level fixtures (a bare campaign row, contacts).
//! - [`binary`]: the built `huifang` binary, run to completion or spawned as a child process.
//! - [`campaign`]: a campaign's prompt, list and definition files, created and started, and the
//!   rows the dialer writes back.
//! - [`dialer`]: what a dialer under test talks to: the phone simulator, sipp, a trunk, a node's
//!   configuration.
//!
//! Helpers used by one test binary only stay in that binary.

pub mod binary;
pub mod campaign;
pub mod db;
pub mod dialer;
