//! The observed state a pacer decides from: a snapshot of agents, calls in flight and the
//! estimators, with `now` passed in. Nothing here reads a clock, so the live dialer and the
//! simulator build the same struct and get the same answer.

use super::estimate::Estimates;

/// What a logged-in agent who is not free is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentPhase {
    /// Talking to an owner.
    Talk,
    /// Writing up the last call.
    Wrap,
}

/// A busy agent: the phase and how long it has lasted, from which the model derives when the
/// agent is expected to be free (talk residual plus wrap-up, or what is left of the wrap-up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BusyAgent {
    /// Talk or wrap-up.
    pub phase: AgentPhase,
    /// Seconds since the phase began.
    pub elapsed_s: f64,
}

/// Answered and abandoned counts over the measuring window (24 hours or the campaign so far).
/// Machine-classified answers stay out, as the abandon rule says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AbandonWindow {
    /// Human answers in the window.
    pub answered: u32,
    /// Of those, answered calls that found no agent within the connect rule.
    pub abandoned: u32,
}

impl AbandonWindow {
    /// The measured abandon share (0 when nothing was answered).
    pub fn rate(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            f64::from(self.abandoned) / f64::from(self.answered)
        }
    }
}

/// Everything a pacer may look at. Times are seconds since the campaign started.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedState {
    /// Now, in seconds since the campaign started.
    pub now_s: f64,
    /// Agents logged in (free or busy).
    pub logged_in: u32,
    /// Agents free now (idle on their nailed-up leg).
    pub free_agents: u32,
    /// Agents talking or wrapping up.
    pub busy: Vec<BusyAgent>,
    /// Ages (seconds since dialled) of the calls ringing now.
    pub ringing_ages_s: Vec<f64>,
    /// Answered calls waiting for an agent (each has at most the connect rule left).
    pub waiting_calls: u32,
    /// The estimators' current beliefs.
    pub estimates: Estimates,
    /// The measured abandon counts.
    pub abandon: AbandonWindow,
    /// The campaign's abandon cap, as a share (0.03 for 3 %).
    pub abandon_target: f64,
    /// Seconds an answered owner may wait for an agent before the call counts as abandoned (2).
    pub connect_rule_s: f64,
    /// Seconds a dial rings before it is given up as no answer.
    pub ring_timeout_s: f64,
    /// Upper bound on calls in flight (trunk channels), whatever the mode says.
    pub max_lines: u32,
    /// The hotline's load on the same agents (the default: no inbound at all).
    pub inbound: InboundLoad,
}

/// The inbound hotline's load on the agents a campaign dials for: callers come first, so the
/// pacer holds back the agents they need (see [`super::reserve`]). The default is no inbound
/// traffic and no service target, which leaves every pacing decision as it was.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InboundLoad {
    /// Hotline callers queued for an agent now.
    pub waiting: u32,
    /// Agents in an inbound conversation or its wrap-up now (already counted in `busy`).
    pub on_inbound: u32,
    /// Measured arrival rate of hotline callers, per second.
    pub arrivals_per_s: f64,
    /// Mean inbound handle time (talk plus wrap-up), seconds.
    pub handle_s: f64,
    /// Share of callers to answer within `answer_within_s` (0.8); 0 leaves the hotline
    /// unprotected (no reserve, though queued callers still take the next agents).
    pub service_target: f64,
    /// Seconds within which `service_target` of the callers are to be answered (20).
    pub answer_within_s: f64,
}

impl ObservedState {
    /// Calls in flight that may still need an agent: ringing plus waiting.
    pub fn outstanding(&self) -> u32 {
        u32::try_from(self.ringing_ages_s.len())
            .unwrap_or(u32::MAX)
            .saturating_add(self.waiting_calls)
    }

    /// How many more calls the line limit allows now.
    pub fn line_room(&self) -> u32 {
        self.max_lines.saturating_sub(self.outstanding())
    }
}
