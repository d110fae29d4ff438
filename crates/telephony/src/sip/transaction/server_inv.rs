//! The INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §8.5–8.7).

use std::time::{Duration, Instant};

use super::{TimerTable, Timers, TxOutput, TxTimer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

/// Answers an INVITE: replays the last provisional to retransmissions, retransmits a non-2xx
/// final (Timer G) until its ACK (or Timer H), and after a 2xx absorbs INVITE retransmissions
/// (Timer L) while the dialog retransmits the 2xx itself.
#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    last: Option<Vec<u8>>,
    reliable: bool,
    timers: Timers,
    table: TimerTable,
    interval_g: Duration,
}

impl ServerInvite {
    /// A transaction for a newly received INVITE.
    pub fn new(reliable: bool, timers: Timers) -> ServerInvite {
        ServerInvite {
            state: State::Proceeding,
            last: None,
            reliable,
            timers,
            table: TimerTable::default(),
            interval_g: timers.t1,
        }
    }

    /// Whether a final response has been sent.
    pub fn is_final(&self) -> bool {
        self.state != State::Proceeding
    }

    /// Whether the transaction has ended and may be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// The next timer deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.table.next()
    }

    /// The INVITE arrived again.
    pub fn on_retransmission(&mut self) -> Vec<TxOutput> {
        match self.state {
            State::Proceeding | State::Completed => {
                self.last.clone().map(TxOutput::Send).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// An ACK for a non-2xx final response arrived.
    pub fn on_ack(&mut self, now: Instant) {
        if self.state == State::Completed {
            self.state = State::Confirmed;
            self.table.clear();
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.t4
            };
            self.table.arm(TxTimer::I, now + wait);
        }
    }

    /// The transaction user responds.
    pub fn respond(&mut self, now: Instant, status: u16, bytes: Vec<u8>) -> Vec<TxOutput> {
        if self.state != State::Proceeding {
            return Vec::new();
        }
        self.last = Some(bytes.clone());
        match status {
            100..=199 => {}
            200..=299 => {
                self.state = State::Accepted;
                self.table.arm(TxTimer::L, now + self.timers.t1 * 64);
            }
            _ => {
                self.state = State::Completed;
                if !self.reliable {
                    self.table.arm(TxTimer::G, now + self.interval_g);
                }
                self.table.arm(TxTimer::H, now + self.timers.t1 * 64);
            }
        }
        vec![TxOutput::Send(bytes)]
    }

    /// Fires the timers due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        for timer in self.table.expired(now) {
            match timer {
                TxTimer::G if self.state == State::Completed => {
                    self.interval_g = (self.interval_g * 2).min(self.timers.t2);
                    self.table.arm(TxTimer::G, now + self.interval_g);
                    out.extend(self.last.clone().map(TxOutput::Send));
                }
                TxTimer::H if self.state == State::Completed => {
                    self.state = State::Terminated;
                    self.table.clear();
                    out.push(TxOutput::Timeout);
                }
                TxTimer::I | TxTimer::L => {
                    self.state = State::Terminated;
                    self.table.clear();
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_retransmitted_until_acked() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.respond(t0, 100, b"100".to_vec());
        assert_eq!(tx.on_retransmission().len(), 1);
        tx.respond(t0, 486, b"486".to_vec());
        assert!(tx.is_final());
        assert_eq!(tx.on_timeout(t0 + Duration::from_millis(500)).len(), 1);
        assert_eq!(tx.on_timeout(t0 + Duration::from_millis(1500)).len(), 1);
        tx.on_ack(t0 + Duration::from_secs(2));
        assert!(tx.on_timeout(t0 + Duration::from_secs(3)).is_empty());
        tx.on_timeout(t0 + Duration::from_secs(7));
        assert!(tx.is_terminated());
    }

    #[test]
    fn unacked_final_times_out_with_timer_h() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.respond(t0, 603, b"603".to_vec());
        let mut timed_out = false;
        while let Some(at) = tx.deadline() {
            if tx
                .on_timeout(at)
                .iter()
                .any(|o| matches!(o, TxOutput::Timeout))
            {
                assert_eq!(at - t0, Duration::from_secs(32));
                timed_out = true;
            }
        }
        assert!(timed_out);
    }
}
