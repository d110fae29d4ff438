//! RFC 4733 telephone-events: the 4-byte payload, and a receiver that turns the packet train
//! of one key press into exactly one digit.
//!
//! What real peers send, and what the receiver copes with:
//! - each press is several packets sharing one RTP timestamp, durations growing, then the end
//!   bit repeated (three times in sipp's `dtmf_2833_*.pcap`, all with one sequence number);
//! - long presses are split into segments: a new timestamp equal to the old one plus the old
//!   duration, same event, no end bit between them (RFC 4733 §2.5.1.3);
//! - only the negotiated payload type carries events: a digit decides a survey answer, so a
//!   packet on another type (sipp's `play_dtmf` sends 96 whatever the SDP said) is not one,
//!   however much it looks like an event;
//! - late copies of an earlier press (reordering) are remembered and ignored.

use crate::Digit;

use super::packet::RtpHeader;

/// Length of one telephone-event payload.
pub const EVENT_LEN: usize = 4;

/// Why a payload is not a telephone-event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Fewer than 4 bytes.
    #[error("telephone-event payload of {0} bytes, expected 4")]
    TooShort(usize),
}

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-9, 10 = `*`, 11 = `#`, 12-15 = `A`-`D`; others are tones, flash, etc.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0 (6 bits, 0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units (8 kHz samples).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a payload (extra bytes, e.g. padding kept by a peer, are
    /// ignored).
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, EventError> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3f,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(EventError::TooShort(payload.len())),
        }
    }

    /// The 4 payload bytes.
    pub fn to_bytes(self) -> [u8; EVENT_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// The DTMF digit, when the event is one.
    pub fn digit(self) -> Option<Digit> {
        Digit::from_event(self.event).ok()
    }
}

/// Whether a packet carries a DTMF telephone-event: the negotiated payload type *and* the
/// shape of one (exactly 4 bytes, a digit code). Nothing is an event when no type was
/// negotiated.
pub fn is_dtmf_event(negotiated_pt: Option<u8>, payload_type: u8, payload: &[u8]) -> bool {
    Some(payload_type) == negotiated_pt && payload.len() == EVENT_LEN && payload[0] <= 15
}

/// How many earlier presses are remembered, to ignore late copies of their packets.
const HISTORY: usize = 8;

/// A press being received: its RTP timestamp, code, and last known duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Press {
    timestamp: u32,
    event: u8,
    duration: u16,
    ended: bool,
}

/// Turns received telephone-event packets into one digit per key press.
///
/// Presses are identified by (RTP timestamp, event code), not by sequence number (sipp repeats
/// it) nor SSRC (sipp's filler stream), so every copy of a press maps to the press.
#[derive(Debug, Clone, Default)]
pub struct TelephoneEventReceiver {
    negotiated_pt: Option<u8>,
    /// Most recent press last.
    recent: Vec<Press>,
}

impl TelephoneEventReceiver {
    /// A receiver for a stream whose SDP negotiated `negotiated_pt` for telephone-event/8000.
    pub fn new(negotiated_pt: Option<u8>) -> TelephoneEventReceiver {
        TelephoneEventReceiver {
            negotiated_pt,
            recent: Vec::with_capacity(HISTORY),
        }
    }

    /// Whether this packet is a telephone-event (see [`is_dtmf_event`]); such packets carry no
    /// audio whatever happens next.
    pub fn is_event(&self, header: &RtpHeader, payload: &[u8]) -> bool {
        is_dtmf_event(self.negotiated_pt, header.payload_type, payload)
    }

