//! SIP as a sans-IO state machine: bytes and time in, bytes and events out.
//!
//! Layers, each using only the ones below it (as RFC 3261 draws them):
//! - [`message`]: parsing and building with `rsip`, compact headers, stream framing.
//! - [`transaction`]: the four transaction kinds and their timers (A–M).
//! - [`auth`]: digest answers to 401/407 challenges; [`sdp`]: offer/answer;
//!   [`disposition`]: what a final response means to the dialer.
//! - [`endpoint`]: the user agent: calls (out and in), dialogs, CANCEL, re-INVITE, INFO,
//!   OPTIONS, REGISTER with refresh. Fed by `handle_*`, drained by `poll_*`.

pub mod auth;
pub mod disposition;
pub mod endpoint;
pub mod message;
pub mod sdp;
pub mod transaction;

pub use disposition::Disposition;
pub use endpoint::{
    AccessList, AdmissionStats, CallEvent, CallKey, Dial, Endpoint, EndpointConfig, Event, RegKey,
    RegState, Register, Side, Transmit, Transport,
};
