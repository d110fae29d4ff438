//! RTP as plain data: packets, G.711, DTMF. Sans-IO: no sockets, no tokio, no clock reads
//! (time is passed in as [`std::time::Instant`]).
//!
//! - [`packet`]: RTP header parse (typed [`packet::RtpError`], never panics) and build.
//! - [`g711`]: µ-law / A-law encode, table-based decode and transcoding.
//! - [`dtmf`]: RFC 4733 telephone-event payloads and the receiver that reports each press once.
//! - [`inband`]: a Goertzel DTMF detector on 8 kHz linear PCM, for trunks that send tones in audio.
//! - [`dedup`]: merges digits heard through RFC 4733, SIP INFO and in-band into one report per press.
//! - [`sender`]: sequence / timestamp / SSRC / marker state of one outgoing stream, and RFC 4733 out.

pub mod dedup;
pub mod dtmf;
pub mod g711;
pub mod inband;
pub mod packet;
pub mod sender;
