//! Prompts: any WAV file hound reads, decoded once into 8 kHz mono and pre-encoded as 20 ms
//! G.711 frames in both laws, shared between calls as `Arc<Prompt>`.
//!
//! Resampling is a Blackman-windowed sinc written here rather than a crate: prompts are
//! converted once at load, so speed does not matter, and ~60 lines avoid an FFT dependency
//! tree on a shared 2-core build machine. The low-pass sits at 92 % of the output Nyquist
//! frequency (3.68 kHz) with 16 zero crossings each side: aliases are attenuated by more than
//! 70 dB, which is below G.711's own quantisation noise.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Codec;
use crate::rtp::g711;

/// Output sample rate: G.711's 8 kHz.
pub const RATE: u32 = 8000;
/// Lowest and highest input sample rates accepted.
const MIN_RATE: u32 = 4_000;
const MAX_RATE: u32 = 384_000;
/// Longest prompt accepted: ten minutes (a recorded notice is a minute or two).
const MAX_SECONDS: u64 = 600;
/// Bytes (and samples) in one 20 ms G.711 frame.
pub const FRAME: usize = 160;

/// Why a prompt could not be loaded; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The path does not resolve (missing file, permissions).
    #[error("prompt {path}: {error}")]
    Path {
        /// The path as given.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// hound could not open or decode it (not a WAV, a µ-law WAV, truncated, ...).
    #[error("prompt {path} is not a readable PCM WAV: {error}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// hound's reason.
        error: hound::Error,
    },
    /// The sample rate or length is outside what a prompt can be (a hostile or broken header
    /// could otherwise ask for gigabytes).
    #[error("prompt {path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The header is valid but there is nothing to play.
    #[error("prompt {path} holds no audio")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// One prompt, ready to send: immutable, shared by every call that plays it.
#[derive(Debug)]
pub struct Prompt {
    name: String,
    pcm: Vec<i16>,
    pcmu: Vec<u8>,
    pcma: Vec<u8>,
}

impl Prompt {
    /// Loads and converts a WAV file.
    pub fn load(path: &Path) -> Result<Prompt, PromptError> {
        let wav_err = |error| PromptError::Wav {
            path: path.to_owned(),
            error,
        };
        let reader = hound::WavReader::open(path).map_err(wav_err)?;
        let spec = reader.spec();
        let unsupported = |reason: String| PromptError::Unsupported {
            path: path.to_owned(),
            reason,
        };
        if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
            return Err(unsupported(format!(
                "sample rate {} Hz is outside {MIN_RATE}-{MAX_RATE} Hz",
                spec.sample_rate
            )));
        }
        let seconds = u64::from(reader.duration()) / u64::from(spec.sample_rate);
        if seconds > MAX_SECONDS {
            return Err(unsupported(format!(
                "{seconds} s is longer than a prompt may be ({MAX_SECONDS} s)"
            )));
        }
        let mono = read_mono(reader).map_err(wav_err)?;
        if mono.is_empty() {
            return Err(PromptError::Empty {
                path: path.to_owned(),
            });
        }
        let resampled = resample(&mono, spec.sample_rate, RATE);
        let pcm = resampled
            .iter()
            .map(|&x| (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect::<Vec<_>>();
        Ok(Prompt::from_samples(path.display().to_string(), pcm))
    }

    /// A prompt from 8 kHz mono samples (generated tones, TTS output, tests).
    pub fn from_samples(name: impl Into<String>, mut pcm: Vec<i16>) -> Prompt {
        // Whole frames only: pad the tail with silence.
        let padded = pcm.len().div_ceil(FRAME) * FRAME;
        pcm.resize(padded, 0);
        let mut pcmu = Vec::with_capacity(padded);
        let mut pcma = Vec::with_capacity(padded);
        g711::encode(Codec::Pcmu, &pcm, &mut pcmu);
        g711::encode(Codec::Pcma, &pcm, &mut pcma);
        Prompt {
            name: name.into(),
            pcm,
            pcmu,
            pcma,
        }
    }

    /// The file it came from (for logs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 8 kHz mono samples, padded to whole frames.
    pub fn samples(&self) -> &[i16] {
        &self.pcm
    }

    /// Number of 20 ms frames.
    pub fn frame_count(&self) -> usize {
        self.pcm.len() / FRAME
    }

    /// Playing time.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.frame_count() as u64 * 20)
    }

