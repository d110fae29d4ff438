//! The `adaptive-heuristic` baseline: VICIdial's adaptive dial-level loop, so the predictive
//! model is measured against the most-used open-source dialer rather than a straw man.
//!
//! The shape follows VICIdial's `docs/PREDICTIVE.txt` ("PREDICTIVE Summary and Overview",
//! 2006-08-29, shipped in every release) and the `calculate_dial_level` routine of its
//! `AST_VDadapt.pl`:
//!
//! - every second, sample *ready agents − waiting calls* and the agents logged in;
//! - every 15 s, `differential = mean(ready − waiting) + adaptive_dl_diff_target`,
//!   `mul = differential / mean(agents)`, scaled by `adaptive_intensity`
//!   (`×(1 + i/100)` when raising, `×|i/100 − 1|` when lowering), and
//!   `level ← level × (1 + mul)`, clamped to `[1, adaptive_maximum_level]`;
//! - when the drop share of the day is over `adaptive_dropped_percentage` (after 50 calls),
//!   the `ADAPT_AVERAGE` method halves the level (never below 1.0).
//!
//! Lines wanted are `⌈level × ready agents⌉` (VICIdial's "available only tally" = Y, which its
//! users recommend), minus the calls already ringing or waiting.

use super::state::ObservedState;

/// The knobs of VICIdial's adaptive methods, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// Seconds between dial-level updates.
    pub interval_s: f64,
    /// `adaptive_maximum_level`.
    pub max_level: f64,
    /// `adaptive_intensity`, −40..40 in VICIdial.
    pub intensity: f64,
    /// `adaptive_dl_diff_target`: agents (negative) or calls (positive) to keep waiting.
    pub diff_target: f64,
    /// Answered calls before the drop limit is enforced.
    pub min_calls: u32,
}

impl Default for AdaptiveConfig {
    fn default() -> AdaptiveConfig {
        AdaptiveConfig {
            interval_s: 15.0,
            max_level: 3.0,
            intensity: 0.0,
            diff_target: 0.0,
            min_calls: 50,
        }
    }
}

/// The loop's state: the dial level and the samples of the current interval.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveLoop {
    config: AdaptiveConfig,
    level: f64,
    interval_start_s: Option<f64>,
    sum_differential: f64,
    sum_agents: f64,
    samples: u32,
}

impl AdaptiveLoop {
    /// A loop starting at dial level 1.
    pub fn new(config: AdaptiveConfig) -> AdaptiveLoop {
        AdaptiveLoop {
            config,
            level: 1.0,
            interval_start_s: None,
            sum_differential: 0.0,
            sum_agents: 0.0,
            samples: 0,
        }
    }

    /// The current dial level (lines per ready agent).
    pub fn level(&self) -> f64 {
        self.level
    }

    /// Samples the state, updates the level when an interval is over, and returns the calls to
    /// place now.
    pub fn calls_to_place(&mut self, state: &ObservedState) -> u32 {
        self.sample(state);
        let ready = f64::from(state.free_agents);
        let lines = (self.level * ready).ceil() as u32;
        lines
            .saturating_sub(state.outstanding())
            .min(state.line_room())
    }

    fn sample(&mut self, state: &ObservedState) {
        let start = *self.interval_start_s.get_or_insert(state.now_s);
        self.sum_differential += f64::from(state.free_agents) - f64::from(state.waiting_calls);
        self.sum_agents += f64::from(state.logged_in);
        self.samples += 1;
        if state.now_s - start >= self.config.interval_s {
            self.update(state);
            self.interval_start_s = Some(state.now_s);
            self.sum_differential = 0.0;
            self.sum_agents = 0.0;
            self.samples = 0;
        }
    }

    fn update(&mut self, state: &ObservedState) {
        let n = f64::from(self.samples.max(1));
        let agents = self.sum_agents / n;
        if agents <= 0.0 {
            return;
        }
        let differential = self.sum_differential / n + self.config.diff_target;
        let mul = differential / agents;
        let intensity = self.config.intensity / 100.0;
        let mul = if mul < 0.0 {
            mul * (intensity - 1.0).abs()
        } else {
            mul * (intensity + 1.0)
        };
        let mut level = (self.level * (1.0 + mul)).clamp(1.0, self.config.max_level);
        let day = state.abandon;
        if day.answered > self.config.min_calls && day.rate() > state.abandon_target {
            level /= 2.0;
        }
        self.level = level.max(1.0);
    }
}
