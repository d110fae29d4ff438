//! Media: the one place with RTP sockets and media timers.
//!
//! - [`prompt`]: WAV prompts decoded once into shared 20 ms G.711 frames ([`Prompt`],
//!   [`PromptLibrary`]).
//! - [`recorder`]: a call recorded as a stereo WAV (left = the far end, right = us).
//! - [`engine`]: the tokio media engine: one UDP socket per call leg, one sender thread for
//!   all legs, playback with barge-in, DTMF detection, bridging with transcoding, recording.

pub mod engine;
pub mod prompt;
pub mod recorder;

pub use engine::{
    DigitSource, JitterSummary, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaLeg,
    MediaStats,
};
pub use prompt::{Prompt, PromptError, PromptLibrary};
pub use recorder::{CallRecorder, RecordError};
