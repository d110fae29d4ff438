//! # Channels: how a message leaves the building.
//!
//! SMS over SMPP 3.4 ([`smpp`]) or a provider's HTTP API ([`http_sms`]), email over SMTP
//! ([`email`]). This room only talks to gateways: it never reads or writes the database. The
//! outbox worker ([`crate::outbox::worker`]) decides what to send, writes each step before it
//! acts, and records what the gateways answer and report back ([`Inbound`]).
//!
//! Every gateway sorts its failures into three kinds ([`SendError`]), because the worker must
//! never send a message twice: a *transient* failure happened before the gateway took anything
//! (safe to try again later), a *permanent* one is a refusal, and an *ambiguous* one left the
//! message handed over without an answer — it may have been accepted, so it is never resent
//! automatically.

pub mod email;
pub mod http_sms;
pub mod receipt;
pub mod smpp;
pub mod text;

use std::time::Duration;

/// What went wrong with one message, and whether trying again is safe.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Nothing was accepted (no connection, throttled, a temporary refusal): try again later,
    /// not before `retry_after` when the gateway named a time.
    #[error("{reason}")]
    Transient {
        /// What the gateway or the network said.
        reason: String,
        /// The gateway's own "retry after", if it gave one.
        retry_after: Option<Duration>,
    },
    /// The gateway refused the message for good (bad number or address, rejected content).
    /// `accepted` lists the ids of segments it had already taken (a long SMS refused midway).
    #[error("{reason}")]
    Permanent {
        /// What the gateway said.
        reason: String,
        /// Provider ids of segments accepted before the refusal.
        accepted: Vec<String>,
    },
    /// The message was handed over but no answer came (connection lost, time-out): the
    /// gateway may have accepted it. Never resent automatically.
    #[error("{reason}")]
    Ambiguous {
        /// What happened.
        reason: String,
        /// Provider ids of segments known to be accepted.
        accepted: Vec<String>,
    },
}

impl SendError {
    /// A transient failure without a retry time.
    pub fn transient(reason: impl Into<String>) -> SendError {
        SendError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A permanent refusal of a message no part of which was accepted.
    pub fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent {
            reason: reason.into(),
            accepted: Vec::new(),
        }
    }
}

/// What a gateway accepted: the provider's id of each segment (one for email and most HTTP
/// gateways), and whether it will report delivery later.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Provider ids, one per segment, in order.
    pub provider_ids: Vec<String>,
    /// A delivery receipt will follow (SMPP with registered delivery).
    pub receipt_expected: bool,
}

/// What gateways report on their own: delivery receipts and owners' replies.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A delivery receipt for one segment.
    Receipt(receipt::Receipt),
    /// A mobile-originated SMS (an owner's reply).
    Reply {
        /// The owner's number as the gateway gave it.
        from: String,
        /// The number it was sent to (ours).
        to: String,
        /// The decoded text.
        text: String,
    },
}
