//! Online estimators of what the predictive model needs: the human-answer probability, the
//! answer-delay (ring-time) distribution and the talk and wrap-up times. Each starts from a prior
//! (so the first minutes of a campaign are paced sanely) and forgets old outcomes at a fixed rate
//! (so a list that answers differently in the afternoon is followed).

use super::stats::LogNormal;

/// Where the estimators start, before any outcome is seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Priors {
    /// Prior human-answer probability.
    pub answer_rate: f64,
    /// How many dials the prior answer rate is worth.
    pub answer_weight: f64,
    /// Prior mean answer delay (seconds from dial to a human answer).
    pub ring_mean_s: f64,
    /// Prior mean talk time (seconds).
    pub talk_mean_s: f64,
    /// Prior mean wrap-up time (seconds).
    pub wrap_mean_s: f64,
    /// How many observations a prior mean is worth.
    pub weight: f64,
}

impl Default for Priors {
    /// Deliberately generic values (not the simulator's defaults), so tests and the benchmark
    /// show the estimators learning rather than being handed the answer.
    fn default() -> Priors {
        Priors {
            answer_rate: 0.2,
            answer_weight: 20.0,
            ring_mean_s: 10.0,
            talk_mean_s: 180.0,
            wrap_mean_s: 30.0,
            weight: 5.0,
        }
    }
}

/// What the estimators believe now; part of the pacer's observed state.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimates {
    /// Probability that a dial is answered by a human within the ring time-out.
    pub answer_rate: f64,
    /// Delay from dial to a human answer, among human answers.
    pub ring: LogNormal,
    /// Talk time.
    pub talk: LogNormal,
    /// Mean wrap-up time in seconds.
    pub wrap_mean_s: f64,
}

/// A log-normal fitted online: exponentially weighted mean and variance of `ln x`.
#[derive(Debug, Clone, Copy)]
struct LogFit {
    mean: f64,
    var: f64,
    seen: f64,
    prior_weight: f64,
}

impl LogFit {
    fn new(prior: LogNormal, prior_weight: f64) -> LogFit {
        LogFit {
            mean: prior.mu,
            var: prior.sigma * prior.sigma,
            seen: 0.0,
            prior_weight,
        }
    }

    /// Weight `1/(n + prior)` while few samples are in (a running mean that fades the prior out),
    /// then a floor of `min_alpha`, which is the forgetting rate.
    fn observe(&mut self, x: f64, min_alpha: f64) {
        let alpha = (1.0 / (self.seen + self.prior_weight + 1.0)).max(min_alpha);
        let delta = x.max(1e-3).ln() - self.mean;
        self.mean += alpha * delta;
        self.var = (1.0 - alpha) * (self.var + alpha * delta * delta);
        self.seen += 1.0;
    }

    fn get(&self) -> LogNormal {
        LogNormal {
            mu: self.mean,
            sigma: self.var.sqrt().clamp(0.05, 2.0),
        }
    }
}

/// The online estimators of one campaign.
#[derive(Debug, Clone)]
pub struct Estimator {
    priors: Priors,
    answered: f64,
    dials: f64,
    ring: LogFit,
    talk: LogFit,
    wrap: LogFit,
}

/// Forgetting rate of the answer rate: about the last 1,000 dials count.
const DIAL_DECAY: f64 = 1.0 - 1.0 / 1000.0;
/// Forgetting rate of the time distributions: about the last 300 observations count.
const TIME_ALPHA: f64 = 1.0 / 300.0;
/// Log-space spread assumed by the priors.
const PRIOR_SIGMA: f64 = 0.7;

impl Estimator {
    /// Estimators standing at `priors`.
    pub fn new(priors: Priors) -> Estimator {
        let fit = |mean| LogFit::new(LogNormal::with_mean(mean, PRIOR_SIGMA), priors.weight);
        Estimator {
            priors,
            answered: 0.0,
            dials: 0.0,
            ring: fit(priors.ring_mean_s),
            talk: fit(priors.talk_mean_s),
            wrap: fit(priors.wrap_mean_s),
        }
    }

    /// A dial ended ringing: answered by a human after `delay_s`, or not (`None`: no answer, busy,
    /// failed or a machine, none of which needs an agent).
    pub fn dial_resolved(&mut self, human_answer_after_s: Option<f64>) {
        self.dials = self.dials * DIAL_DECAY + 1.0;
        self.answered *= DIAL_DECAY;
        if let Some(delay) = human_answer_after_s {
            self.answered += 1.0;
            self.ring.observe(delay, TIME_ALPHA);
        }
    }

    /// A conversation ended after `talk_s` seconds.
    pub fn talk_ended(&mut self, talk_s: f64) {
        self.talk.observe(talk_s, TIME_ALPHA);
    }

    /// A wrap-up ended after `wrap_s` seconds.
    pub fn wrap_ended(&mut self, wrap_s: f64) {
        self.wrap.observe(wrap_s, TIME_ALPHA);
    }

    /// The current beliefs.
    pub fn estimates(&self) -> Estimates {
        let p = &self.priors;
        Estimates {
            answer_rate: (self.answered + p.answer_rate * p.answer_weight)
                / (self.dials + p.answer_weight),
            ring: self.ring.get(),
            talk: self.talk.get(),
            wrap_mean_s: self.wrap.get().mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_priors_and_learns() {
        let mut e = Estimator::new(Priors::default());
        assert!((e.estimates().answer_rate - 0.2).abs() < 1e-9);
        for i in 0..2000 {
            e.dial_resolved((i % 10 < 3).then_some(6.0));
            e.talk_ended(120.0);
            e.wrap_ended(20.0);
        }
        let now = e.estimates();
        assert!((now.answer_rate - 0.3).abs() < 0.02, "{now:?}");
        assert!((now.ring.mu.exp() - 6.0).abs() < 0.5, "{now:?}");
        assert!((now.wrap_mean_s - 20.0).abs() < 1.0, "{now:?}");
    }
}
