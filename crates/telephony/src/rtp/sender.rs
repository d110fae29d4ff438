//! The state of one outgoing RTP stream: SSRC, sequence number, timestamp, marker bit, and
//! RFC 4733 digits in flight. The engine calls [`RtpSender::tick`] once per 20 ms frame.
//!
//! - The timestamp advances by 160 (20 ms at 8 kHz) every tick, sent or not, so it follows the
//!   sender's clock across silences; the marker bit is set on the first audio packet after
//!   a tick without audio (start of a talk-spurt, RFC 3551 §4.1).
//! - A digit is sent as RFC 4733 packets replacing the audio: the first has the marker bit and
//!   the event's timestamp, the next ones the same timestamp and growing durations, the last
//!   three repeat the final duration with the end bit (each with its own sequence number).
//!   Digits are separated by a gap of audio.

use std::collections::VecDeque;

use crate::{Codec, Digit};

use super::dtmf::TelephoneEvent;
use super::packet::RtpHeader;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: u32 = 160;
/// Longest digit sent, so one event never needs RFC 4733 segmenting (5 s).
pub const MAX_DIGIT_MS: u32 = 5000;
/// Volume field of the events we send (-10 dBm0, what phones use).
const EVENT_VOLUME: u8 = 10;

/// What one tick put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The audio frame given.
    Audio,
    /// Telephone-event packets instead of the audio.
    Event,
    /// Nothing (no audio given and no digit due).
    Nothing,
}

/// A digit being sent.
#[derive(Debug, Clone, Copy)]
struct EventOut {
    digit: Digit,
    timestamp: u32,
    elapsed: u32,
    length: u32,
}

/// Outgoing stream state; sans-IO: packets are handed to a callback.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    codec: Codec,
    event_pt: Option<u8>,
    talking: bool,
    digits: VecDeque<(Digit, u32)>,
    gap_ticks: u32,
    gap_left: u32,
    current: Option<EventOut>,
    scratch: Vec<u8>,
}

impl RtpSender {
    /// A stream with a caller-chosen random SSRC, first sequence number and first timestamp
    /// (RFC 3550 wants all three random), sending `codec` and events with `event_pt`.
    pub fn new(
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        codec: Codec,
        event_pt: Option<u8>,
    ) -> Self {
        RtpSender {
            ssrc,
            sequence,
            timestamp,
            codec,
            event_pt,
            talking: false,
            digits: VecDeque::new(),
            gap_ticks: 5,
            gap_left: 0,
            current: None,
            scratch: Vec::with_capacity(12 + 160),
        }
    }

    /// The SSRC of the stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The codec the audio frames are in.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Changes codec and event payload type (a re-INVITE); the stream continues.
    pub fn renegotiate(&mut self, codec: Codec, event_pt: Option<u8>) {
        self.codec = codec;
        self.event_pt = event_pt;
    }

    /// Queues digits to send as RFC 4733 events, each `duration_ms` long (capped at
    /// [`MAX_DIGIT_MS`], at least one frame) with `gap_ms` of audio between them.
    /// Returns `false` (and queues nothing) when no telephone-event type was negotiated.
    pub fn queue_digits(&mut self, digits: &[Digit], duration_ms: u32, gap_ms: u32) -> bool {
        if self.event_pt.is_none() {
            return false;
        }
        let frames = duration_ms.clamp(20, MAX_DIGIT_MS).div_ceil(20);
        self.digits
            .extend(digits.iter().map(|&d| (d, frames * FRAME_SAMPLES)));
        self.gap_ticks = gap_ms.div_ceil(20);
        true
    }

    /// Whether digits are queued or being sent.
    pub fn sending_digits(&self) -> bool {
        self.current.is_some() || !self.digits.is_empty()
    }

