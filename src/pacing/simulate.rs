//! A discrete-event simulation of a campaign on a simulated clock, driving the very same
//! [`Pacer`] the dialer uses. Contacts are unlimited; every dial rings for a random time and is
//! a human answer (with `answer_rate`), a machine, a busy/failed call or no answer at the ring
//! time-out. A human answer is bridged to a free agent, or waits at most the connect rule (2 s)
//! for one and is otherwise abandoned. Talk times are log-normal (or exponential) around the
//! mean, then a fixed wrap-up. The pacer is asked every simulated second.
//!
//! With `inbound.per_hour > 0` a hotline shares the agents ([`inbound`]): its callers queue
//! first come, first served and an agent who is free takes a queued caller before any outbound
//! answer; the pacer is shown the hotline's measured load.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::estimate::{Estimator, Priors};
use super::pacer::{Pacer, PacingMode};
use super::report::{ReportHead, SimReport, Tally};
use super::state::{AbandonWindow, AgentPhase, BusyAgent, InboundLoad, ObservedState};
use super::stats::LogNormal;

mod inbound;

use inbound::Hotline;
pub use inbound::InboundConfig;

/// The shape of simulated talk times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TalkShape {
    /// Log-normal with a log-space spread of 0.6 (right-skewed, like real calls).
    Lognormal,
    /// Exponential (memoryless: the hardest case for prediction).
    Exponential,
}

/// The simulated campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Agents logged in for the whole run.
    pub agents: u32,
    /// Probability that a dial is answered by a human.
    pub answer_rate: f64,
    /// Probability that a dial is answered by a machine (kept out of the abandon denominator).
    pub machine_rate: f64,
    /// Mean talk time, seconds.
    pub talk_s: f64,
    /// Talk-time shape.
    pub talk_shape: TalkShape,
    /// Wrap-up time, seconds.
    pub wrap_s: f64,
    /// Mean delay from dial to answer, seconds.
    pub ring_mean_s: f64,
    /// Ring time-out, seconds.
    pub ring_timeout_s: f64,
    /// Simulated hours.
    pub hours: f64,
    /// Pacing mode.
    pub mode: PacingMode,
    /// Abandon cap as a share (0.03).
    pub abandon_target: f64,
    /// Calls in flight at most, per agent.
    pub lines_per_agent: u32,
    /// Random seed.
    pub seed: u64,
    /// The hotline on the same agents (none by default).
    pub inbound: InboundConfig,
}

impl SimConfig {
    /// The benchmark campaign: 20 agents, 30 % answer, 120 s talk, 20 s wrap, 8 hours.
    pub fn benchmark(mode: PacingMode, seed: u64) -> SimConfig {
        SimConfig {
            agents: 20,
            answer_rate: 0.3,
            machine_rate: 0.0,
            talk_s: 120.0,
            talk_shape: TalkShape::Lognormal,
            wrap_s: 20.0,
            ring_mean_s: 7.0,
            ring_timeout_s: 25.0,
            hours: 8.0,
            mode,
            abandon_target: 0.03,
            lines_per_agent: 5,
            seed,
            inbound: InboundConfig::default(),
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        let check = |ok: bool, what: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(SimError::Invalid(what))
            }
        };
        check(
            (1..=10_000).contains(&self.agents),
            "--agents must be from 1 to 10000",
        )?;
        check(
            self.talk_s <= 86_400.0 && self.wrap_s <= 86_400.0,
            "--talk and --wrap must be at most a day (86400 s)",
        )?;
        check(
            self.ring_timeout_s <= 120.0,
            "--ring-timeout must be at most 120 s (as campaigns allow)",
        )?;
        check(
            self.hours >= 1.0 / 60.0,
            "--hours must be at least one simulated minute (1/60)",
        )?;
        check(
            self.answer_rate > 0.0 && self.answer_rate <= 1.0,
            "--answer-rate must be in (0, 1]",
        )?;
        check(
            self.machine_rate >= 0.0 && self.answer_rate + self.machine_rate <= 1.0,
            "--machine-rate plus --answer-rate must be at most 1",
        )?;
        check(
            self.talk_s > 0.0 && self.wrap_s >= 0.0,
            "--talk must be positive, --wrap not negative",
        )?;
        check(
            self.ring_mean_s > 0.0 && self.ring_timeout_s > self.ring_mean_s,
            "--ring-timeout must exceed the mean ring time",
        )?;
        check(
            self.hours > 0.0 && self.hours <= 24.0 * 31.0,
            "--hours must be in (0, 744]",
        )?;
        check(
            self.abandon_target > 0.0 && self.abandon_target < 1.0,
            "--abandon-target must be in (0, 100) percent",
        )?;
        check(
            self.lines_per_agent >= 1,
            "lines per agent must be at least 1",
        )?;
        self.inbound.validate(self.wrap_s)
    }
}

