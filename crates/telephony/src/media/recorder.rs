//! Call recording: one WAV per leg, **8 kHz, 16-bit PCM, 2 channels: left = what the far end
//! said (received), right = what we sent** (prompts, bridged audio, silence). Two channels
//! rather than a mix so a reviewer can hear either side alone, and a mix is one `sox` away.
//!
//! Time is the sender's 20 ms tick: each tick writes one frame of both channels. Received
//! audio is queued by RTP timestamp: lost packets become silence of the right length, late or
//! repeated ones are dropped, bursts are smoothed (up to 200 ms buffered), and a tick with
//! nothing received records silence. The file is finalised (header lengths written) by
//! [`CallRecorder::finalize`], which the engine calls when the leg closes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Most received audio kept waiting for a tick (200 ms); older samples are dropped.
const MAX_QUEUED: usize = 1600;
/// Largest timestamp jump filled with silence (1 s); beyond that the stream restarted.
const MAX_GAP: u32 = 8000;

/// Why recording failed; names the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Creating or writing the WAV failed.
    #[error("recording {path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// hound's (or the OS's) reason.
        source: hound::Error,
    },
}

/// A stereo recording in progress.
pub struct CallRecorder {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    received: VecDeque<i16>,
    next_timestamp: Option<u32>,
}

impl std::fmt::Debug for CallRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRecorder")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CallRecorder {
    /// Creates (truncates) the WAV file.
    pub fn create(path: &Path) -> Result<CallRecorder, RecordError> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(|source| RecordError::Wav {
            path: path.to_owned(),
            source,
        })?;
        Ok(CallRecorder {
            path: path.to_owned(),
            writer,
            received: VecDeque::with_capacity(MAX_QUEUED),
            next_timestamp: None,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues decoded audio received with RTP `timestamp` (8 kHz units).
    pub fn push_received(&mut self, timestamp: u32, samples: &[i16]) {
        if let Some(expected) = self.next_timestamp {
            let ahead = timestamp.wrapping_sub(expected);
            if ahead > u32::MAX / 2 {
                return; // late or duplicate
            }
            if ahead <= MAX_GAP {
                self.received.extend(std::iter::repeat_n(0, ahead as usize));
            }
        }
        self.received.extend(samples);
        let excess = self.received.len().saturating_sub(MAX_QUEUED);
        self.received.drain(..excess);
        self.next_timestamp = Some(timestamp.wrapping_add(samples.len() as u32));
    }

    /// Writes one tick: `sent.len()` stereo samples, left from the received queue (silence
    /// when empty), right = `sent`.
    pub fn write_tick(&mut self, sent: &[i16]) -> Result<(), RecordError> {
        for &right in sent {
            let left = self.received.pop_front().unwrap_or(0);
            self.write(left)?;
            self.write(right)?;
        }
        Ok(())
    }

    fn write(&mut self, sample: i16) -> Result<(), RecordError> {
        self.writer
            .write_sample(sample)
            .map_err(|source| RecordError::Wav {
                path: self.path.clone(),
                source,
            })
    }

    /// Writes the WAV header lengths and closes the file.
    pub fn finalize(self) -> Result<(), RecordError> {
        let path = self.path;
        self.writer
            .finalize()
            .map_err(|source| RecordError::Wav { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_both_sides_with_gaps_as_silence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        let mut rec = CallRecorder::create(&path).unwrap();
        rec.push_received(1000, &[1; 160]);
        rec.write_tick(&[-1; 160]).unwrap();
        // Packet at 1160 lost; 1320 arrives: 160 samples of silence first.
        rec.push_received(1320, &[3; 160]);
        rec.push_received(1160, &[2; 160]); // late: dropped
        rec.write_tick(&[-2; 160]).unwrap();
        rec.write_tick(&[-3; 160]).unwrap();
        rec.write_tick(&[-4; 160]).unwrap(); // nothing received: silence
        rec.finalize().unwrap();

        let mut r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.spec().sample_rate, 8000);
        let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(s.len(), 4 * 160 * 2);
        let left: Vec<i16> = s.iter().step_by(2).copied().collect();
        let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
        assert!(left[..160].iter().all(|&x| x == 1));
        assert!(left[160..320].iter().all(|&x| x == 0));
        assert!(left[320..480].iter().all(|&x| x == 3));
        assert!(left[480..].iter().all(|&x| x == 0));
        assert_eq!(
            (right[0], right[200], right[400], right[600]),
            (-1, -2, -3, -4)
        );
    }

    #[test]
    fn bursts_are_capped_and_bad_paths_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = CallRecorder::create(&dir.path().join("b.wav")).unwrap();
        for i in 0..20u32 {
            rec.push_received(i * 160, &[5; 160]);
        }
        assert_eq!(rec.received.len(), MAX_QUEUED);
        rec.finalize().unwrap();
        let err = CallRecorder::create(&dir.path().join("no/such/dir.wav")).unwrap_err();
        assert!(err.to_string().contains("dir.wav"));
    }
}
