//! In-band DTMF: a Goertzel detector on 8 kHz linear PCM, for trunks that leave the tones in
//! the audio instead of sending RFC 4733 events; and the tone generator used to send them.
//!
//! The signal is cut in 20 ms blocks (160 samples, one G.711 frame). A block holds a digit when
//! - the strongest row tone and the strongest column tone are each at least [`MIN_TONE_AMPLITUDE`],
//! - each beats the other tones of its group by 8 dB (rejects speech and chords),
//! - the twist (row/column level ratio) is within 8 dB,
//! - the two tones carry at least 60 % of the block's energy (rejects noise and voice),
//! - both halves of the block hold energy (the tone lasts the whole block).
//!
//! A digit is reported when two consecutive blocks agree, and not again until a block without
//! it has been seen: one press, one report. So tones of 60 ms or more are always heard, 40-60 ms
//! depending on alignment, under 40 ms never (ITU-T Q.24 asks for 40 ms).

use std::f32::consts::PI;

use crate::Digit;

/// Samples per analysis block: 20 ms at 8 kHz.
pub const BLOCK: usize = 160;
/// Weakest tone detected, as a peak amplitude (about -36 dBm0).
pub const MIN_TONE_AMPLITUDE: f32 = 250.0;

const RATE: f32 = 8000.0;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Power ratio of the winning tone over the runner-up in its group (8 dB).
const GROUP_MARGIN: f32 = 6.3;
/// Largest allowed power ratio between the row and column tones (8 dB).
const MAX_TWIST: f32 = 6.3;
/// Share of the block energy the two tones must hold.
const MIN_TONE_SHARE: f32 = 0.6;
/// Share of the block energy each half must hold (the tone lasts the whole block).
const MIN_HALF_SHARE: f32 = 0.4;

/// Goertzel power of `samples` at `freq`, scaled so a sine of amplitude `a` gives `a² / 2`.
fn tone_power(samples: &[f32], freq: f32) -> f32 {
    let coeff = 2.0 * (2.0 * PI * freq / RATE).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f32;
    2.0 * mag2 / (n * n)
}

/// The strongest tone of a group, its power, and whether it beats the others by the margin.
fn strongest(samples: &[f32], freqs: &[f32; 4]) -> (usize, f32, bool) {
    let powers = freqs.map(|f| tone_power(samples, f));
    let (best, &p) = powers
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or((0, &0.0));
    let clear = powers
        .iter()
        .enumerate()
        .all(|(i, &q)| i == best || q * GROUP_MARGIN <= p);
    (best, p, clear)
}

/// The digit in one block, if the block passes every check.
pub fn detect_block(block: &[i16; BLOCK]) -> Option<Digit> {
    let samples: [f32; BLOCK] = block.map(f32::from);
    let half_energy = |h: &[f32]| h.iter().map(|x| x * x).sum::<f32>();
    let (first, second) = (
        half_energy(&samples[..BLOCK / 2]),
        half_energy(&samples[BLOCK / 2..]),
    );
    let energy = (first + second) / BLOCK as f32;
    // A tone that starts or stops inside the block is not a whole block of tone.
    let steady = first.min(second) >= MIN_HALF_SHARE * (first + second);
    let min_power = MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE / 2.0;
    if !steady || energy < 2.0 * min_power {
        return None; // silence or a tone edge: skip the eight filters (most blocks)
    }
    let (row, row_p, row_clear) = strongest(&samples, &ROWS);
    let (col, col_p, col_clear) = strongest(&samples, &COLS);
    let ok = steady
        && row_p >= min_power
        && col_p >= min_power
        && row_clear
        && col_clear
        && row_p <= col_p * MAX_TWIST
        && col_p <= row_p * MAX_TWIST
        && row_p + col_p >= MIN_TONE_SHARE * energy;
    if ok {
        Digit::parse(KEYS[row][col]).ok()
    } else {
        None
    }
}

/// Streaming detector: feed decoded audio of any length, get each press once.
#[derive(Debug, Clone)]
pub struct InBandDetector {
    block: [i16; BLOCK],
    fill: usize,
    /// The digit of the previous block.
    previous: Option<Digit>,
    /// The digit already reported for the current press.
    reported: Option<Digit>,
}

impl Default for InBandDetector {
    fn default() -> Self {
        InBandDetector::new()
    }
}

impl InBandDetector {
    /// A detector with nothing heard yet.
    pub fn new() -> InBandDetector {
        InBandDetector {
            block: [0; BLOCK],
            fill: 0,
            previous: None,
            reported: None,
        }
    }

