//! The live floor of one paced campaign on this node: calls ringing and owners waiting for an
//! agent, the estimators they feed, and the [`ObservedState`] the pacer decides from.
//!
//! Attempts report what happens to their call ([`Floor::dialled`], [`Floor::answered`], ...);
//! the campaign worker asks for a snapshot before each pacing decision. Times are measured on
//! the monotonic clock since the floor opened.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::agents::AgentDesk;
use crate::pacing::estimate::{Estimator, Priors};
use crate::pacing::state::{AbandonWindow, ObservedState};

/// Seconds an answered owner may wait for an agent before the call is abandoned.
pub const CONNECT_RULE_S: f64 = 2.0;

#[derive(Debug)]
struct Inner {
    ringing: HashMap<i64, Instant>,
    /// Of the `ringing` calls, those whose phone is known to ring (180/183).
    alerting: std::collections::HashSet<i64>,
    waiting: u32,
    /// Answered calls in conversation (with an agent or the survey), for the wallboard.
    connected: u32,
    estimator: Estimator,
}

/// One campaign's calls in flight on this node.
#[derive(Debug)]
pub struct Floor {
    opened: Instant,
    inner: Mutex<Inner>,
}

impl Default for Floor {
    fn default() -> Floor {
        Floor {
            opened: Instant::now(),
            inner: Mutex::new(Inner {
                ringing: HashMap::new(),
                alerting: std::collections::HashSet::new(),
                waiting: 0,
                connected: 0,
                estimator: Estimator::new(Priors::default()),
            }),
        }
    }
}

impl Floor {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The call to contact `key` went out.
    pub fn dialled(&self, key: i64) {
        self.lock().ringing.insert(key, Instant::now());
    }

    /// The owner answered: no longer ringing, now waiting for an agent.
    pub fn answered(&self, key: i64) {
        let mut inner = self.lock();
        inner.alerting.remove(&key);
        if let Some(since) = inner.ringing.remove(&key) {
            let ring = since.elapsed().as_secs_f64();
            inner.estimator.dial_resolved(Some(ring));
        }
        inner.waiting += 1;
    }

    /// The waiting owner was bridged to an agent or given up (abandoned).
    pub fn left_waiting(&self) {
        let mut inner = self.lock();
        inner.waiting = inner.waiting.saturating_sub(1);
    }

    /// The call ended without a human answer (busy, no answer, failed).
    pub fn unanswered(&self, key: i64) {
        let mut inner = self.lock();
        inner.alerting.remove(&key);
        if inner.ringing.remove(&key).is_some() {
            inner.estimator.dial_resolved(None);
        }
    }

    /// The owner's phone rings (a provisional response came).
    pub fn alerting(&self, key: i64) {
        let mut inner = self.lock();
        if inner.ringing.contains_key(&key) {
            inner.alerting.insert(key);
        }
    }

    /// An answered owner is in conversation (with an agent or the survey) ...
    pub fn connected(&self) {
        self.lock().connected += 1;
    }

    /// ... and no longer.
    pub fn disconnected(&self) {
        let mut inner = self.lock();
        inner.connected = inner.connected.saturating_sub(1);
    }

    /// The counters the wallboard shows.
    pub fn live(&self) -> super::presence::LiveCounts {
        let inner = self.lock();
        let ringing = u32::try_from(inner.alerting.len()).unwrap_or(u32::MAX);
        let placed = u32::try_from(inner.ringing.len()).unwrap_or(u32::MAX);
        super::presence::LiveCounts {
            dialing: placed.saturating_sub(ringing),
            ringing,
            connected: inner.connected,
            waiting: inner.waiting,
        }
    }

    /// What the pacer sees now.
    pub fn observe(
        &self,
        desk: &AgentDesk,
        abandon: AbandonWindow,
        abandon_target: f64,
        ring_timeout_s: f64,
        max_lines: u32,
    ) -> ObservedState {
        let (logged_in, free_agents, busy) = desk.snapshot();
        let mut inner = self.lock();
        for (talk, wrap) in desk.drain_finished() {
            inner.estimator.talk_ended(talk);
            inner.estimator.wrap_ended(wrap);
        }
        ObservedState {
            now_s: self.opened.elapsed().as_secs_f64(),
            logged_in,
            free_agents,
            busy,
            ringing_ages_s: inner
                .ringing
                .values()
                .map(|t| t.elapsed().as_secs_f64())
                .collect(),
            waiting_calls: inner.waiting,
            estimates: inner.estimator.estimates(),
            abandon,
            abandon_target,
            connect_rule_s: CONNECT_RULE_S,
            ring_timeout_s,
            max_lines,
        }
    }
}
