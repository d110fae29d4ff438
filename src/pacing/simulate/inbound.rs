//! The simulated hotline: callers arrive as a Poisson stream, queue first come, first served
//! for the same agents the campaign dials for, and hang up after an exponential patience.
//! Callers come first: an agent who is free takes a queued caller before any outbound answer.
//! The hotline's arrivals draw from their own random stream, so the same seed brings the same
//! callers at the same moments whatever the dial mode (and no inbound leaves the outbound
//! draws as they were).

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::super::report::InboundReport;
use super::super::state::InboundLoad;
use super::SimError;

/// The simulated hotline.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundConfig {
    /// Callers per hour (Poisson arrivals); 0 for no hotline.
    pub per_hour: f64,
    /// Mean handle time of an inbound call, seconds: its talk time (of the campaign's talk
    /// shape) plus the campaign's wrap-up, so the talk is `handle_s − wrap_s` on average.
    /// `None`: the same handle as an outbound call (talk plus wrap-up).
    pub handle_s: Option<f64>,
    /// Service target the pacer protects: the share answered within `answer_within_s` (0.8);
    /// 0 leaves the hotline unprotected (queued callers are still served first).
    pub service_target: f64,
    /// Seconds of the service target (20).
    pub answer_within_s: f64,
    /// Mean seconds a caller waits in the queue before hanging up (exponential).
    pub patience_s: f64,
}

impl Default for InboundConfig {
    fn default() -> InboundConfig {
        InboundConfig {
            per_hour: 0.0,
            handle_s: None,
            service_target: 0.8,
            answer_within_s: 20.0,
            patience_s: 120.0,
        }
    }
}

/// How long the measured arrival rate looks back.
const RATE_WINDOW_MS: u64 = 15 * 60_000;
/// The shortest span a rate is measured over (so the first caller is not a rate of thousands).
const RATE_MIN_SPAN_MS: u64 = 5 * 60_000;

impl InboundConfig {
    pub(super) fn validate(&self, wrap_s: f64) -> Result<(), SimError> {
        let check = |ok: bool, what: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(SimError::Invalid(what))
            }
        };
        check(
            self.per_hour >= 0.0 && self.per_hour <= 100_000.0,
            "--inbound-per-hour must be from 0 to 100000",
        )?;
        check(
            self.handle_s
                .is_none_or(|h| h > wrap_s && h <= 86_400.0 + wrap_s),
            "--inbound-handle must exceed --wrap (it is talk plus wrap-up) and be at most a day",
        )?;
        check(
            (0.0..1.0).contains(&self.service_target),
            "--inbound-target must be in [0, 1) (0: no protection)",
        )?;
        check(
            self.answer_within_s >= 0.0 && self.answer_within_s <= 3600.0,
            "--inbound-within must be from 0 to 3600 s",
        )?;
        check(
            self.patience_s > 0.0 && self.patience_s <= 86_400.0,
            "--inbound-patience must be positive and at most a day",
        )
    }
}

/// The hotline's queue, its measurements and its tallies.
#[derive(Debug)]
pub(super) struct Hotline {
    config: InboundConfig,
    /// Arrivals draw from their own stream, so they do not depend on who queued.
    arrivals_rng: ChaCha8Rng,
    patience_rng: ChaCha8Rng,
    /// Queued callers: id and arrival time, first come first served.
    queue: VecDeque<(usize, u64)>,
    next_id: usize,
    /// Arrival times within the rate window.
    recent: VecDeque<u64>,
    handles_s: f64,
    handled: u64,
    tally: InboundReport,
    waits_ms: u64,
}