/// A simulation that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A setting is out of range; the message names it.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Runs one simulation.
pub fn simulate(config: &SimConfig) -> Result<SimReport, SimError> {
    config.validate()?;
    let mut sim = Sim::new(config.clone());
    sim.run();
    Ok(sim.finish())
}

/// Events, ordered by time then by insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Tick,
    RingEnd(usize),
    Deadline(usize),
    TalkEnd(usize),
    WrapEnd(usize),
    /// A hotline caller arrives.
    Arrival,
    /// A queued caller's patience runs out.
    GiveUp(usize),
}

/// What a dial will turn out to be, drawn when it is placed (the pacer never sees it).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Human,
    Machine,
    Unanswered,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    dialed_ms: u64,
    fate: Fate,
}

#[derive(Debug, Clone, Copy)]
enum Agent {
    Free,
    Talk {
        since_ms: u64,
        busy_since_ms: u64,
        inbound: bool,
    },
    Wrap {
        since_ms: u64,
        busy_since_ms: u64,
        inbound: bool,
    },
}

struct Sim {
    config: SimConfig,
    rng: ChaCha8Rng,
    pacer: Pacer,
    estimator: Estimator,
    now_ms: u64,
    end_ms: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    agents: Vec<Agent>,
    free: VecDeque<usize>,
    calls: Vec<Call>,
    ringing: BTreeMap<usize, u64>,
    waiting: VecDeque<(usize, u64)>,
    window: AbandonWindow,
    tally: Tally,
    hotline: Hotline,
}

impl Sim {
    fn new(config: SimConfig) -> Sim {
        let agents = config.agents as usize;
        let mut sim = Sim {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            pacer: Pacer::new(config.mode),
            estimator: Estimator::new(Priors::default()),
            now_ms: 0,
            end_ms: (config.hours * 3_600_000.0) as u64,
            seq: 0,
            queue: BinaryHeap::new(),
            agents: vec![Agent::Free; agents],
            free: (0..agents).collect(),
            calls: Vec::new(),
            ringing: BTreeMap::new(),
            waiting: VecDeque::new(),
            window: AbandonWindow::default(),
            tally: Tally::default(),
            hotline: Hotline::new(config.inbound.clone(), config.seed),
            config,
        };
        sim.schedule(0, Event::Tick);
        if let Some(gap) = sim.hotline.next_arrival_in_ms() {
            sim.schedule(gap, Event::Arrival);
        }
        sim
    }

