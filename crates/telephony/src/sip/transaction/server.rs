//! The non-INVITE server transaction (RFC 3261 §17.2.2).

use std::time::{Duration, Instant};

use super::{TimerTable, Timers, TxOutput, TxTimer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Answers a request once and replays the last response to retransmissions until Timer J.
#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    last: Option<Vec<u8>>,
    reliable: bool,
    timers: Timers,
    table: TimerTable,
}

impl ServerNonInvite {
    /// A transaction for a newly received request.
    pub fn new(reliable: bool, timers: Timers) -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
            last: None,
            reliable,
            timers,
            table: TimerTable::default(),
        }
    }

    /// Whether the transaction has ended and may be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// The next timer deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.table.next()
    }

    /// The request arrived again: replay the last response, if any.
    pub fn on_retransmission(&mut self) -> Vec<TxOutput> {
        match self.state {
            State::Proceeding | State::Completed => {
                self.last.clone().map(TxOutput::Send).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The transaction user responds with `status`.
    pub fn respond(&mut self, now: Instant, status: u16, bytes: Vec<u8>) -> Vec<TxOutput> {
        if matches!(self.state, State::Completed | State::Terminated) {
            return Vec::new();
        }
        self.last = Some(bytes.clone());
        if status >= 200 {
            self.state = State::Completed;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.t1 * 64
            };
            self.table.arm(TxTimer::J, now + wait);
        } else {
            self.state = State::Proceeding;
        }
        vec![TxOutput::Send(bytes)]
    }

    /// Fires the timers due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<TxOutput> {
        if self.table.expired(now).contains(&TxTimer::J) {
            self.state = State::Terminated;
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_the_final_response_until_timer_j() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(false, Timers::default());
        assert!(tx.on_retransmission().is_empty());
        assert_eq!(tx.respond(t0, 200, b"200".to_vec()).len(), 1);
        assert!(tx.respond(t0, 500, b"500".to_vec()).is_empty());
        let TxOutput::Send(again) = &tx.on_retransmission()[0] else {
            panic!()
        };
        assert_eq!(again, b"200");
        tx.on_timeout(t0 + Duration::from_secs(31));
        assert!(!tx.is_terminated());
        tx.on_timeout(t0 + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }
}
