//! The ACD: hotline callers waiting in queues, matched to free agents. Pure: the time is
//! passed in, nothing is awaited, so a manual clock drives it in tests exactly as the node's
//! clock does in the hotline.
//!
//! - Callers are served oldest first across all queues (a caller moved to an overflow queue
//!   keeps the time they called), each by an agent their queue lists.
//! - Among the agents who may take a caller, the one idle longest gets them (the usual ACD
//!   rule: it spreads the work and nobody sits idle while a colleague takes call after call).
//! - [`Acd::due`] says when a caller is to hear their place in line, and when their longest
//!   wait has passed.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::menu::QueueDef;
pub use crate::dialer::agents::FreeAgent;

/// A caller of this node's hotline (the key of their task, not a database id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallerKey(pub u64);

/// What a waiting caller is to hear or be offered now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEvent {
    /// Their place in line (1 is next).
    Announce {
        /// Whom.
        caller: CallerKey,
        /// Their place in their queue.
        position: usize,
    },
    /// Their queue's longest wait has passed.
    MaxWait {
        /// Whom.
        caller: CallerKey,
    },
}

#[derive(Debug, Clone)]
struct Waiter {
    caller: CallerKey,
    queue: String,
    /// When they called (kept through an overflow): the order they are served in.
    arrived: DateTime<Utc>,
    agents: Vec<String>,
    position_every: Option<TimeDelta>,
    next_announce: Option<DateTime<Utc>>,
    max_wait_at: Option<DateTime<Utc>>,
}

/// The callers waiting on one node.
#[derive(Debug, Default)]
pub struct Acd {
    /// In order of arrival.
    waiting: Vec<Waiter>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Acd {
    /// An empty ACD.
    pub fn new() -> Acd {
        Acd::default()
    }

    /// Puts a caller who called at `arrived` in `queue` at `now`; returns their place.
    pub fn join(
        &mut self,
        caller: CallerKey,
        queue: &QueueDef,
        arrived: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> usize {
        self.leave(caller);
        let every = queue.position_every.map(delta);
        let waiter = Waiter {
            caller,
            queue: queue.name.clone(),
            arrived,
            agents: queue.agents.clone(),
            position_every: every,
            next_announce: every.map(|e| now + e),
            max_wait_at: queue.max_wait.map(|w| now + delta(w)),
        };
        let at = self
            .waiting
            .iter()
            .position(|w| w.arrived > arrived)
            .unwrap_or(self.waiting.len());
        self.waiting.insert(at, waiter);
        self.position(caller).unwrap_or(1)
    }

    /// Takes a caller out (answered, hung up, called back later); false when not waiting.
    pub fn leave(&mut self, caller: CallerKey) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.caller != caller);
        self.waiting.len() != before
    }

