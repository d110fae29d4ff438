//! G.711 (ITU-T, 1972): µ-law (PCMU) and A-law (PCMA) companding of 16-bit linear PCM.
//!
//! Decode and transcoding are 256-entry tables computed at compile time; encode is the classic
//! segment search (a few shifts per sample). Bit patterns follow the reference `g711.c`
//! (Sun Microsystems, public domain): µ-law with bias 0x84 and clip 32635, A-law on the 13-bit
//! magnitude with even bits inverted (XOR 0x55).

use crate::Codec;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// µ-law code of silence (decodes to 0).
pub const ULAW_SILENCE: u8 = 0xff;
/// A-law code of silence (decodes to +8, the smallest step).
pub const ALAW_SILENCE: u8 = 0xd5;

/// Encodes one linear sample to µ-law.
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    if pcm > ULAW_CLIP {
        pcm = ULAW_CLIP;
    }
    pcm += ULAW_BIAS;
    // Exponent: position of the highest set bit above bit 7 (0..=7).
    let mut exponent = 7;
    while exponent > 0 && pcm & (0x80 << exponent) == 0 {
        exponent -= 1;
    }
    let mantissa = (pcm >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

const fn ulaw_to_linear_calc(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one linear sample to A-law.
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3; // 13-bit
    let mask = if pcm >= 0 {
        0xd5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // Segment ends of the 13-bit magnitude: 0x1f, 0x3f, ... 0xfff.
    let mut seg = 0;
    while seg < 8 && pcm > (0x20 << seg) - 1 {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let mantissa = if seg < 2 {
        (pcm >> 1) & 0x0f
    } else {
        (pcm >> seg) & 0x0f
    };
    ((seg << 4) as u8 | mantissa as u8) ^ mask
}

const fn alaw_to_linear_calc(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

const fn decode_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_to_linear_calc(i as u8)
        } else {
            ulaw_to_linear_calc(i as u8)
        };
        i += 1;
    }
    table
}

const fn transcode_table(from_alaw: bool) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if from_alaw {
            linear_to_ulaw(ALAW_TO_LINEAR[i])
        } else {
            linear_to_alaw(ULAW_TO_LINEAR[i])
        };
        i += 1;
    }
    table
}

/// µ-law code → linear sample.
pub static ULAW_TO_LINEAR: [i16; 256] = decode_table(false);
/// A-law code → linear sample.
pub static ALAW_TO_LINEAR: [i16; 256] = decode_table(true);
static ULAW_TO_ALAW: [u8; 256] = transcode_table(false);
static ALAW_TO_ULAW: [u8; 256] = transcode_table(true);

/// Decodes one µ-law byte.
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// Decodes one A-law byte.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

/// Encodes linear samples in `codec`, appending to `out`.
pub fn encode(codec: Codec, samples: &[i16], out: &mut Vec<u8>) {
    match codec {
        Codec::Pcmu => out.extend(samples.iter().map(|&s| linear_to_ulaw(s))),
        Codec::Pcma => out.extend(samples.iter().map(|&s| linear_to_alaw(s))),
    }
}

/// Decodes `codec` bytes, appending linear samples to `out`.
pub fn decode(codec: Codec, bytes: &[u8], out: &mut Vec<i16>) {
    let table = match codec {
        Codec::Pcmu => &ULAW_TO_LINEAR,
        Codec::Pcma => &ALAW_TO_LINEAR,
    };
    out.extend(bytes.iter().map(|&b| table[usize::from(b)]));
}

/// Re-encodes a payload from one G.711 law to the other in place (a bridge between a PCMU
/// trunk and a PCMA phone); a no-op when the codecs agree.
pub fn transcode(from: Codec, to: Codec, bytes: &mut [u8]) {
    let table = match (from, to) {
        (Codec::Pcmu, Codec::Pcma) => &ULAW_TO_ALAW,
        (Codec::Pcma, Codec::Pcmu) => &ALAW_TO_ULAW,
        _ => return,
    };
    for b in bytes {
        *b = table[usize::from(*b)];
    }
}

/// The silence byte of a codec (what a gap in a recording or bridge is filled with).
pub fn silence(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => ULAW_SILENCE,
        Codec::Pcma => ALAW_SILENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ulaw_values() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xfe), 8); // the smallest positive step
        assert_eq!(ulaw_to_linear(0x7e), -8);
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
    }

    #[test]
    fn every_code_round_trips_through_linear() {
        for code in 0..=255u8 {
            let u = ulaw_to_linear(code);
            // 0x7f and 0xff both mean zero; zero encodes as 0xff.
            let expected = if code == 0x7f { 0xff } else { code };
            assert_eq!(linear_to_ulaw(u), expected, "µ-law {code:#04x} -> {u}");
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn encode_error_stays_within_half_a_step() {
        for s in (-32768i32..=32767).step_by(7) {
            let s = s as i16;
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(s)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(s)));
            let s = i32::from(s).clamp(-32124, 32124);
            // The largest segment step is 1024 (µ-law) / 1024 (A-law).
            assert!((u - s).abs() <= 1100, "µ-law {s} -> {u}");
            assert!((a - s).abs() <= 1100, "A-law {s} -> {a}");
        }
    }

    #[test]
    fn transcoding_keeps_silence_and_level() {
        let mut bytes = [ULAW_SILENCE, 0x80, 0x00];
        transcode(Codec::Pcmu, Codec::Pcma, &mut bytes);
        assert_eq!(bytes[0], linear_to_alaw(0));
        assert_eq!(bytes, [0xd5, 0xaa, 0x2a]);
        transcode(Codec::Pcma, Codec::Pcmu, &mut bytes);
        // A-law has no zero: its quietest code (+8) becomes µ-law's +8.
        assert_eq!(bytes, [0xfe, 0x80, 0x00]);
        let mut out = Vec::new();
        decode(Codec::Pcma, &[0xd5, 0x55], &mut out);
        assert_eq!(out, vec![8, -8]);
    }
}
