//! What a simulated run measured, and the tallies it is computed from.

use serde::Serialize;

/// The outcome of a simulated campaign run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// The pacing mode.
    pub mode: String,
    /// Agents logged in for the whole run.
    pub agents: u32,
    /// Simulated hours.
    pub hours: f64,
    /// The random seed.
    pub seed: u64,
    /// Calls placed.
    pub dials: u64,
    /// Human answers (the abandon denominator).
    pub human_answers: u64,
    /// Machine answers (outside the denominator).
    pub machine_answers: u64,
    /// Human answers bridged to an agent.
    pub connected: u64,
    /// Human answers that found no agent within the connect rule.
    pub abandoned: u64,
    /// Share of logged-in agent time spent talking or wrapping up.
    pub occupancy: f64,
    /// Abandoned over human answers, in percent, for the whole run.
    pub abandon_pct: f64,
    /// The worst hour's abandon percentage (the run is shorter than the 24 h window).
    pub worst_hour_abandon_pct: f64,
    /// Connected calls per agent-hour.
    pub contacts_per_agent_hour: f64,
    /// Median owner wait from answer to agent, seconds.
    pub wait_p50_s: f64,
    /// 95th percentile owner wait from answer to agent, seconds.
    pub wait_p95_s: f64,
    /// Dials per hour.
    pub dials_per_hour: f64,
    /// The answer rate the estimator had learned by the end.
    pub learned_answer_rate: f64,
    /// Share of logged-in agent time spent on outbound calls (talk or wrap-up); `occupancy`
    /// less the hotline's share.
    pub outbound_occupancy: f64,
    /// The hotline's figures (all zero without inbound callers).
    pub inbound: InboundReport,
}

/// What the simulated hotline measured.
///
/// The service level is the share of callers answered within `answer_within_s` among those
/// who were answered or who hung up after waiting longer than that:
/// `answered_within / (answered + abandoned_after)`. Callers who hang up within the target
/// time are left out (they gave up before the hotline could have failed them, the usual
/// convention for short abandons), callers who hang up later count as missed, and callers still
/// queued when the run stops are not counted at all. The average speed of answer is the mean
/// queue wait of the answered callers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InboundReport {
    /// Callers who called.
    pub offered: u64,
    /// Callers answered by an agent.
    pub answered: u64,
    /// Of those, answered within `answer_within_s`.
    pub answered_within: u64,
    /// Callers who hung up in the queue.
    pub abandoned: u64,
    /// Of those, after waiting more than `answer_within_s`.
    pub abandoned_after: u64,
    /// Callers still queued when the run stopped.
    pub still_waiting: u64,
    /// The service level, percent (see above); `None` when no caller was settled.
    pub service_level_pct: Option<f64>,
    /// The target the pacer protected, percent (0: unprotected).
    pub service_target_pct: f64,
    /// Seconds of the service level.
    pub answer_within_s: f64,
    /// Average speed of answer: mean queue wait of answered callers, seconds.
    pub asa_s: f64,
    /// Share of logged-in agent time spent on inbound calls (talk or wrap-up).
    pub occupancy: f64,
}

/// Running counts of a simulation, bucketed by hour where the report needs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub(crate) dials: u64,
    pub(crate) machine_answers: u64,
    pub(crate) busy_ms: u64,
    pub(crate) inbound_busy_ms: u64,
    answered_by_hour: Vec<u64>,
    abandoned_by_hour: Vec<u64>,
    waits_ms: Vec<u64>,
}

const HOUR_MS: u64 = 3_600_000;

impl Tally {
    /// A human answered at `at_ms`.
    pub(crate) fn answered(&mut self, at_ms: u64) {
        bump(&mut self.answered_by_hour, at_ms);
    }

    /// A human who answered at `answered_ms` was abandoned.
    pub(crate) fn abandoned(&mut self, answered_ms: u64) {
        bump(&mut self.abandoned_by_hour, answered_ms);
    }

    /// An owner reached an agent after `wait_ms`.
    pub(crate) fn connected(&mut self, wait_ms: u64) {
        self.waits_ms.push(wait_ms);
    }

    /// The report of a run of `run_ms` with `agents` agents and the hotline's figures.
    pub(crate) fn report(
        mut self,
        head: ReportHead,
        run_ms: u64,
        inbound: InboundReport,
    ) -> SimReport {
        let answers: u64 = self.answered_by_hour.iter().sum();
        let abandoned: u64 = self.abandoned_by_hour.iter().sum();
        let hours = run_ms as f64 / HOUR_MS as f64;
        let agent_hours = f64::from(head.agents) * hours;
        self.waits_ms.sort_unstable();
        SimReport {
            mode: head.mode,
            agents: head.agents,
            hours,
            seed: head.seed,
            dials: self.dials,
            human_answers: answers,
            machine_answers: self.machine_answers,
            connected: self.waits_ms.len() as u64,
            abandoned,
            occupancy: self.busy_ms as f64 / (agent_hours * HOUR_MS as f64),
            abandon_pct: percent(abandoned, answers),
            worst_hour_abandon_pct: self.worst_hour(),
            contacts_per_agent_hour: self.waits_ms.len() as f64 / agent_hours,
            wait_p50_s: quantile(&self.waits_ms, 0.50),
            wait_p95_s: quantile(&self.waits_ms, 0.95),
            dials_per_hour: self.dials as f64 / hours,
            learned_answer_rate: head.learned_answer_rate,
            outbound_occupancy: (self.busy_ms - self.inbound_busy_ms.min(self.busy_ms)) as f64
                / (agent_hours * HOUR_MS as f64),
            inbound,
        }
    }

    fn worst_hour(&self) -> f64 {
        self.answered_by_hour
            .iter()
            .enumerate()
            .map(|(h, &a)| percent(self.abandoned_by_hour.get(h).copied().unwrap_or(0), a))
            .fold(0.0, f64::max)
    }
}

/// The parts of a report that do not come from the tallies.
#[derive(Debug, Clone)]
pub(crate) struct ReportHead {
    pub(crate) mode: String,
    pub(crate) agents: u32,
    pub(crate) seed: u64,
    pub(crate) learned_answer_rate: f64,
}

fn bump(buckets: &mut Vec<u64>, at_ms: u64) {
    let hour = (at_ms / HOUR_MS) as usize;
    if buckets.len() <= hour {
        buckets.resize(hour + 1, 0);
    }
    buckets[hour] += 1;
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The `q` quantile of sorted milliseconds, in seconds (nearest rank).
fn quantile(sorted_ms: &[u64], q: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_ms.len() as f64).ceil() as usize).clamp(1, sorted_ms.len());
    sorted_ms[rank - 1] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandon_share_and_quantiles() {
        let mut t = Tally::default();
        for i in 0..100 {
            t.answered(i * 1000);
        }
        t.answered(HOUR_MS + 5);
        t.abandoned(HOUR_MS + 5);
        for w in [0, 0, 0, 1000] {
            t.connected(w);
        }
        let head = ReportHead {
            mode: "x".into(),
            agents: 1,
            seed: 0,
            learned_answer_rate: 0.0,
        };
        let r = t.report(head, 2 * HOUR_MS, InboundReport::default());
        assert!((r.abandon_pct - 100.0 / 101.0).abs() < 1e-9);
        assert!((r.worst_hour_abandon_pct - 100.0).abs() < 1e-9);
        assert_eq!((r.wait_p50_s, r.wait_p95_s), (0.0, 1.0));
    }
}
