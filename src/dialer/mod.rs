//! # The dialer room: campaigns placed as calls and messages.
//!
//! How many calls to place is decided by the pure [`crate::pacing`] room; this room does what
//! it decides: claims contacts, screens them, places calls and sends messages, hands answered
//! owners to agents and writes every step before it is acted upon.
//!
//! - [`hopper`]: leasing a campaign's contacts to nodes, and one row per call attempt.
//! - [`lists`]: a campaign's list sources (CSV, callbacks, owners) mixed by weight into the hopper.
//! - [`node`]: the running dialer — recovery on start, one worker per running campaign that
//!   claims, screens (call window, do-not-call, consent) and calls; [`attempt`]: one call,
//!   written before it is placed, and the retry decision after it.
//!
//! - [`agents`]: agents' nailed-up legs and the hand-over of answered owners; [`floor`]: the
//!   live calls of a paced campaign, from which the pacer's observed state is built.
//!
//! - [`preview`]: preview mode — a contact offered to a desktop agent, dialled or skipped by them.

pub mod agents;
pub mod attempt;
pub mod floor;
pub mod hopper;
pub mod lists;
mod messages;
pub mod node;
mod plan;
pub mod presence;
pub mod preview;
mod survey;

pub use node::{Node, NodeConfig, Recovery};
pub use plan::{NodeError, PlanError};