impl Hotline {
    pub(super) fn new(config: InboundConfig, seed: u64) -> Hotline {
        let tally = InboundReport {
            answer_within_s: config.answer_within_s,
            service_target_pct: 100.0 * config.service_target,
            ..InboundReport::default()
        };
        Hotline {
            config,
            arrivals_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x1040_0810_8888),
            patience_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x2040_0810_8888),
            queue: VecDeque::new(),
            next_id: 0,
            recent: VecDeque::new(),
            handles_s: 0.0,
            handled: 0,
            tally,
            waits_ms: 0,
        }
    }

    /// Milliseconds to the next arrival, or `None` without a hotline.
    pub(super) fn next_arrival_in_ms(&mut self) -> Option<u64> {
        if self.config.per_hour <= 0.0 {
            return None;
        }
        let mean_ms = 3_600_000.0 / self.config.per_hour;
        Some(exponential(&mut self.arrivals_rng, mean_ms).max(1.0) as u64)
    }

    /// A caller arrives at `now_ms`; returns their id.
    pub(super) fn arrive(&mut self, now_ms: u64) -> usize {
        self.tally.offered += 1;
        self.recent.push_back(now_ms);
        self.next_id += 1;
        self.next_id - 1
    }

    /// A caller who found no free agent queues; returns the milliseconds until they give up.
    pub(super) fn enqueue(&mut self, id: usize, now_ms: u64) -> u64 {
        self.queue.push_back((id, now_ms));
        exponential(&mut self.patience_rng, self.config.patience_s * 1000.0).max(1.0) as u64
    }

    /// The caller at the head of the queue, if any, is answered at `now_ms`.
    pub(super) fn take_next(&mut self, now_ms: u64) -> bool {
        match self.queue.pop_front() {
            Some((_, arrived_ms)) => {
                self.answered(now_ms - arrived_ms);
                true
            }
            None => false,
        }
    }

    /// A caller is answered after `wait_ms` in the queue.
    pub(super) fn answered(&mut self, wait_ms: u64) {
        self.tally.answered += 1;
        self.waits_ms += wait_ms;
        if wait_ms as f64 <= self.config.answer_within_s * 1000.0 {
            self.tally.answered_within += 1;
        }
    }

    /// Caller `id`'s patience ran out at `now_ms`: gone, if still queued.
    pub(super) fn give_up(&mut self, id: usize, now_ms: u64) {
        if let Some(pos) = self.queue.iter().position(|&(c, _)| c == id) {
            let arrived_ms = self.queue.remove(pos).map_or(now_ms, |(_, at)| at);
            self.tally.abandoned += 1;
            if (now_ms - arrived_ms) as f64 > self.config.answer_within_s * 1000.0 {
                self.tally.abandoned_after += 1;
            }
        }
    }

    /// The talk time to draw for an inbound call, as a mean: the handle less the wrap-up.
    pub(super) fn talk_mean_s(&self, outbound_talk_s: f64, wrap_s: f64) -> f64 {
        self.config
            .handle_s
            .map_or(outbound_talk_s, |h| (h - wrap_s).max(1.0))
    }

    /// An inbound call's talk and wrap-up ended after `handle_s`.
    pub(super) fn handled(&mut self, handle_s: f64) {
        self.handles_s += handle_s;
        self.handled += 1;
    }

    /// The load the pacer is shown at `now_ms`: the queue now, the arrival rate measured over
    /// the last 15 minutes (at least 5), the mean handle of the calls handled so far
    /// (`fallback_handle_s` before the first), the target configured.
    pub(super) fn load(
        &mut self,
        now_ms: u64,
        on_inbound: u32,
        fallback_handle_s: f64,
    ) -> InboundLoad {
        while self
            .recent
            .front()
            .is_some_and(|&at| at + RATE_WINDOW_MS <= now_ms)
        {
            self.recent.pop_front();
        }
        let span_ms = now_ms.clamp(RATE_MIN_SPAN_MS, RATE_WINDOW_MS);
        InboundLoad {
            waiting: self.queue.len() as u32,
            on_inbound,
            arrivals_per_s: self.recent.len() as f64 / (span_ms as f64 / 1000.0),
            handle_s: if self.handled == 0 {
                fallback_handle_s
            } else {
                self.handles_s / self.handled as f64
            },
            service_target: self.config.service_target,
            answer_within_s: self.config.answer_within_s,
        }
    }

    /// The hotline's figures at the end of the run.
    pub(super) fn report(mut self, inbound_busy_ms: u64, agent_ms: f64) -> InboundReport {
        let t = &mut self.tally;
        t.still_waiting = self.queue.len() as u64;
        let settled = t.answered + t.abandoned_after;
        t.service_level_pct =
            (settled > 0).then(|| 100.0 * t.answered_within as f64 / settled as f64);
        t.asa_s = if t.answered == 0 {
            0.0
        } else {
            self.waits_ms as f64 / 1000.0 / t.answered as f64
        };
        t.occupancy = if agent_ms > 0.0 {
            inbound_busy_ms as f64 / agent_ms
        } else {
            0.0
        };
        self.tally
    }
}

/// An exponential draw of mean `mean`.
fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}