    /// Feeds samples; calls `on_digit` once per press, 40 ms after the tone starts.
    pub fn push(&mut self, mut samples: &[i16], mut on_digit: impl FnMut(Digit)) {
        while !samples.is_empty() {
            let take = (BLOCK - self.fill).min(samples.len());
            self.block[self.fill..self.fill + take].copy_from_slice(&samples[..take]);
            self.fill += take;
            samples = &samples[take..];
            if self.fill == BLOCK {
                self.fill = 0;
                let digit = detect_block(&self.block);
                if let Some(d) = digit.filter(|_| digit == self.previous && digit != self.reported)
                {
                    self.reported = digit;
                    on_digit(d);
                }
                if digit != self.reported {
                    self.reported = None;
                }
                self.previous = digit;
            }
        }
    }
}

/// Generates `len` samples of the dual tone of `digit` starting at sample `offset` (so tones
/// can be produced frame by frame without phase jumps), each tone at `amplitude`.
pub fn dtmf_tone(digit: Digit, offset: usize, len: usize, amplitude: f32) -> Vec<i16> {
    let i = KEYS
        .iter()
        .flatten()
        .position(|&c| c == digit.as_char())
        .unwrap_or(0);
    let (fr, fc) = (ROWS[i / 4], COLS[i % 4]);
    (offset..offset + len)
        .map(|n| {
            let t = n as f32 / RATE;
            let v = amplitude * ((2.0 * PI * fr * t).sin() + (2.0 * PI * fc * t).sin());
            v.clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;
    use crate::rtp::g711;

    fn detect_all(samples: &[i16]) -> String {
        let mut det = InBandDetector::new();
        let mut out = String::new();
        // Feed in odd-sized chunks to exercise the block assembly.
        for chunk in samples.chunks(97) {
            det.push(chunk, |d| out.push(d.as_char()));
        }
        out
    }

    fn press(keys: &str, on_ms: usize, off_ms: usize, amplitude: f32) -> Vec<i16> {
        let mut s = Vec::new();
        for c in keys.chars() {
            s.extend(dtmf_tone(Digit::parse(c).unwrap(), 0, on_ms * 8, amplitude));
            s.extend(std::iter::repeat_n(0, off_ms * 8));
        }
        s
    }

    #[test]
    fn every_key_is_detected_once() {
        let keys = "0123456789*#ABCD";
        assert_eq!(detect_all(&press(keys, 100, 60, 8000.0)), keys);
    }

    #[test]
    fn survives_g711_and_offset_phase() {
        let mut s = vec![0i16; 37];
        s.extend(press("19#", 60, 60, 3000.0));
        let mut bytes = Vec::new();
        g711::encode(Codec::Pcma, &s, &mut bytes);
        let mut decoded = Vec::new();
        g711::decode(Codec::Pcma, &bytes, &mut decoded);
        assert_eq!(detect_all(&decoded), "19#");
    }

    #[test]
    fn repeated_key_needs_a_gap_and_long_press_is_one() {
        assert_eq!(detect_all(&press("55", 80, 50, 5000.0)), "55");
        assert_eq!(detect_all(&press("5", 2000, 0, 5000.0)), "5");
    }

    #[test]
    fn rejects_short_weak_single_and_noisy_signals() {
        // 20 or 30 ms is too short to be a press, wherever the tone falls in the blocks.
        assert_eq!(detect_all(&press("1", 20, 40, 8000.0)), "");
        for offset in [0, 37, 80, 150] {
            let mut s = vec![0i16; offset];
            s.extend(press("1", 30, 40, 8000.0));
            assert_eq!(detect_all(&s), "", "offset {offset}");
        }
        assert_eq!(detect_all(&press("1", 100, 40, 100.0)), "");
        // A single 697 Hz tone is not a digit.
        let single: Vec<i16> = (0..1600)
            .map(|n| (8000.0 * (2.0 * PI * 697.0 * n as f32 / RATE).sin()) as i16)
            .collect();
        assert_eq!(detect_all(&single), "");
        // A tone pair buried in pseudo-random noise of equal power fails the energy share.
        let mut x: u32 = 12345;
        let noisy: Vec<i16> = press("3", 200, 0, 3000.0)
            .iter()
            .map(|&s| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                s.saturating_add((x >> 16) as i16 >> 2)
            })
            .collect();
        assert_eq!(detect_all(&noisy), "");
    }
}
