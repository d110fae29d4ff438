//! The predictive model: how many answered calls will find no agent within the connect rule if
//! `n` more calls are dialled now.
//!
//! Time runs from now (`t = 0`) to the ring time-out `T`, on a grid of `t`. At each `t`:
//!
//! - **Answers by `t`**, `X(t) = W + Σᵢ Bernoulli(rᵢ(t)) + Binomial(n, q(t))`, where `W` are
//!   answered calls already waiting, `q(t) = p·G(t)` is the chance a new dial is a human answer
//!   by `t` (`p` the measured human-answer rate, `G` the learned answer-delay CDF truncated at
//!   `T`), and `rᵢ(t) = p·(G(aᵢ+t) − G(aᵢ)) / (p·(1 − G(aᵢ)) + 1 − p)` is the chance that a
//!   call ringing now for `aᵢ` seconds (and not yet resolved) is answered within `t`. The sum is
//!   a Poisson-binomial, computed exactly (a Poisson would overstate its spread by `1/(1 − p)`,
//!   which at `p = 0.3` made the model refuse dials it should place).
//! - **Agents by `t + c`** (`c` the 2 s connect rule), `Y(t) = F + Σⱼ Bernoulli(fⱼ(t + c))`:
//!   the `F` agents free now, plus each busy agent `j` with its chance of being free by then:
//!   for one in wrap-up for `e` seconds, `1` once `t + c ≥ w̄ − e` (`w̄` the mean wrap-up);
//!   for one talking for `e` seconds, `P(T_talk ≤ e + t + c − w̄ | T_talk > e)` from the learned
//!   talk-time distribution (its residual life, then the wrap-up).
//!
//! An owner who answers in the slice `(t, t + Δ]` is abandoned when the agents free by
//! `t + c` are all taken by owners who answered before, i.e. when `X(t) ≥ Y(t)`. Summing over
//! the slices the expected answers that arrive in each, times that chance, plus the waiting
//! owners no agent reaches in time:
//!
//! ```text
//!   D̂(n) = E[(W − Y(0))⁺] + Σₜ (E[X(t + Δ)] − E[X(t)]) · P(X(t) ≥ Y(t))
//!   share(n) = D̂(n) / (W + Σᵢ rᵢ(T) + n·p)
//! ```
//!
//! with `P(X ≥ Y) = Σ_y P(Y = y)·(1 − P(X < y))`. (Abandoned owners free no agent, so counting
//! them among the `X(t)` that hold agents errs towards caution; the first version used
//! `max_t E[(X(t) − Y(t))⁺]`, which missed abandons spread over the window and let the
//! simulated rate run at three times the cap.)
//!
//! The pacer dials the largest `n` for which every added dial keeps its own share under the cap:
//!
//! ```text
//!   D̂(k) − D̂(k − 1) ≤ cap · p   for every k ≤ n
//! ```
//!
//! (the abandons one more dial adds, including those it causes among calls already ringing, per
//! answer it brings). Then `share(n) ≤ cap` follows for the new dials, since no dial is above it.
//! Bounding the pool's *average* `share(n)` instead dilutes risky dials with safe ones; in the
//! simulator that ran 1.6 times over the cap, while the marginal rule runs at about half of it
//! and the feedback term loosens it towards the target.

use super::state::{AgentPhase, BusyAgent, ObservedState};
use super::stats::{LogNormal, poisson_binomial};

/// Seconds between grid points.
const GRID_STEP_S: f64 = 1.0;

/// One grid point: the head of the distribution of answers from calls already ringing, the
/// answer chance of one new dial, and the distribution of agents available.
#[derive(Debug, Clone)]
struct Slice {
    ringing: Answers,
    new_call_answer: f64,
    agents_pmf: Vec<f64>,
}

/// A count of answers: its mean and the head of its pmf (only `P(X = k)` for `k` below the
/// number of agents matters, so the tail is not kept).
#[derive(Debug, Clone)]
struct Answers {
    mean: f64,
    head: Vec<f64>,
}

impl Answers {
    fn none(len: usize) -> Answers {
        let mut head = vec![0.0; len.max(1)];
        head[0] = 1.0;
        Answers { mean: 0.0, head }
    }