    /// Feeds one packet; returns the digit on the first packet of a new press, `None` for
    /// every repeat, continuation, end packet or non-event packet.
    pub fn on_packet(&mut self, header: &RtpHeader, payload: &[u8]) -> Option<Digit> {
        if !self.is_event(header, payload) {
            return None;
        }
        let ev = TelephoneEvent::parse(payload).ok()?;
        let ts = header.timestamp;
        if let Some(p) = self
            .recent
            .iter_mut()
            .find(|p| p.timestamp == ts && p.event == ev.event)
        {
            p.duration = p.duration.max(ev.duration);
            p.ended |= ev.end;
            return None;
        }
        let continues_last = self.recent.last().is_some_and(|last| {
            // A long press split in segments: same code, starts where the last one stopped.
            !last.ended
                && last.event == ev.event
                && ts.wrapping_sub(last.timestamp) <= u32::from(last.duration) + 160
        });
        if self.recent.len() == HISTORY {
            self.recent.remove(0);
        }
        self.recent.push(Press {
            timestamp: ts,
            event: ev.event,
            duration: ev.duration,
            ended: ev.end,
        });
        if continues_last { None } else { ev.digit() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::packet::RtpPacket;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The ten packets of sipp's `/usr/share/sip-tester/dtmf_2833_1.pcap`, digit 1, PT 101.
    const SIPP_DIGIT_1: [&str; 10] = [
        "80e51f30000033e00e05384e010a0000",
        "80651f31000033e00e05384e010a0140",
        "80651f32000033e00e05384e010a0280",
        "80651f33000033e00e05384e010a03c0",
        "80651f34000033e00e05384e010a0500",
        "80651f35000033e00e05384e010a0640",
        "80651f36000033e00e05384e010a0780",
        "80651f37000033e00e05384e018a08c0",
        "80651f37000033e00e05384e018a08c0",
        "80651f37000033e00e05384e018a08c0",
    ];

    /// The same from `dtmf_2833_pound.pcap`.
    const SIPP_POUND: [&str; 4] = [
        "80e520f4000169e00e05384e0b0a0000",
        "806520f5000169e00e05384e0b0a0140",
        "806520fb000169e00e05384e0b8a08c0",
        "806520fb000169e00e05384e0b8a08c0",
    ];

    fn feed(rx: &mut TelephoneEventReceiver, packets: &[Vec<u8>]) -> String {
        packets
            .iter()
            .filter_map(|b| {
                let p = RtpPacket::parse(b).unwrap();
                rx.on_packet(&p.header, p.payload)
            })
            .map(|d| d.as_char())
            .collect()
    }

    #[test]
    fn parses_and_builds_payloads() {
        let ev = TelephoneEvent::parse(&hex("018a08c0")).unwrap();
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 1,
                end: true,
                volume: 10,
                duration: 0x08c0
            }
        );
        assert_eq!(ev.to_bytes(), [0x01, 0x8a, 0x08, 0xc0]);
        assert_eq!(ev.digit(), Digit::parse('1').ok());
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(EventError::TooShort(3))
        );
        let flash = TelephoneEvent {
            event: 16,
            end: false,
            volume: 0,
            duration: 0,
        };
        assert_eq!(flash.digit(), None);
    }

    #[test]
    fn sipp_capture_yields_each_digit_once() {
        let mut rx = TelephoneEventReceiver::new(Some(101));
        let mut packets: Vec<Vec<u8>> = SIPP_DIGIT_1.iter().map(|s| hex(s)).collect();
        packets.extend(SIPP_POUND.iter().map(|s| hex(s)));
        assert_eq!(feed(&mut rx, &packets), "1#");
        // A late copy of the first press changes nothing.
        assert_eq!(feed(&mut rx, &[hex(SIPP_DIGIT_1[9])]), "");
    }

    #[test]
    fn only_the_negotiated_pt_carries_events_and_shape_is_checked() {
        let mut rx = TelephoneEventReceiver::new(Some(101));
        // An event-shaped "5" on PT 96 when 101 was negotiated (sipp's play_dtmf, or a forger
        // guessing): not a digit. Before issue 30 any dynamic type was taken.
        assert_eq!(
            feed(&mut rx, &[hex("80e00001000000640000aaaa05000000")]),
            ""
        );
        // The same press on 101 is.
        assert_eq!(
            feed(&mut rx, &[hex("80e50001000000640000aaaa05000000")]),
            "5"
        );
        // A 101 packet of another shape (20 bytes of filler) is not an event.
        let filler = hex("80650001000000640000bbbb0000000000000000000000000000000000");
        assert_eq!(feed(&mut rx, &[filler]), "");
        // PT 0 is audio even if 4 bytes long; code 16 (flash) is not a digit.
        assert_eq!(
            feed(&mut rx, &[hex("80000002000000c80000aaaa05000000")]),
            ""
        );
        assert_eq!(
            feed(&mut rx, &[hex("80e50003000001000000aaaa10000000")]),
            ""
        );
        // Nothing negotiated: nothing is an event.
        let mut none = TelephoneEventReceiver::new(None);
        assert_eq!(
            feed(&mut none, &[hex("80e50001000000640000aaaa05000000")]),
            ""
        );
    }

    #[test]
    fn long_press_segments_and_repeated_digits() {
        let mut rx = TelephoneEventReceiver::new(Some(101));
        let pkt = |seq: u16, ts: u32, ev: u8, end: bool, dur: u16| {
            let h = RtpHeader {
                marker: false,
                payload_type: 101,
                sequence: seq,
                timestamp: ts,
                ssrc: 9,
            };
            h.to_bytes(
                &TelephoneEvent {
                    event: ev,
                    end,
                    volume: 10,
                    duration: dur,
                }
                .to_bytes(),
            )
        };
        let packets = vec![
            pkt(1, 1000, 7, false, 160),
            pkt(2, 1000, 7, false, 65535), // segment 1 at its maximum
            pkt(3, 66535, 7, false, 160),  // segment 2 continues the press
            pkt(4, 66535, 7, true, 800),
            pkt(5, 70000, 7, false, 160), // a second press of the same key
            pkt(6, 70000, 7, true, 400),
        ];
        assert_eq!(feed(&mut rx, &packets), "77");
    }
}
