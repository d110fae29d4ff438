//! # The inbound room: the 400 hotline on the dialer's node and agents.
//!
//! Owners call the group's one number; the hotline answers with its menu (IVR), queues the
//! caller by what they chose, and puts them through to a free agent's nailed-up leg — the same
//! agents and legs the dialer hands answered owners to, so one team works both directions,
//! inbound callers first.
//!
//! Its files, each importing only those above it:
//!
//! - [`menu`]: the menu and queues as written (`campaigns/hotline/*.toml`), checked whole.
//! - [`queue`]: the ACD, pure: who waits, in what order, who takes whom, what is due.
//! - [`calls`]: the `inbound_calls` rows, from the INVITE on.
//! - [`hotline`]: the running hotline over one SIP user agent and the node's agent desk, and
//!   its live row for the wallboard.
//! - [`target`]: the service level's threshold the console judges the hotline by.

pub mod calls;
pub mod hotline;
pub mod menu;
pub mod queue;
pub mod target;

pub use calls::{InboundCall, InboundCalls, InboundOutcome};
pub use hotline::{Hotline, HotlineConfig, HotlineError, HotlineLive, HotlineLoad};
pub use menu::{Menu, QueueDef};
pub use target::AnswerTarget;