    fn schedule(&mut self, at_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at_ms, self.seq, event)));
    }

    fn run(&mut self) {
        while let Some(Reverse((at, _, event))) = self.queue.pop() {
            if at >= self.end_ms {
                break;
            }
            self.now_ms = at;
            match event {
                Event::Tick => self.tick(),
                Event::RingEnd(call) => self.ring_end(call),
                Event::Deadline(call) => self.deadline(call),
                Event::TalkEnd(agent) => self.talk_end(agent),
                Event::WrapEnd(agent) => self.wrap_end(agent),
                Event::Arrival => self.arrival(),
                Event::GiveUp(caller) => self.hotline.give_up(caller, self.now_ms),
            }
        }
        self.now_ms = self.end_ms;
    }

    fn tick(&mut self) {
        let state = self.observe();
        let state = ObservedState {
            inbound: self.inbound_load(),
            ..state
        };
        let n = self.pacer.calls_to_place(&state);
        for _ in 0..n {
            self.dial();
        }
        self.schedule(self.now_ms + 1000, Event::Tick);
    }

    /// The observed state, as the live dialer would build it.
    fn observe(&self) -> ObservedState {
        let secs = |since: u64| (self.now_ms - since) as f64 / 1000.0;
        let busy = self
            .agents
            .iter()
            .filter_map(|a| match *a {
                Agent::Free => None,
                Agent::Talk { since_ms, .. } => Some((AgentPhase::Talk, since_ms)),
                Agent::Wrap { since_ms, .. } => Some((AgentPhase::Wrap, since_ms)),
            })
            .map(|(phase, since)| BusyAgent {
                phase,
                elapsed_s: secs(since),
            })
            .collect();
        ObservedState {
            now_s: self.now_ms as f64 / 1000.0,
            logged_in: self.config.agents,
            free_agents: self.free.len() as u32,
            busy,
            ringing_ages_s: self.ringing.values().map(|&d| secs(d)).collect(),
            waiting_calls: self.waiting.len() as u32,
            estimates: self.estimator.estimates(),
            abandon: self.window,
            abandon_target: self.config.abandon_target,
            connect_rule_s: CONNECT_RULE_MS as f64 / 1000.0,
            ring_timeout_s: self.config.ring_timeout_s,
            max_lines: self.config.agents * self.config.lines_per_agent,
            inbound: InboundLoad::default(),
        }
    }

    /// The hotline's load as the pacer is shown it: measured, not configured.
    fn inbound_load(&mut self) -> InboundLoad {
        let on_inbound = self
            .agents
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Agent::Talk { inbound: true, .. } | Agent::Wrap { inbound: true, .. }
                )
            })
            .count() as u32;
        let est = self.estimator.estimates();
        let fallback = est.talk.mean() + est.wrap_mean_s;
        self.hotline.load(self.now_ms, on_inbound, fallback)
    }

    /// A hotline caller arrives: a free agent takes them at once, or they queue.
    fn arrival(&mut self) {
        let id = self.hotline.arrive(self.now_ms);
        match self.free.pop_front() {
            Some(agent) => {
                self.hotline.answered(0);
                self.engage(agent, true);
            }
            None => {
                let patience_ms = self.hotline.enqueue(id, self.now_ms);
                self.schedule(self.now_ms + patience_ms, Event::GiveUp(id));
            }
        }
        if let Some(gap) = self.hotline.next_arrival_in_ms() {
            self.schedule(self.now_ms + gap, Event::Arrival);
        }
    }

    fn dial(&mut self) {
        let (fate, ring_s) = self.draw_fate();
        let id = self.calls.len();
        self.calls.push(Call {
            dialed_ms: self.now_ms,
            fate,
        });
        self.ringing.insert(id, self.now_ms);
        self.tally.dials += 1;
        self.schedule(self.now_ms + (ring_s * 1000.0) as u64, Event::RingEnd(id));
    }

    /// Draws a dial's fate and how long it rings.
    fn draw_fate(&mut self) -> (Fate, f64) {
        let c = &self.config;
        let timeout = c.ring_timeout_s;
        let roll: f64 = self.rng.random();
        if roll < c.answer_rate + c.machine_rate {
            let fate = if roll < c.answer_rate {
                Fate::Human
            } else {
                Fate::Machine
            };
            let delay = LogNormal::with_mean(c.ring_mean_s, RING_SIGMA);
            let ring = (0..10)
                .map(|_| delay.from_standard_normal(normal(&mut self.rng)))
                .find(|&s| s < timeout)
                .unwrap_or(timeout * 0.9);
            (fate, ring)
        } else if self.rng.random_bool(BUSY_SHARE) {
            (Fate::Unanswered, self.rng.random_range(1.0..5.0))
        } else {
            (Fate::Unanswered, timeout)
        }
    }

    fn ring_end(&mut self, id: usize) {
        self.ringing.remove(&id);
        let call = self.calls[id];
        let rang_s = (self.now_ms - call.dialed_ms) as f64 / 1000.0;
        match call.fate {
            Fate::Human => {
                self.estimator.dial_resolved(Some(rang_s));
                self.tally.answered(self.now_ms);
                self.window.answered += 1;
                match self.free.pop_front() {
                    Some(agent) => self.connect(agent, 0),
                    None => {
                        self.waiting.push_back((id, self.now_ms));
                        self.schedule(self.now_ms + CONNECT_RULE_MS, Event::Deadline(id));
                    }
                }
            }
            Fate::Machine => {
                self.estimator.dial_resolved(None);
                self.tally.machine_answers += 1;
            }
            Fate::Unanswered => self.estimator.dial_resolved(None),
        }
    }

    fn deadline(&mut self, id: usize) {
        if let Some(pos) = self.waiting.iter().position(|&(c, _)| c == id) {
            let (_, answered_ms) = self.waiting.remove(pos).unwrap_or((id, self.now_ms));
            self.tally.abandoned(answered_ms);
            self.window.abandoned += 1;
        }
    }

    /// An outbound answer reaches `agent` after `wait_ms`.
    fn connect(&mut self, agent: usize, wait_ms: u64) {
        self.tally.connected(wait_ms);
        self.engage(agent, false);
    }

    /// `agent` starts talking to an owner (outbound) or a caller (`inbound`).
    fn engage(&mut self, agent: usize, inbound: bool) {
        self.agents[agent] = Agent::Talk {
            since_ms: self.now_ms,
            busy_since_ms: self.now_ms,
            inbound,
        };
        let mean = if inbound {
            self.hotline
                .talk_mean_s(self.config.talk_s, self.config.wrap_s)
        } else {
            self.config.talk_s
        };
        let talk_s = self.draw_talk(mean);
        self.schedule(
            self.now_ms + (talk_s * 1000.0) as u64,
            Event::TalkEnd(agent),
        );
    }

    fn draw_talk(&mut self, mean: f64) -> f64 {
        let talk = match self.config.talk_shape {
            TalkShape::Lognormal => {
                LogNormal::with_mean(mean, TALK_SIGMA).from_standard_normal(normal(&mut self.rng))
            }
            TalkShape::Exponential => -mean * (1.0 - self.rng.random::<f64>()).ln(),
        };
        talk.max(1.0)
    }

    fn talk_end(&mut self, agent: usize) {
        if let Agent::Talk {
            since_ms,
            busy_since_ms,
            inbound,
        } = self.agents[agent]
        {
            // Inbound talks are learned too: the model predicts when any busy agent is free.
            self.estimator
                .talk_ended((self.now_ms - since_ms) as f64 / 1000.0);
            self.agents[agent] = Agent::Wrap {
                since_ms: self.now_ms,
                busy_since_ms,
                inbound,
            };
            let wrap_ms = (self.config.wrap_s * 1000.0) as u64;
            self.schedule(self.now_ms + wrap_ms, Event::WrapEnd(agent));
        }
    }

    fn wrap_end(&mut self, agent: usize) {
        if let Agent::Wrap {
            since_ms,
            busy_since_ms,
            inbound,
        } = self.agents[agent]
        {
            self.estimator
                .wrap_ended((self.now_ms - since_ms) as f64 / 1000.0);
            let busy_ms = self.now_ms - busy_since_ms;
            self.tally.busy_ms += busy_ms;
            if inbound {
                self.tally.inbound_busy_ms += busy_ms;
                self.hotline.handled(busy_ms as f64 / 1000.0);
            }
            self.agents[agent] = Agent::Free;
            // Callers first: a queued caller before any outbound answer.
            if self.hotline.take_next(self.now_ms) {
                self.engage(agent, true);
                return;
            }
            match self.waiting.pop_front() {
                Some((_, answered_ms)) => self.connect(agent, self.now_ms - answered_ms),
                None => self.free.push_back(agent),
            }
        }
    }

    fn finish(mut self) -> SimReport {
        for agent in &self.agents {
            if let Agent::Talk {
                busy_since_ms,
                inbound,
                ..
            }
            | Agent::Wrap {
                busy_since_ms,
                inbound,
                ..
            } = *agent
            {
                self.tally.busy_ms += self.end_ms - busy_since_ms;
                if inbound {
                    self.tally.inbound_busy_ms += self.end_ms - busy_since_ms;
                }
            }
        }
        let head = ReportHead {
            mode: self.config.mode.to_string(),
            agents: self.config.agents,
            seed: self.config.seed,
            learned_answer_rate: self.estimator.estimates().answer_rate,
        };
        let agent_ms = f64::from(self.config.agents) * self.end_ms as f64;
        let inbound = self.hotline.report(self.tally.inbound_busy_ms, agent_ms);
        self.tally.report(head, self.end_ms, inbound)
    }
}

/// The connect rule: an answered owner waits at most this long for an agent.
const CONNECT_RULE_MS: u64 = 2000;
/// Log-space spread of simulated answer delays.
const RING_SIGMA: f64 = 0.5;
/// Log-space spread of simulated log-normal talk times.
const TALK_SIGMA: f64 = 0.6;
/// Share of unanswered dials that end early (busy, failed) rather than at the time-out.
const BUSY_SHARE: f64 = 0.2;

/// A standard normal draw (Box–Muller), since only `rand`'s core is a dependency.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