    /// A caller's place in their queue (1 is next).
    pub fn position(&self, caller: CallerKey) -> Option<usize> {
        let me = self.waiting.iter().find(|w| w.caller == caller)?;
        let ahead = self
            .waiting
            .iter()
            .take_while(|w| w.caller != caller)
            .filter(|w| w.queue == me.queue)
            .count();
        Some(ahead + 1)
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How many wait in `queue`.
    pub fn len_of(&self, queue: &str) -> usize {
        self.waiting.iter().filter(|w| w.queue == queue).count()
    }

    /// The waiting callers oldest first, each as the agents their queue lists (empty:
    /// anyone), for the outbound side to leave those agents to them.
    pub fn wanted(&self) -> Vec<Vec<String>> {
        self.waiting.iter().map(|w| w.agents.clone()).collect()
    }

    /// How long the longest-waiting caller has waited since they called.
    pub fn longest_wait(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        self.waiting.first().map(|w| now - w.arrived)
    }

    /// Announcements and longest waits due at `now`; each is reported once (announcements
    /// again every queue's interval).
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<QueueEvent> {
        let mut events = Vec::new();
        let positions: Vec<(CallerKey, usize)> = self
            .waiting
            .iter()
            .map(|w| (w.caller, self.position(w.caller).unwrap_or(1)))
            .collect();
        for (waiter, (_, position)) in self.waiting.iter_mut().zip(positions) {
            if waiter.max_wait_at.is_some_and(|at| at <= now) {
                waiter.max_wait_at = None;
                events.push(QueueEvent::MaxWait {
                    caller: waiter.caller,
                });
            }
            if let (Some(at), Some(every)) = (waiter.next_announce, waiter.position_every)
                && at <= now
            {
                waiter.next_announce = Some(now + every);
                events.push(QueueEvent::Announce {
                    caller: waiter.caller,
                    position,
                });
            }
        }
        events
    }

    /// Who should take whom now: oldest caller first, each to the longest-idle free agent
    /// their queue lists. Nothing changes here; the hotline takes a caller out with
    /// [`Acd::leave`] once the agent is really theirs.
    pub fn assign(&self, free: &[FreeAgent]) -> Vec<(CallerKey, String)> {
        let mut free: Vec<&FreeAgent> = free.iter().collect();
        free.sort_by_key(|a| a.idle_since);
        let mut pairs = Vec::new();
        for waiter in &self.waiting {
            if free.is_empty() {
                break;
            }
            let serves =
                |a: &&FreeAgent| waiter.agents.is_empty() || waiter.agents.contains(&a.name);
            if let Some(i) = free.iter().position(serves) {
                pairs.push((waiter.caller, free.remove(i).name.clone()));
            }
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::menu::AfterMaxWait;
    use crate::telephony::Digit;

    fn queue(name: &str, agents: &[&str]) -> QueueDef {
        QueueDef {
            name: name.into(),
            agents: agents.iter().map(|a| a.to_string()).collect(),
            hold: vec!["hold".into()],
            position: vec!["queue-position".into()],
            position_every: Some(Duration::from_secs(30)),
            max_wait: Some(Duration::from_secs(120)),
            after_max_wait: AfterMaxWait::Callback,
            callback_key: Digit::parse('1').unwrap(),
            callback_offer: vec![],
            record_calls: true,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn free(name: &str, since: i64) -> FreeAgent {
        FreeAgent {
            name: name.into(),
            idle_since: at(since),
        }
    }

    #[test]
    fn places_count_within_a_queue_in_arrival_order() {
        let mut acd = Acd::new();
        let (repair, complaint) = (queue("repair", &[]), queue("complaint", &[]));
        assert_eq!(acd.join(CallerKey(1), &repair, at(0), at(0)), 1);
        assert_eq!(acd.join(CallerKey(2), &complaint, at(1), at(1)), 1);
        assert_eq!(acd.join(CallerKey(3), &repair, at(2), at(2)), 2);
        assert!(acd.leave(CallerKey(1)));
        assert!(!acd.leave(CallerKey(1)));
        assert_eq!(acd.position(CallerKey(3)), Some(1));
        assert_eq!(acd.len(), 2);
        assert_eq!(acd.len_of("repair"), 1);
        assert_eq!(acd.longest_wait(at(10)), Some(TimeDelta::seconds(9)));
    }

    #[test]
    fn positions_are_announced_every_interval_and_the_longest_wait_once() {
        let mut acd = Acd::new();
        let repair = queue("repair", &[]);
        acd.join(CallerKey(1), &repair, at(0), at(0));
        acd.join(CallerKey(2), &repair, at(5), at(5));
        assert!(acd.due(at(29)).is_empty());
        assert_eq!(
            acd.due(at(30)),
            vec![QueueEvent::Announce {
                caller: CallerKey(1),
                position: 1
            }]
        );
        assert_eq!(
            acd.due(at(35)),
            vec![QueueEvent::Announce {
                caller: CallerKey(2),
                position: 2
            }]
        );
        assert!(acd.due(at(36)).is_empty());
        acd.leave(CallerKey(1));
        // The next announcement to caller 2 says they moved up.
        assert_eq!(
            acd.due(at(65)),
            vec![QueueEvent::Announce {
                caller: CallerKey(2),
                position: 1
            }]
        );
        let events = acd.due(at(125));
        assert!(events.contains(&QueueEvent::MaxWait {
            caller: CallerKey(2)
        }));
        assert!(
            !acd.due(at(200)).contains(&QueueEvent::MaxWait {
                caller: CallerKey(2)
            }),
            "the longest wait is reported once"
        );
    }

    #[test]
    fn the_oldest_caller_gets_the_longest_idle_agent_of_their_queue() {
        let mut acd = Acd::new();
        let repair = queue("repair", &["li", "wang"]);
        let anyone = queue("consultation", &[]);
        acd.join(CallerKey(1), &anyone, at(0), at(0));
        acd.join(CallerKey(2), &repair, at(1), at(1));
        acd.join(CallerKey(3), &anyone, at(2), at(2));
        // zhao idles longest but does not take repairs.
        let agents = [free("wang", 50), free("zhao", 10), free("li", 40)];
        assert_eq!(
            acd.assign(&agents),
            vec![
                (CallerKey(1), "zhao".to_string()),
                (CallerKey(2), "li".to_string()),
                (CallerKey(3), "wang".to_string()),
            ]
        );
        // The oldest caller waits for the agent their queue lists; a later caller whose queue
        // the free agent serves is not held up behind them.
        let mut acd = Acd::new();
        acd.join(CallerKey(4), &queue("vip", &["zhao"]), at(0), at(0));
        acd.join(CallerKey(5), &repair, at(1), at(1));
        let only_li = [free("li", 40)];
        assert_eq!(acd.assign(&only_li), vec![(CallerKey(5), "li".to_string())]);
        assert_eq!(
            acd.wanted(),
            vec![
                vec!["zhao".to_string()],
                vec!["li".to_string(), "wang".to_string()]
            ]
        );
    }

    #[test]
    fn an_overflowed_caller_keeps_their_place_by_arrival() {
        let mut acd = Acd::new();
        let (repair, consultation) = (queue("repair", &[]), queue("consultation", &[]));
        acd.join(CallerKey(1), &consultation, at(10), at(10));
        acd.join(CallerKey(2), &repair, at(0), at(0));
        // Moved from repair to consultation at 130 s, having called at 0 s: ahead of 1.
        assert_eq!(acd.join(CallerKey(2), &consultation, at(0), at(130)), 1);
        assert_eq!(acd.position(CallerKey(1)), Some(2));
        assert_eq!(acd.len(), 2);
    }
}
