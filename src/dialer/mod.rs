//! # The dialer room: campaigns placed as calls and messages.
//!
//! How many calls to place is decided by the pure [`crate::pacing`] room; this room does what
//! it decides: claims contacts, screens them, places calls and sends messages, hands answered
//! owners to agents and writes every step before it is acted upon.
//!
//! Its files, in the order a call goes through them (each imports only files above it in
//! this list, or none; `tests/architecture` checks there is no circle):
//!
//! - `plan`: a campaign loaded for this node (its settings, prompts, survey) and the
//!   room's errors; a leaf.
//! - [`hopper`]: leasing a campaign's contacts to nodes, and one row per call attempt.
//! - [`lists`]: a campaign's list sources (CSV, callbacks, owners) mixed by weight into the hopper.
//! - [`agents`]: agents' nailed-up legs and the hand-over of answered owners; [`floor`]: the
//!   live calls of a paced campaign, from which the pacer's observed state is built;
//!   [`presence`]: the seats as the desktop and wallboard see them.
//! - [`attempt`]: settling a contact after an attempt (retry rules, caps, next channel).
//! - `verdict`: a callback's verdict decided from what the survey heard and carried out on
//!   the ticket; the room's one door to [`crate::outcomes`].
//! - `survey`: the keypad survey walked over an answered call.
//! - `place`: placing one call — open the attempt, dial, answer, put through, close.
//! - `messages`: one SMS or email turn of a campaign.
//! - [`preview`]: preview mode — a contact offered to a desktop agent, dialled or skipped by them.
//! - [`node`]: the running dialer — recovery on start, one worker per running campaign that
//!   claims, screens (call window, do-not-call, consent) and places calls or sends messages.

pub mod agents;
pub mod attempt;
pub mod floor;
pub mod hopper;
pub mod lists;
mod messages;
pub mod node;
mod place;
mod plan;
pub mod presence;
pub mod preview;
mod survey;
mod verdict;

pub use node::{DialerNode, NodeConfig, Recovery};
pub use plan::{NodeError, PlanError};