    /// Adds one more independent call answered with probability `p`.
    fn add(&mut self, p: f64) {
        self.mean += p;
        for k in (1..self.head.len()).rev() {
            self.head[k] = self.head[k] * (1.0 - p) + self.head[k - 1] * p;
        }
        self.head[0] *= 1.0 - p;
    }
}

/// The forecast for one decision, precomputed so that many `n` can be tried cheaply.
#[derive(Debug, Clone)]
pub struct Forecast {
    slices: Vec<Slice>,
    waiting: u32,
    answer_rate: f64,
    ringing_total: f64,
}

impl Forecast {
    /// The forecast from an observed state.
    pub fn new(state: &ObservedState) -> Forecast {
        let est = &state.estimates;
        let p = est.answer_rate.clamp(0.0, 1.0);
        let timeout = state.ring_timeout_s.max(GRID_STEP_S);
        let delay = AnswerDelay::new(est.ring, timeout);
        let steps = (timeout / GRID_STEP_S).ceil() as usize;
        let slices = (0..=steps)
            .map(|i| {
                let t = i as f64 * GRID_STEP_S;
                let agents_pmf = agents_available(state, t + state.connect_rule_s);
                let mut ringing = Answers::none(agents_pmf.len());
                for r in ringing_chances(&state.ringing_ages_s, p, &delay, t) {
                    ringing.add(r);
                }
                let new_call_answer = p * delay.cdf(t);
                Slice {
                    ringing,
                    new_call_answer,
                    agents_pmf,
                }
            })
            .collect();
        Forecast {
            slices,
            waiting: state.waiting_calls,
            answer_rate: p,
            ringing_total: ringing_chances(&state.ringing_ages_s, p, &delay, timeout).sum(),
        }
    }

    /// Expected abandons `D̂(n)` if `n` more calls are dialled now.
    pub fn expected_abandons(&self, n: u32) -> f64 {
        self.abandons_of(&self.answers_with(n))
    }

    /// `D̂` for the answers of each slice.
    fn abandons_of(&self, answers: &[Answers]) -> f64 {
        let first = self.slices.first().map_or(&[][..], |s| &s.agents_pmf[..]);
        let stranded: f64 = first
            .iter()
            .enumerate()
            .map(|(y, py)| py * (f64::from(self.waiting) - y as f64).max(0.0))
            .sum();
        let arrivals: f64 = answers
            .windows(2)
            .zip(&self.slices)
            .map(|(pair, s)| {
                let arriving = (pair[1].mean - pair[0].mean).max(0.0);
                arriving * exhausted_chance(&pair[0], self.waiting, &s.agents_pmf)
            })
            .sum();
        stranded + arrivals
    }

    /// Expected answers of everything in flight plus `n` new dials.
    pub fn expected_answers(&self, n: u32) -> f64 {
        f64::from(self.waiting) + self.ringing_total + f64::from(n) * self.answer_rate
    }

    /// `share(n)`: expected abandons over expected answers (0 when nothing is expected).
    pub fn abandon_share(&self, n: u32) -> f64 {
        self.share(n, self.expected_abandons(n))
    }

    /// The largest `n ≤ limit` with `D̂(k) − D̂(k − 1) ≤ cap · p` for all `1 ≤ k ≤ n`.
    pub fn largest_safe(&self, cap: f64, limit: u32) -> u32 {
        let mut answers = self.answers_with(0);
        let mut before = self.abandons_of(&answers);
        for n in 1..=limit {
            for (x, s) in answers.iter_mut().zip(&self.slices) {
                x.add(s.new_call_answer);
            }
            let now = self.abandons_of(&answers);
            if now - before > cap * self.answer_rate {
                return n - 1;
            }
            before = now;
        }
        limit
    }

    fn share(&self, n: u32, abandons: f64) -> f64 {
        let answers = self.expected_answers(n);
        if answers <= 1e-12 {
            0.0
        } else {
            abandons / answers
        }
    }

    /// Per slice, the answers of the ringing calls plus `n` new dials.
    fn answers_with(&self, n: u32) -> Vec<Answers> {
        self.slices
            .iter()
            .map(|s| {
                let mut x = s.ringing.clone();
                (0..n).for_each(|_| x.add(s.new_call_answer));
                x
            })
            .collect()
    }
}

/// The answer-delay CDF truncated at the ring time-out (answers after it do not happen).
struct AnswerDelay {
    dist: LogNormal,
    timeout: f64,
    mass: f64,
}

