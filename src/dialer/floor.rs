//! The live floor of one paced campaign on this node: calls ringing and owners waiting for an
//! agent, the estimators they feed, and the [`ObservedState`] the pacer decides from.
//!
//! Attempts report what happens to their call ([`Floor::dialled`], [`Floor::answered`], ...);
//! the campaign worker asks for a snapshot before each pacing decision. Times are read from the
//! node's injected clock, so a test can drive the pacer's input with a [`ManualClock`].
//!
//! [`ManualClock`]: crate::clock::ManualClock

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::agents::AgentDesk;
use crate::clock::{SharedClock, seconds_between};
use crate::pacing::estimate::{Estimator, Priors};
use crate::pacing::state::{AbandonWindow, ObservedState};

/// Seconds an answered owner may wait for an agent before the call is abandoned.
pub const CONNECT_RULE_S: f64 = 2.0;

#[derive(Debug)]
struct Inner {
    ringing: HashMap<i64, DateTime<Utc>>,
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
    clock: SharedClock,
    opened: DateTime<Utc>,
    inner: Mutex<Inner>,
}

impl Floor {
    /// An empty floor whose times come from `clock`.
    pub fn new(clock: SharedClock) -> Floor {
        Floor {
            opened: clock.now(),
            clock,
            inner: Mutex::new(Inner {
                ringing: HashMap::new(),
                alerting: std::collections::HashSet::new(),
                waiting: 0,
                connected: 0,
                estimator: Estimator::new(Priors::default()),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The call to contact `key` went out.
    pub fn dialled(&self, key: i64) {
        let now = self.clock.now();
        self.lock().ringing.insert(key, now);
    }

    /// The owner answered: no longer ringing, now waiting for an agent.
    pub fn answered(&self, key: i64) {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.alerting.remove(&key);
        if let Some(since) = inner.ringing.remove(&key) {
            let ring = seconds_between(since, now);
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
        let now = self.clock.now();
        let (logged_in, free_agents, busy) = desk.snapshot();
        let mut inner = self.lock();
        for (talk, wrap) in desk.drain_finished() {
            inner.estimator.talk_ended(talk);
            inner.estimator.wrap_ended(wrap);
        }
        ObservedState {
            now_s: seconds_between(self.opened, now),
            logged_in,
            free_agents,
            busy,
            ringing_ages_s: inner
                .ringing
                .values()
                .map(|&t| seconds_between(t, now))
                .collect(),
            waiting_calls: inner.waiting,
            estimates: inner.estimator.estimates(),
            abandon,
            abandon_target,
            connect_rule_s: CONNECT_RULE_S,
            ring_timeout_s,
            max_lines,
            inbound: crate::pacing::state::InboundLoad::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;
    use tokio::sync::watch;

    use super::*;
    use crate::clock::ManualClock;
    use crate::dialer::agents::AgentConfig;
    use crate::telephony::transport::{UserAgent, UserAgentConfig};

    /// The pacer's input is measured on the injected clock: with a manual clock standing
    /// still nothing ages, and moving it ages ringing calls and the floor by exactly that much.
    #[tokio::test]
    async fn the_pacers_input_moves_with_the_injected_clock() {
        let manual = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap());
        let clock: SharedClock = Arc::new(manual.clone());
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let (_stop, shutdown) = watch::channel(false);
        let config = AgentConfig {
            agents: Vec::new(),
            wrap: Duration::from_secs(20),
            talk_limit: Duration::from_secs(600),
            caller_id: "4008001234".into(),
        };
        let desk = AgentDesk::start(&ua, &config, clock.clone(), shutdown);
        let floor = Floor::new(clock);
        let observe = || floor.observe(&desk, AbandonWindow::default(), 0.03, 30.0, 10);

        floor.dialled(1);
        floor.dialled(2);
        std::thread::sleep(Duration::from_millis(20));
        let still = observe();
        assert_eq!(still.now_s, 0.0, "the wall clock leaked into the floor");
        assert_eq!(still.ringing_ages_s, vec![0.0, 0.0]);

        manual.advance(chrono::Duration::seconds(4));
        floor.answered(1);
        manual.advance(chrono::Duration::milliseconds(1500));
        let later = observe();
        assert_eq!(later.now_s, 5.5);
        assert_eq!(later.ringing_ages_s, vec![5.5]);
        assert_eq!(later.waiting_calls, 1);
        assert_eq!(later.connect_rule_s, CONNECT_RULE_S);
    }
}
