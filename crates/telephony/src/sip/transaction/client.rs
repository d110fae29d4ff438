//! The non-INVITE client transaction (RFC 3261 §17.1.2): BYE, CANCEL, REGISTER, OPTIONS, INFO.

use std::time::{Duration, Instant};

use super::{TimerTable, Timers, TxOutput, TxTimer};
use crate::sip::message::{self, Parsed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Sends a request with Timer E back-off (capped at T2) until a final response or Timer F.
#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    request: Vec<u8>,
    branch: String,
    reliable: bool,
    timers: Timers,
    table: TimerTable,
    interval_e: Duration,
}

impl ClientNonInvite {
    /// Starts the transaction: the returned outputs send the request.
    pub fn start(
        now: Instant,
        request: Vec<u8>,
        reliable: bool,
        timers: Timers,
    ) -> Result<(ClientNonInvite, Vec<TxOutput>), message::MessageError> {
        let branch = message::top_branch(&request)?;
        let mut table = TimerTable::default();
        if !reliable {
            table.arm(TxTimer::E, now + timers.t1);
        }
        table.arm(TxTimer::F, now + timers.t1 * 64);
        let out = vec![TxOutput::Send(request.clone())];
        let tx = ClientNonInvite {
            state: State::Trying,
            request,
            branch,
            reliable,
            timers,
            table,
            interval_e: timers.t1,
        };
        Ok((tx, out))
    }

    /// The branch that identifies this transaction.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Whether the transaction has ended and may be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether a final response has been received.
    pub fn is_completed(&self) -> bool {
        matches!(self.state, State::Completed | State::Terminated)
    }

    /// The next timer deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.table.next()
    }

    /// Feeds a response whose branch matches.
    pub fn on_response(&mut self, now: Instant, response: Parsed) -> Vec<TxOutput> {
        let status = response.status().unwrap_or(0);
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                vec![TxOutput::Response(Box::new(response))]
            }
            (State::Trying | State::Proceeding, 200..) => {
                self.state = State::Completed;
                self.table.clear();
                // Never sent again: free it now rather than when Timer K ends the transaction.
                self.request = Vec::new();
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                self.table.arm(TxTimer::K, now + wait);
                vec![TxOutput::Response(Box::new(response))]
            }
            _ => Vec::new(),
        }
    }

    /// Fires the timers due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        for timer in self.table.expired(now) {
            match timer {
                TxTimer::E if matches!(self.state, State::Trying | State::Proceeding) => {
                    self.interval_e = if self.state == State::Trying {
                        (self.interval_e * 2).min(self.timers.t2)
                    } else {
                        self.timers.t2
                    };
                    self.table.arm(TxTimer::E, now + self.interval_e);
                    out.push(TxOutput::Send(self.request.clone()));
                }
                TxTimer::F if matches!(self.state, State::Trying | State::Proceeding) => {
                    self.state = State::Terminated;
                    self.table.clear();
                    out.push(TxOutput::Timeout);
                }
                TxTimer::K => {
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
    use crate::sip::transaction::test_util::{request, response};

    #[test]
    fn timer_e_backs_off_to_t2_then_f_times_out() {
        let t0 = Instant::now();
        let bytes = request("BYE", "z9hG4bKbye").msg.to_string().into_bytes();
        let (mut tx, _) = ClientNonInvite::start(t0, bytes, false, Timers::default()).unwrap();
        let mut fired = Vec::new();
        let mut timed_out = false;
        while let Some(at) = tx.deadline() {
            let out = tx.on_timeout(at);
            if out.iter().any(|o| matches!(o, TxOutput::Timeout)) {
                timed_out = true;
                assert_eq!(at - t0, Duration::from_secs(32));
                break;
            }
            fired.push((at - t0).as_millis());
        }
        assert!(timed_out);
        assert_eq!(&fired[..5], &[500, 1500, 3500, 7500, 11500]);
    }

    #[test]
    fn final_response_completes_and_k_terminates() {
        let t0 = Instant::now();
        let bytes = request("OPTIONS", "z9hG4bKo").msg.to_string().into_bytes();
        let (mut tx, _) = ClientNonInvite::start(t0, bytes, false, Timers::default()).unwrap();
        assert_eq!(
            tx.on_response(t0, response(200, "OPTIONS", "z9hG4bKo"))
                .len(),
            1
        );
        assert!(
            tx.on_response(t0, response(200, "OPTIONS", "z9hG4bKo"))
                .is_empty()
        );
        assert!(tx.is_completed());
        tx.on_timeout(t0 + Duration::from_secs(5));
        assert!(tx.is_terminated());
    }
}