impl AnswerDelay {
    fn new(dist: LogNormal, timeout: f64) -> AnswerDelay {
        AnswerDelay {
            dist,
            timeout,
            mass: dist.cdf(timeout).max(1e-9),
        }
    }

    fn cdf(&self, t: f64) -> f64 {
        (self.dist.cdf(t.min(self.timeout)) / self.mass).min(1.0)
    }
}

/// `rᵢ(t)`: the chance that each call ringing now is a human answer within `t`.
fn ringing_chances<'a>(
    ages: &'a [f64],
    p: f64,
    delay: &'a AnswerDelay,
    t: f64,
) -> impl Iterator<Item = f64> + 'a {
    ages.iter().filter(|&&a| a < delay.timeout).map(move |&a| {
        let before = delay.cdf(a);
        let unresolved = p * (1.0 - before) + (1.0 - p);
        if unresolved <= 1e-12 {
            0.0
        } else {
            p * (delay.cdf(a + t) - before) / unresolved
        }
    })
}

/// The distribution of `Y`: agents free now plus busy ones free by `horizon`.
fn agents_available(state: &ObservedState, horizon: f64) -> Vec<f64> {
    let est = &state.estimates;
    let chances = state
        .busy
        .iter()
        .map(|b| free_by(b, horizon, est.talk, est.wrap_mean_s));
    let busy_pmf = poisson_binomial(chances);
    let mut pmf = vec![0.0; state.free_agents as usize];
    pmf.extend(busy_pmf);
    pmf
}

/// The chance that a busy agent is free within `horizon` seconds.
pub fn free_by(agent: &BusyAgent, horizon: f64, talk: LogNormal, wrap_mean_s: f64) -> f64 {
    match agent.phase {
        AgentPhase::Wrap => {
            if horizon >= wrap_mean_s - agent.elapsed_s {
                1.0
            } else {
                0.0
            }
        }
        AgentPhase::Talk => talk.residual_cdf(agent.elapsed_s, horizon - wrap_mean_s),
    }
}

/// `P(W + X ≥ Y)`: the chance that the agents are all taken, for answers `X` (pmf head) and
/// agents `Y` with the given pmf.
fn exhausted_chance(x: &Answers, waiting: u32, agents_pmf: &[f64]) -> f64 {
    let mut below = 0.0; // P(X < k)
    let mut k = 0usize;
    let mut total = 0.0;
    for (y, py) in agents_pmf.iter().enumerate() {
        let s = y.saturating_sub(waiting as usize);
        while k < s {
            below += x.head.get(k).copied().unwrap_or(0.0);
            k += 1;
        }
        total += py * (1.0 - below).max(0.0);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_chance_matches_a_direct_sum() {
        let chances = [0.3, 0.3, 0.6, 0.9, 0.1];
        let agents = [0.0, 0.2, 0.5, 0.3]; // 1, 2 or 3 agents
        let full = poisson_binomial(chances);
        let mut direct = 0.0;
        for (z, pz) in full.iter().enumerate() {
            for (y, py) in agents.iter().enumerate() {
                if z + 1 >= y {
                    direct += py * pz;
                }
            }
        }
        let mut x = Answers::none(agents.len());
        chances.iter().for_each(|&p| x.add(p));
        assert!((exhausted_chance(&x, 1, &agents) - direct).abs() < 1e-12);
        assert_eq!(exhausted_chance(&Answers::none(1), 0, &[1.0]), 1.0);
    }

    #[test]
    fn wrap_up_agents_are_free_when_the_wrap_ends() {
        let talk = LogNormal::with_mean(120.0, 0.6);
        let wrap = BusyAgent {
            phase: AgentPhase::Wrap,
            elapsed_s: 15.0,
        };
        assert_eq!(free_by(&wrap, 4.0, talk, 20.0), 0.0);
        assert_eq!(free_by(&wrap, 6.0, talk, 20.0), 1.0);
        let talking = BusyAgent {
            phase: AgentPhase::Talk,
            elapsed_s: 10.0,
        };
        assert_eq!(free_by(&talking, 10.0, talk, 20.0), 0.0);
        assert!(free_by(&talking, 200.0, talk, 20.0) > 0.3);
    }
}
