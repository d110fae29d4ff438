//! # Pacing: how many calls to place now (pure).
//!
//! Pacing is a pure function of observed state: a [`Pacer`] reads an [`ObservedState`] (agents
//! free and busy, calls ringing and waiting, the learned distributions, the measured abandon
//! rate, `now`) and returns a number of dials. This room has no tokio, no sqlx and no clock: it
//! reads time only as the `now_s` it is given and does no I/O, so the simulator drives the very
//! same code the live dialer does. It imports nothing from the crate (a test checks it).
//!
//! Files, each importing only those above it in this list:
//! - [`stats`]: the log-normal, `erfc` and the Poisson-binomial.
//! - [`erlang`]: Erlang B and C, the service level and the agents a hotline needs.
//! - [`estimate`]: online estimators of the answer rate and the ring, talk and wrap-up times.
//! - [`state`]: the observed-state snapshot.
//! - [`model`]: the predictive model (expected abandons of `n` more dials; formula there).
//! - [`reserve`]: inbound first, the agents the hotline holds back before any mode decides.
//! - [`adaptive`]: VICIdial's adaptive dial-level loop, the baseline.
//! - [`pacer`]: the modes (preview, progressive, ratio, predictive, adaptive-heuristic) and the
//!   feedback term.
//! - [`report`] and [`simulate`]: what a simulated campaign measures, and the discrete-event
//!   simulation of one on a simulated clock (with a hotline on the same agents in
//!   `simulate/inbound.rs`).

pub mod adaptive;
pub mod erlang;
pub mod estimate;
pub mod model;
pub mod pacer;
pub mod report;
pub mod reserve;
pub mod simulate;
pub mod state;
pub mod stats;

#[cfg(test)]
mod tests;

pub use estimate::{Estimates, Estimator, Priors};
pub use pacer::{Feedback, ModeError, Pacer, PacingMode};
pub use report::{InboundReport, SimReport};
pub use simulate::{InboundConfig, SimConfig, SimError, TalkShape, simulate};
pub use state::{AbandonWindow, AgentPhase, BusyAgent, InboundLoad, ObservedState};
