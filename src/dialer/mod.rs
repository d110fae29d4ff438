//! # The dialer room: deciding how many calls to place now.
//!
//! Pacing is a pure function of observed state: a [`Pacer`] reads an [`ObservedState`] (agents
//! free and busy, calls ringing and waiting, the learned distributions, the measured abandon
//! rate, `now`) and returns a number of dials. It reads no clock and does no I/O, so the
//! simulator drives the very same code the live dialer will.
//!
//! - [`state`]: the observed-state snapshot.
//! - [`estimate`]: online estimators of the answer rate and the ring, talk and wrap-up times.
//! - [`model`]: the predictive model (expected abandons of `n` more dials; formula there).
//! - [`pacer`]: the modes (preview, progressive, ratio, predictive, adaptive-heuristic) and the
//!   feedback term.
//! - [`adaptive`]: VICIdial's adaptive dial-level loop, the baseline.
//! - [`simulate`] and [`report`]: a discrete-event simulation of a campaign on a simulated
//!   clock, and what it measures.
//! - [`stats`]: the log-normal, `erfc` and the Poisson-binomial.
//! - [`hopper`]: leasing a campaign's contacts to nodes, and one row per call attempt.
//! - [`lists`]: a campaign's list sources (CSV, callbacks, owners) mixed by weight into the hopper.
//! - [`limits`]: rate limits per trunk, campaign and destination prefix (`governor`).
//! - [`node`]: the running dialer — recovery on start, one worker per running campaign that
//!   claims, screens (call window, do-not-call, consent) and calls; [`attempt`]: one call,
//!   written before it is placed, and the retry decision after it.
//!
//! - [`agents`]: agents' nailed-up legs and the hand-over of answered owners; [`floor`]: the
//!   live calls of a paced campaign, from which the pacer's observed state is built.
//!
//! - [`preview`]: preview mode — a contact offered to a desktop agent, dialled or skipped by them.

pub mod adaptive;
pub mod agents;
pub mod attempt;
pub mod estimate;
pub mod floor;
pub mod hopper;
pub mod limits;
pub mod lists;
mod messages;
pub mod model;
pub mod node;
pub mod pacer;
pub mod presence;
pub mod preview;
pub mod report;
pub mod simulate;
pub mod state;
pub mod stats;
mod survey;

#[cfg(test)]
mod tests;

pub use estimate::{Estimates, Estimator, Priors};
pub use node::{Node, NodeConfig, NodeError, PlanError, Recovery};
pub use pacer::{Feedback, ModeError, Pacer, PacingMode};
pub use report::SimReport;
pub use simulate::{SimConfig, SimError, TalkShape, simulate};
pub use state::{AbandonWindow, AgentPhase, BusyAgent, ObservedState};
