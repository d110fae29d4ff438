//! The `Pacer`: how many calls to place now, from an [`ObservedState`] and nothing else (no
//! clock, no I/O), so the live dialer and the simulator run the very same decisions.

use std::fmt;
use std::str::FromStr;

use super::adaptive::{AdaptiveConfig, AdaptiveLoop};
use super::model::Forecast;
use super::reserve::for_outbound;
use super::state::ObservedState;

/// How a campaign paces its dials.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PacingMode {
    /// The agent sees the contact first, then dials: one call per free agent. The simulator
    /// models an agent who dials at once; a live dialer places preview calls only on the
    /// agent's action, never from this count alone.
    Preview,
    /// One call per free agent, dialled at once; an agent is reserved for every call.
    Progressive,
    /// A fixed number of lines per free agent (`ratio:2`).
    Ratio(f64),
    /// The model-based pacer: the largest number of dials whose expected abandon share stays
    /// under the cap, corrected by the measured abandon rate.
    Predictive,
    /// VICIdial's adaptive dial-level loop, as a baseline.
    AdaptiveHeuristic,
}

/// A pacing mode that cannot be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModeError {
    /// Not one of the known names.
    #[error(
        "unknown dial mode `{0}`: expected preview, progressive, ratio:K, predictive or adaptive-heuristic"
    )]
    Unknown(String),
    /// `ratio:K` with a `K` that is not a number of at least 1.
    #[error("`ratio:{0}`: the ratio must be a number of at least 1")]
    BadRatio(String),
}

impl FromStr for PacingMode {
    type Err = ModeError;

    fn from_str(text: &str) -> Result<PacingMode, ModeError> {
        let text = text.trim();
        if let Some(k) = text.strip_prefix("ratio:") {
            return match k.parse::<f64>() {
                Ok(k) if k >= 1.0 && k.is_finite() => Ok(PacingMode::Ratio(k)),
                _ => Err(ModeError::BadRatio(k.to_owned())),
            };
        }
        match text {
            "preview" => Ok(PacingMode::Preview),
            "progressive" => Ok(PacingMode::Progressive),
            "predictive" => Ok(PacingMode::Predictive),
            "adaptive-heuristic" => Ok(PacingMode::AdaptiveHeuristic),
            other => Err(ModeError::Unknown(other.to_owned())),
        }
    }
}

impl fmt::Display for PacingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacingMode::Preview => f.write_str("preview"),
            PacingMode::Progressive => f.write_str("progressive"),
            PacingMode::Ratio(k) => write!(f, "ratio:{k}"),
            PacingMode::Predictive => f.write_str("predictive"),
            PacingMode::AdaptiveHeuristic => f.write_str("adaptive-heuristic"),
        }
    }
}

/// The feedback term of the predictive pacer.
///
/// The per-decision cap is `cap = target × g`, with
/// `g = clamp(1 + gain × (target − m̂) / target, min_factor, max_factor)` and the measured rate
/// shrunk towards the target while few answers are in:
/// `m̂ = (abandoned + target × prior_answers) / (answered + prior_answers)`.
/// Over target, `g < 1` tightens; well under, `g > 1` loosens; the clamp bounds both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// Proportional gain.
    pub gain: f64,
    /// Lower bound of `g`.
    pub min_factor: f64,
    /// Upper bound of `g`.
    pub max_factor: f64,
    /// Answers the target is worth while the window is young.
    pub prior_answers: f64,
}

impl Default for Feedback {
    fn default() -> Feedback {
        Feedback {
            gain: 3.0,
            min_factor: 0.2,
            max_factor: 2.5,
            prior_answers: 50.0,
        }
    }
}

impl Feedback {
    /// The per-decision abandon cap for this state.
    pub fn cap(&self, state: &ObservedState) -> f64 {
        let target = state.abandon_target.max(1e-6);
        let w = state.abandon;
        let measured = (f64::from(w.abandoned) + target * self.prior_answers)
            / (f64::from(w.answered) + self.prior_answers);
        let g = (1.0 + self.gain * (target - measured) / target)
            .clamp(self.min_factor, self.max_factor);
        target * g
    }
}

/// A pacer: the mode plus the little state some modes keep (the adaptive dial level).
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    mode: PacingMode,
    feedback: Feedback,
    adaptive: AdaptiveLoop,
}

impl Pacer {
    /// A pacer for `mode` with default feedback and VICIdial's default adaptive settings.
    pub fn new(mode: PacingMode) -> Pacer {
        Pacer {
            mode,
            feedback: Feedback::default(),
            adaptive: AdaptiveLoop::new(AdaptiveConfig::default()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> PacingMode {
        self.mode
    }

    /// How many calls to place now. Inbound comes first: every mode decides on the agents left
    /// once the hotline's queued callers and reserve are held back ([`for_outbound`]).
    pub fn calls_to_place(&mut self, state: &ObservedState) -> u32 {
        if state.logged_in == 0 {
            return 0;
        }
        let state = &*for_outbound(state);
        match self.mode {
            PacingMode::Preview | PacingMode::Progressive => per_free_agent(state, 1.0),
            PacingMode::Ratio(k) => per_free_agent(state, k),
            PacingMode::Predictive => predictive(state, &self.feedback),
            PacingMode::AdaptiveHeuristic => self.adaptive.calls_to_place(state),
        }
    }
}

/// `⌈k × free⌉` lines, minus those already in flight.
fn per_free_agent(state: &ObservedState, k: f64) -> u32 {
    let lines = (k * f64::from(state.free_agents)).ceil() as u32;
    lines
        .saturating_sub(state.outstanding())
        .min(state.line_room())
}

/// The model-based decision (see [`super::model`]), under the feedback-corrected cap.
pub fn predictive(state: &ObservedState, feedback: &Feedback) -> u32 {
    let room = state.line_room();
    if room == 0 {
        return 0;
    }
    Forecast::new(state).largest_safe(feedback.cap(state), room)
}