    /// One 20 ms frame time: sends an event packet (or the three end packets) when a digit is
    /// due, otherwise `audio` if given; then advances the timestamp by 160.
    pub fn tick(&mut self, audio: Option<&[u8]>, mut emit: impl FnMut(&[u8])) -> Sent {
        let sent = if self.tick_event(&mut emit) {
            Sent::Event
        } else if let Some(frame) = audio {
            let marker = !self.talking;
            self.talking = true;
            self.write(
                marker,
                self.codec.payload_type(),
                self.timestamp,
                frame,
                &mut emit,
            );
            Sent::Audio
        } else {
            self.talking = false;
            Sent::Nothing
        };
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES);
        sent
    }

    /// Sends this tick's event packets, if a digit is in flight or due; `true` if it did.
    fn tick_event(&mut self, emit: &mut impl FnMut(&[u8])) -> bool {
        let Some(pt) = self.event_pt else {
            return false;
        };
        if self.current.is_none() {
            if self.gap_left > 0 {
                self.gap_left -= 1;
                return false;
            }
            let Some((digit, length)) = self.digits.pop_front() else {
                return false;
            };
            self.current = Some(EventOut {
                digit,
                timestamp: self.timestamp,
                elapsed: 0,
                length,
            });
        }
        let Some(mut ev) = self.current else {
            return false;
        };
        let first = ev.elapsed == 0;
        ev.elapsed += FRAME_SAMPLES;
        let end = ev.elapsed >= ev.length;
        let payload = TelephoneEvent {
            event: ev.digit.event(),
            end,
            volume: EVENT_VOLUME,
            duration: u16::try_from(ev.elapsed).unwrap_or(u16::MAX),
        }
        .to_bytes();
        let copies = if end { 3 } else { 1 };
        for _ in 0..copies {
            self.write(first, pt, ev.timestamp, &payload, emit);
        }
        if end {
            self.current = None;
            self.gap_left = self.gap_ticks;
        } else {
            self.current = Some(ev);
        }
        true
    }

    fn write(
        &mut self,
        marker: bool,
        pt: u8,
        ts: u32,
        payload: &[u8],
        emit: &mut impl FnMut(&[u8]),
    ) {
        let header = RtpHeader {
            marker,
            payload_type: pt,
            sequence: self.sequence,
            timestamp: ts,
            ssrc: self.ssrc,
        };
        header.write(payload, &mut self.scratch);
        self.sequence = self.sequence.wrapping_add(1);
        emit(&self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::dtmf::TelephoneEventReceiver;
    use crate::rtp::packet::RtpPacket;

    fn run(s: &mut RtpSender, audio: Option<&[u8]>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        s.tick(audio, |p| out.push(p.to_vec()));
        out
    }

    #[test]
    fn audio_stream_numbers_and_marks_talk_spurts() {
        let mut s = RtpSender::new(0x1234_5678, 65534, 4_294_967_000, Codec::Pcma, None);
        let frame = [0xd5u8; 160];
        let a = run(&mut s, Some(&frame));
        assert_eq!(a.len(), 1);
        assert_eq!(
            &a[0][..12],
            &[
                0x80, 0x88, 0xff, 0xfe, 0xff, 0xff, 0xfe, 0xd8, 0x12, 0x34, 0x56, 0x78
            ]
        );
        let b = RtpPacket::parse(&run(&mut s, Some(&frame))[0])
            .unwrap()
            .header;
        assert!(!b.marker);
        assert_eq!((b.sequence, b.timestamp), (65535, 4_294_967_160));
        assert!(run(&mut s, None).is_empty()); // silence suppressed: ts still moves
        let c = RtpPacket::parse(&run(&mut s, Some(&frame))[0])
            .unwrap()
            .header;
        assert!(c.marker);
        assert_eq!(
            (c.sequence, c.timestamp),
            (0, 4_294_967_000u32.wrapping_add(480))
        );
    }

    #[test]
    fn digits_go_out_as_rfc4733_and_come_back_once_each() {
        let mut s = RtpSender::new(7, 100, 8000, Codec::Pcmu, Some(101));
        assert!(s.queue_digits(&Digit::parse_all("1#1").unwrap(), 60, 40));
        let frame = [0xffu8; 160];
        let mut packets = Vec::new();
        for _ in 0..40 {
            packets.extend(run(&mut s, Some(&frame)));
        }
        assert!(!s.sending_digits());
        let events: Vec<_> = packets
            .iter()
            .map(|b| RtpPacket::parse(b).unwrap())
            .filter(|p| p.header.payload_type == 101)
            .collect();
        // Per digit: 2 continuation packets + 3 end packets.
        assert_eq!(events.len(), 15);
        let first = TelephoneEvent::parse(events[0].payload).unwrap();
        assert!(events[0].header.marker && !first.end && first.duration == 160);
        let ends: Vec<_> = events[2..5]
            .iter()
            .map(|p| TelephoneEvent::parse(p.payload).unwrap())
            .collect();
        assert!(
            ends.iter()
                .all(|e| e.end && e.duration == 480 && e.event == 1)
        );
        assert!(events[..5].iter().all(|p| p.header.timestamp == 8000));
        // Sequence numbers never repeat, across audio and events.
        let seqs: Vec<u16> = packets
            .iter()
            .map(|b| RtpPacket::parse(b).unwrap().header.sequence)
            .collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        let mut rx = TelephoneEventReceiver::new(Some(101));
        let heard: String = events
            .iter()
            .filter_map(|p| rx.on_packet(&p.header, p.payload))
            .map(|d| d.as_char())
            .collect();
        assert_eq!(heard, "1#1");
    }

    #[test]
    fn no_event_type_means_no_digits() {
        let mut s = RtpSender::new(7, 0, 0, Codec::Pcmu, None);
        assert!(!s.queue_digits(&Digit::parse_all("1").unwrap(), 100, 100));
        assert!(!s.sending_digits());
    }
}
