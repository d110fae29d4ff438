//! One key press can reach us up to three ways: RFC 4733 events, a SIP INFO, and tones left in
//! the audio. [`DigitDeduper`] reports it once.
//!
//! Rule: each source already reports a press once (see [`super::dtmf`], [`super::inband`]), so
//! a digit is a duplicate only when the *same digit* came from a *different source* within the
//! window and that earlier report has not already absorbed a copy from this source. So "11"
//! typed quickly over RFC 4733 is two presses, and its in-band echo of each is merged with the
//! matching one, in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Digit;

/// Where a digit was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigitSource {
    /// An RFC 4733 telephone-event in the RTP stream.
    Rfc4733,
    /// A SIP INFO request (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// DTMF tones detected in the audio.
    InBand,
}

impl DigitSource {
    fn bit(self) -> u8 {
        match self {
            DigitSource::Rfc4733 => 1,
            DigitSource::SipInfo => 2,
            DigitSource::InBand => 4,
        }
    }
}

/// A reported digit and the sources merged into it.
#[derive(Debug, Clone, Copy)]
struct Reported {
    digit: Digit,
    at: Instant,
    sources: u8,
}

/// Merges digits from several sources; time is passed in, no clock is read.
#[derive(Debug, Clone)]
pub struct DigitDeduper {
    window: Duration,
    recent: VecDeque<Reported>,
}

impl DigitDeduper {
    /// A deduper treating copies up to `window` apart as one press (the engine uses 800 ms:
    /// a SIP INFO may trail the RTP by a signalling round trip).
    pub fn new(window: Duration) -> DigitDeduper {
        DigitDeduper {
            window,
            recent: VecDeque::new(),
        }
    }

    /// Offers a digit heard at `now`; returns `true` if it is a new press to report.
    pub fn offer(&mut self, digit: Digit, source: DigitSource, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|r| now.saturating_duration_since(r.at) > self.window)
        {
            self.recent.pop_front();
        }
        let bit = source.bit();
        let earlier = self
            .recent
            .iter_mut()
            .find(|r| r.digit == digit && r.sources & bit == 0);
        match earlier {
            Some(r) => {
                r.sources |= bit;
                false
            }
            None => {
                self.recent.push_back(Reported {
                    digit,
                    at: now,
                    sources: bit,
                });
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digit {
        Digit::parse(c).unwrap()
    }

    #[test]
    fn one_press_heard_three_ways_is_reported_once() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut dd = DigitDeduper::new(Duration::from_millis(800));
        assert!(dd.offer(d('5'), DigitSource::Rfc4733, ms(0)));
        assert!(!dd.offer(d('5'), DigitSource::InBand, ms(40)));
        assert!(!dd.offer(d('5'), DigitSource::SipInfo, ms(300)));
        // Another key is another press.
        assert!(dd.offer(d('6'), DigitSource::InBand, ms(350)));
        // Outside the window the same key is a new press.
        assert!(dd.offer(d('5'), DigitSource::SipInfo, ms(1200)));
    }

    #[test]
    fn quick_repeats_pair_up_in_order() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut dd = DigitDeduper::new(Duration::from_millis(800));
        assert!(dd.offer(d('1'), DigitSource::Rfc4733, ms(0)));
        assert!(dd.offer(d('1'), DigitSource::Rfc4733, ms(200)));
        assert!(!dd.offer(d('1'), DigitSource::SipInfo, ms(400)));
        assert!(!dd.offer(d('1'), DigitSource::SipInfo, ms(600)));
        // A third INFO has no RTP counterpart left: a real press.
        assert!(dd.offer(d('1'), DigitSource::SipInfo, ms(700)));
    }
}
