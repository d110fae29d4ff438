//! The dialer's voice: SIP signalling, RTP media, prompts, DTMF, bridging and recording.
//!
//! Rooms, arrows pointing down:
//! - [`transport`]: the one place with sockets and timers (tokio): SIP over UDP and TCP, and the
//!   call API the dialer uses ([`transport::UserAgent`], [`transport::Call`]).
//! - [`media`]: prompts decoded once into shared 20 ms G.711 frames, call recording, and the media
//!   engine that sends and receives RTP for many calls with few tasks.
//! - [`sip`]: SIP as a sans-IO state machine (bytes and time in, bytes and events out): messages
//!   (via `rsip`), transactions with the RFC 3261 timers, dialogs, digest auth, SDP offer/answer.
//! - [`rtp`]: RTP packets, G.711, RFC 4733 telephone-events and in-band DTMF detection; sans-IO.
//!
//! Telephony never imports the domain: it reports events, and the dialer decides what they mean.

pub mod media;
pub mod rtp;
pub mod simulator;
pub mod sip;
pub mod transport;

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// A G.711 audio codec; the only ones trunks and phones are sure to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type of the codec (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is one of ours.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:0 PCMU/8000`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// Why a character or event code is not a DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigitError {
    /// Not one of `0-9 * # A-D`.
    #[error("`{0}` is not a DTMF digit (0-9, *, #, A-D)")]
    Char(char),
    /// An RFC 4733 event code above 15 (flash and tones are not digits).
    #[error("telephone-event {0} is not a DTMF digit")]
    Event(u8),
}

/// One DTMF key: `0`-`9`, `*`, `#` or `A`-`D`. Once a value exists it is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "char", into = "char")]
pub struct Digit(char);

impl Digit {
    /// Parses a key character (`a`-`d` are taken as `A`-`D`).
    pub fn parse(c: char) -> Result<Digit, DigitError> {
        match c {
            '0'..='9' | '*' | '#' | 'A'..='D' => Ok(Digit(c)),
            'a'..='d' => Ok(Digit(c.to_ascii_uppercase())),
            _ => Err(DigitError::Char(c)),
        }
    }

    /// Parses every key of a string such as `"1#"`.
    pub fn parse_all(keys: &str) -> Result<Vec<Digit>, DigitError> {
        keys.chars().map(Digit::parse).collect()
    }

    /// The digit of an RFC 4733 event code (0-9, 10 = `*`, 11 = `#`, 12-15 = `A`-`D`).
    pub fn from_event(event: u8) -> Result<Digit, DigitError> {
        let c = match event {
            0..=9 => char::from(b'0' + event),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + event - 12),
            _ => return Err(DigitError::Event(event)),
        };
        Ok(Digit(c))
    }

    /// The RFC 4733 event code of the digit.
    pub fn event(self) -> u8 {
        match self.0 {
            '*' => 10,
            '#' => 11,
            c @ '0'..='9' => c as u8 - b'0',
            c => c as u8 - b'A' + 12,
        }
    }

    /// The key as a character.
    pub fn as_char(self) -> char {
        self.0
    }
}

impl TryFrom<char> for Digit {
    type Error = DigitError;
    fn try_from(c: char) -> Result<Digit, DigitError> {
        Digit::parse(c)
    }
}

impl From<Digit> for char {
    fn from(d: Digit) -> char {
        d.0
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What offer/answer agreed for one audio stream: where to send, in which codec, and how
/// telephone-events are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaParams {
    /// The peer's RTP address (from `c=` and `m=`).
    pub remote: SocketAddr,
    /// The audio codec both sides accept.
    pub codec: Codec,
    /// The payload type of telephone-event/8000, when the peer offered it.
    pub dtmf_pt: Option<u8>,
    /// Packet time in milliseconds (20 unless the peer asked otherwise).
    pub ptime_ms: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_round_trip_through_event_codes() {
        for (i, c) in "0123456789*#ABCD".chars().enumerate() {
            let d = Digit::parse(c).unwrap();
            assert_eq!(d.event() as usize, i);
            assert_eq!(Digit::from_event(i as u8).unwrap(), d);
        }
        assert_eq!(Digit::parse('x'), Err(DigitError::Char('x')));
        assert_eq!(Digit::from_event(16), Err(DigitError::Event(16)));
        assert_eq!(Digit::parse('b').unwrap().as_char(), 'B');
    }
}
