//! Inbound first: the agents a campaign's pacer may count on, once the hotline has taken what it
//! needs (architecture, key decision 5).
//!
//! The hotline holds back two things before any mode decides:
//!
//! - **Queued callers** (`waiting`). Each takes the next agent who is free, before any outbound
//!   answer, so they come off the agents free now and then off the busy agents most likely to
//!   be free soonest (the ones the predictive model would otherwise count on first).
//! - **The reserve**: the agents the hotline needs by Erlang C ([`super::erlang`]) to answer
//!   `service_target` of its callers within `answer_within_s`, for the measured arrivals times
//!   the mean handle time, minus the agents already on inbound calls (never negative).
//!
//! The two count differently, and only the predictive model tells them apart (the other modes
//! look at the free agents alone):
//!
//! - Queued callers are certain claims on the next agents to be free, so they come off the
//!   soon-free agents too: the model must not dial owners for agents a caller will take first,
//!   or those owners are abandoned.
//! - The reserve is a hedge for callers who have not called yet, so it comes off the agents
//!   free now only: the pacer leaves that many idle, and an arriving caller finds one at once.
//!   It is not taken off the soon-free agents as well. Within the ring time-out plus the
//!   connect rule (~27 s) only `λ·27` callers arrive (0.45 at 60 an hour), against a reserve of
//!   about two agents, and each arriving caller already takes the next freed agent before any
//!   outbound answer; holding the reserve against the soon-free agents too counts the same
//!   agents twice. In the simulator the two differ by less than the seeds do: 20 agents, 60
//!   calls an hour of 180 s, 8 h, seeds 1-3, occupancy 83.0/81.7/83.2 % with the double count
//!   against 83.8/82.0/82.8 % without, service level 99.6-99.8 % against 99.4-99.6 %; with
//!   600 s outbound talks (seeds 1-2) 85.6/83.9 % against 86.7/84.4 % at 94.6/95.7 % against
//!   94.9/96.0 %. So the cheaper rule is kept; no protection at all (`service_target = 0`) let
//!   the level fall to 78.5 % on the long talks.
//!
//! The reserve is the Erlang C figure for a dedicated group, which in a blend is generous
//! (freed outbound agents serve callers too): what it costs the outbound side is about
//! `reserve / logged_in` of the occupancy, and `service_target = 0` turns it off. The
//! benchmark in the README (`benches/blended.sh`) shows both sides.
//!
//! The default [`InboundLoad`](super::state::InboundLoad) holds back nothing, and then the
//! state is passed through untouched: every decision is exactly what it was without a hotline.

use std::borrow::Cow;

use super::erlang::agents_needed;
use super::model::free_by;
use super::state::ObservedState;

/// What the hotline holds back from a campaign's pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holdback {
    /// Queued callers, each taking the next free agent.
    pub queued: u32,
    /// Agents the service target needs beyond those already on inbound calls.
    pub reserve: u32,
}

impl Holdback {
    /// The hotline's holdback for this state.
    pub fn of(state: &ObservedState) -> Holdback {
        let load = state.inbound;
        let needed = agents_needed(
            load.arrivals_per_s,
            load.handle_s,
            load.service_target,
            load.answer_within_s,
            state.logged_in,
        );
        Holdback {
            queued: load.waiting,
            reserve: needed.saturating_sub(load.on_inbound),
        }
    }

    /// All agents held back.
    pub fn total(&self) -> u32 {
        self.queued.saturating_add(self.reserve)
    }
}

/// The state as outbound pacing sees it: the queued callers taken off the free agents and then
/// off the busy agents most likely to be free within the ring time-out plus the connect rule;
/// the reserve taken off the free agents left. Borrowed unchanged when nothing is held back.
pub fn for_outbound(state: &ObservedState) -> Cow<'_, ObservedState> {
    let held = Holdback::of(state);
    if held.total() == 0 {
        return Cow::Borrowed(state);
    }
    let mut out = state.clone();
    let queued_on_free = held.queued.min(out.free_agents);
    out.free_agents -= queued_on_free;
    out.free_agents = out.free_agents.saturating_sub(held.reserve);
    let from_busy = (held.queued - queued_on_free) as usize;
    if from_busy > 0 {
        let horizon = state.ring_timeout_s + state.connect_rule_s;
        let est = &state.estimates;
        let chance = |i: usize| free_by(&state.busy[i], horizon, est.talk, est.wrap_mean_s);
        let mut order: Vec<usize> = (0..state.busy.len()).collect();
        // Soonest free first; ties keep their order, so the result is deterministic.
        order.sort_by(|&a, &b| chance(b).total_cmp(&chance(a)));
        let mut keep = vec![true; state.busy.len()];
        for &i in order.iter().take(from_busy) {
            keep[i] = false;
        }
        out.busy = state
            .busy
            .iter()
            .zip(keep)
            .filter_map(|(b, k)| k.then_some(*b))
            .collect();
    }
    Cow::Owned(out)
}