    /// Frame `index` encoded in `codec`, or `None` past the end.
    pub fn frame(&self, codec: Codec, index: usize) -> Option<&[u8]> {
        let bytes = match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        };
        bytes.get(index * FRAME..(index + 1) * FRAME)
    }
}

/// Reads every sample as f32 in [-1, 1] and averages the channels.
fn read_mono<R: std::io::Read>(reader: hound::WavReader<R>) -> Result<Vec<f32>, hound::Error> {
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect())
}

/// Zero crossings of the sinc on each side, at the lower of the two rates.
const SINC_ZEROS: f64 = 16.0;
/// Cut-off as a share of the lower Nyquist frequency.
const CUTOFF: f64 = 0.92;

/// Band-limited resampling by a Blackman-windowed sinc evaluated at each output instant.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 {
        return input.to_vec();
    }
    let ratio = f64::from(to) / f64::from(from);
    // Filter cut-off in cycles per input sample, and half-width in input samples.
    let scale = ratio.min(1.0);
    let fc = 0.5 * CUTOFF * scale;
    let half = (SINC_ZEROS / scale).ceil() as i64;
    let out_len = (input.len() as f64 * ratio).round() as usize;
    let sinc = |x: f64| {
        if x.abs() < 1e-12 {
            1.0
        } else {
            (PI * x).sin() / (PI * x)
        }
    };
    let blackman = |x: f64| {
        // x in [-1, 1]
        0.42 + 0.5 * (PI * x).cos() + 0.08 * (2.0 * PI * x).cos()
    };
    (0..out_len)
        .map(|n| {
            let t = n as f64 / ratio;
            let center = t.floor() as i64;
            let (mut acc, mut norm) = (0.0f64, 0.0f64);
            for k in (center - half + 1)..=(center + half) {
                let d = t - k as f64;
                let w = blackman((d / half as f64).clamp(-1.0, 1.0));
                let h = 2.0 * fc * sinc(2.0 * fc * d) * w;
                norm += h;
                if let Some(&x) = usize::try_from(k).ok().and_then(|i| input.get(i)) {
                    acc += f64::from(x) * h;
                }
            }
            // Normalising by the kernel sum keeps DC gain exactly 1 at every phase.
            (acc / norm) as f32
        })
        .collect()
}

/// Prompts loaded so far, by canonical path: each file is read and encoded once per process.
#[derive(Debug, Default)]
pub struct PromptLibrary {
    cache: Mutex<HashMap<PathBuf, Arc<Prompt>>>,
}

impl PromptLibrary {
    /// An empty library.
    pub fn new() -> PromptLibrary {
        PromptLibrary::default()
    }

    /// The prompt at `path`, loading it on first use. `a/../b.wav` and `b.wav` share one entry.
    pub fn get(&self, path: impl AsRef<Path>) -> Result<Arc<Prompt>, PromptError> {
        let path = path.as_ref();
        let canonical = path.canonicalize().map_err(|error| PromptError::Path {
            path: path.to_owned(),
            error,
        })?;
        if let Some(p) = self.lock().get(&canonical) {
            return Ok(Arc::clone(p));
        }
        // Loaded outside the lock: a slow file does not stall other calls. Two racing loads
        // of one file both succeed and the first insert wins.
        let prompt = Arc::new(Prompt::load(&canonical)?);
        Ok(Arc::clone(self.lock().entry(canonical).or_insert(prompt)))
    }

    /// How many prompts are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing has been loaded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Prompt>>> {
        // A panic while holding the lock leaves the map consistent (insert is atomic).
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rtp::inband;

    /// Writes a `seconds`-long sine at `freq` Hz to a WAV of the given shape; test helper
    /// shared with the engine tests.
    pub(crate) fn write_tone_wav(
        path: &Path,
        rate: u32,
        channels: u16,
        format: hound::SampleFormat,
        bits: u16,
        freq: f64,
        seconds: f64,
    ) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        let n = (f64::from(rate) * seconds) as usize;
        for i in 0..n {
            let v = 0.5 * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin();
            for _ in 0..channels {
                match format {
                    hound::SampleFormat::Float => w.write_sample(v as f32).unwrap(),
                    hound::SampleFormat::Int => {
                        let full = f64::from((1u32 << (bits - 1)) - 1);
                        w.write_sample((v * full) as i32).unwrap()
                    }
                }
            }
        }
        w.finalize().unwrap();
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    /// Zero crossings per second, a crude frequency meter.
    fn frequency(s: &[i16]) -> f64 {
        let crossings = s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        crossings as f64 / 2.0 / (s.len() as f64 / f64::from(RATE))
    }

    #[test]
    fn loads_every_wav_shape_to_8k_mono() {
        let dir = tempfile::tempdir().unwrap();
        let shapes = [
            (16000, 2, hound::SampleFormat::Int, 16),
            (44100, 1, hound::SampleFormat::Int, 24),
            (48000, 2, hound::SampleFormat::Float, 32),
            (8000, 1, hound::SampleFormat::Int, 8),
            (22050, 3, hound::SampleFormat::Int, 32),
        ];
        for (rate, ch, fmt, bits) in shapes {
            let path = dir.path().join(format!("tone-{rate}-{ch}-{bits}.wav"));
            write_tone_wav(&path, rate, ch, fmt, bits, 1000.0, 0.5);
            let p = Prompt::load(&path).unwrap();
            assert_eq!(p.frame_count(), 25, "{rate} Hz");
            assert_eq!(p.duration(), Duration::from_millis(500));
            let body = &p.samples()[800..3200];
            let level = rms(body);
            // 0.5 of full scale -> rms 0.5 / sqrt 2 * 32767 = 11585.
            assert!(
                (level - 11585.0).abs() < 300.0,
                "{rate} Hz {bits} bits: rms {level}"
            );
            let f = frequency(body);
            assert!((f - 1000.0).abs() < 10.0, "{rate} Hz: {f} Hz");
            assert_eq!(p.frame(Codec::Pcmu, 24).unwrap().len(), 160);
            assert!(p.frame(Codec::Pcma, 25).is_none());
        }
    }

    #[test]
    fn frames_are_the_g711_of_the_samples() {
        let p = Prompt::from_samples(
            "t",
            inband::dtmf_tone(crate::Digit::parse('5').unwrap(), 0, 200, 4000.0),
        );
        assert_eq!(p.frame_count(), 2);
        let mut decoded = Vec::new();
        g711::decode(Codec::Pcma, p.frame(Codec::Pcma, 0).unwrap(), &mut decoded);
        for (a, b) in decoded.iter().zip(p.samples()) {
            // G.711 keeps about 5 significant bits: error under 1/16 of the value.
            assert!((i32::from(*a) - i32::from(*b)).abs() <= (i32::from(*b).abs() / 16).max(16));
        }
        // The padding of the second frame is silence.
        assert_eq!(p.frame(Codec::Pcmu, 1).unwrap()[159], g711::ULAW_SILENCE);
    }

    #[test]
    fn resampling_removes_what_8k_cannot_carry() {
        // A 6 kHz tone at 16 kHz is above the 4 kHz Nyquist: it must vanish, not alias to 2 kHz.
        let input: Vec<f32> = (0..16000)
            .map(|i| 0.5 * (2.0 * PI as f32 * 6000.0 * i as f32 / 16000.0).sin())
            .collect();
        let out = resample(&input, 16000, 8000);
        assert_eq!(out.len(), 8000);
        let level = (out[400..7600].iter().map(|x| x * x).sum::<f32>() / 7200.0).sqrt();
        assert!(level < 0.001, "alias rms {level}");
        // DC passes unchanged.
        let dc = resample(&[0.25; 4410], 44100, 8000);
        assert!(dc[100..700].iter().all(|x| (x - 0.25).abs() < 1e-4));
    }

    #[test]
    fn library_caches_by_canonical_path_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.wav");
        write_tone_wav(&path, 8000, 1, hound::SampleFormat::Int, 16, 440.0, 0.1);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let lib = PromptLibrary::new();
        let a = lib.get(&path).unwrap();
        let b = lib.get(dir.path().join("sub/../hello.wav")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(lib.len(), 1);

        let missing = lib.get(dir.path().join("nope.wav")).unwrap_err();
        assert!(matches!(missing, PromptError::Path { .. }));
        assert!(missing.to_string().contains("nope.wav"));
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"this is not a wav file").unwrap();
        let err = lib.get(&junk).unwrap_err();
        assert!(matches!(err, PromptError::Wav { .. }));
        assert!(err.to_string().contains("junk.wav"), "{err}");
        let empty = dir.path().join("empty.wav");
        write_tone_wav(&empty, 8000, 1, hound::SampleFormat::Int, 16, 440.0, 0.0);
        assert!(matches!(lib.get(&empty), Err(PromptError::Empty { .. })));
    }
}
