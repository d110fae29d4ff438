//! The INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4).

use std::time::{Duration, Instant};

use rsip::Method;
use rsip::headers::UntypedHeader;
use rsip::headers::{CSeq, CallId, From, MaxForwards, To, Via};

use super::{TimerTable, Timers, TxOutput, TxTimer};
use crate::sip::message::{self, Parsed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Proceeding,
    Accepted,
    Completed,
    Terminated,
}

/// Sends an INVITE until a response comes, ACKs non-2xx finals itself and hands every response
/// (and, while `Accepted`, every 2xx retransmission) to the transaction user.
#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    request: Vec<u8>,
    branch: String,
    reliable: bool,
    timers: Timers,
    table: TimerTable,
    interval_a: Duration,
    ack: Option<Vec<u8>>,
}

impl ClientInvite {
    /// Starts the transaction: the returned outputs send the INVITE.
    pub fn start(
        now: Instant,
        request: Vec<u8>,
        reliable: bool,
        timers: Timers,
    ) -> Result<(ClientInvite, Vec<TxOutput>), message::MessageError> {
        let branch = message::top_branch(&request)?;
        let mut table = TimerTable::default();
        if !reliable {
            table.arm(TxTimer::A, now + timers.t1);
        }
        table.arm(TxTimer::B, now + timers.t1 * 64);
        let out = vec![TxOutput::Send(request.clone())];
        let tx = ClientInvite {
            state: State::Calling,
            request,
            branch,
            reliable,
            timers,
            table,
            interval_a: timers.t1,
            ack: None,
        };
        Ok((tx, out))
    }

    /// The branch that identifies this transaction (and its CANCEL).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Whether a provisional response has arrived (only then may a CANCEL be sent).
    pub fn is_proceeding(&self) -> bool {
        self.state == State::Proceeding
    }

    /// Whether the transaction has ended and may be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// The next timer deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.table.next()
    }

    /// Feeds a response whose branch matches.
    pub fn on_response(&mut self, now: Instant, response: Parsed) -> Vec<TxOutput> {
        let status = response.status().unwrap_or(0);
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                // Timer B only bounds the Calling state (§17.1.1.2): a call may ring longer
                // than 64*T1; the TU's ring time-out and CANCEL end it.
                self.table.cancel(TxTimer::A);
                self.table.cancel(TxTimer::B);
                vec![TxOutput::Response(Box::new(response))]
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.table.clear();
                // The INVITE is never sent again, and lingering transactions (32 s of them at
                // thousands of calls a second) should not hold every call's SDP offer.
                self.request = Vec::new();
                self.table.arm(TxTimer::M, now + self.timers.t1 * 64);
                vec![TxOutput::Response(Box::new(response))]
            }
            (State::Accepted, 200..=299) => vec![TxOutput::Response(Box::new(response))],
            (State::Calling | State::Proceeding, 300..) => {
                self.state = State::Completed;
                self.table.clear();
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                self.table.arm(TxTimer::D, now + wait);
                self.ack = self.ack_for(&response);
                self.request = Vec::new();
                let mut out: Vec<TxOutput> =
                    self.ack.clone().map(TxOutput::Send).into_iter().collect();
                out.push(TxOutput::Response(Box::new(response)));
                out
            }
            (State::Completed, 300..) => self.ack.clone().map(TxOutput::Send).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Fires the timers due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        for timer in self.table.expired(now) {
            match timer {
                TxTimer::A if self.state == State::Calling => {
                    self.interval_a *= 2;
                    self.table.arm(TxTimer::A, now + self.interval_a);
                    out.push(TxOutput::Send(self.request.clone()));
                }
                TxTimer::B if matches!(self.state, State::Calling | State::Proceeding) => {
                    self.terminate();
                    out.push(TxOutput::Timeout);
                }
                TxTimer::D | TxTimer::M => self.terminate(),
                _ => {}
            }
        }
        out
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.table.clear();
    }

    /// The ACK of a non-2xx final response: same branch, To from the response (§17.1.1.3).
    /// The INVITE is parsed only here, on this less common path.
    fn ack_for(&self, response: &Parsed) -> Option<Vec<u8>> {
        let req = &message::parse(&self.request).ok()?;
        let uri = match &req.msg {
            rsip::SipMessage::Request(r) => r.uri.to_string(),
            rsip::SipMessage::Response(_) => String::new(),
        };
        let mut headers = vec![
            rsip::Header::Via(Via::new(req.header("Via").unwrap_or_default())),
            rsip::Header::MaxForwards(MaxForwards::new("70")),
            rsip::Header::From(From::new(req.header("From").unwrap_or_default())),
            rsip::Header::To(To::new(response.header("To").unwrap_or_default())),
            rsip::Header::CallId(CallId::new(req.call_id.clone())),
            rsip::Header::CSeq(CSeq::new(format!("{} ACK", req.cseq))),
        ];
        for route in req.headers("Route") {
            headers.push(rsip::Header::Route(rsip::headers::Route::new(route)));
        }
        Some(message::build_request(Method::Ack, &uri, headers, b""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::transaction::test_util::{request, response};

    fn invite_bytes() -> Vec<u8> {
        let p = request("INVITE", "z9hG4bKinv");
        p.msg.to_string().into_bytes()
    }

    fn sends(out: &[TxOutput]) -> usize {
        out.iter()
            .filter(|o| matches!(o, TxOutput::Send(_)))
            .count()
    }

    #[test]
    fn timer_a_doubles_until_timer_b_gives_up() {
        let t0 = Instant::now();
        let (mut tx, out) =
            ClientInvite::start(t0, invite_bytes(), false, Timers::default()).unwrap();
        assert_eq!(sends(&out), 1);
        let mut at = t0;
        let mut retransmits = Vec::new();
        while let Some(next) = tx.deadline() {
            at = next;
            let out = tx.on_timeout(at);
            if out.iter().any(|o| matches!(o, TxOutput::Timeout)) {
                break;
            }
            if sends(&out) == 1 {
                retransmits.push((at - t0).as_millis());
            }
        }
        // A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B at 32 s.
        assert_eq!(retransmits, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!((at - t0).as_secs(), 32);
        assert!(tx.is_terminated());
    }

    #[test]
    fn provisional_stops_retransmission_and_busy_is_acked() {
        let t0 = Instant::now();
        let (mut tx, _) =
            ClientInvite::start(t0, invite_bytes(), false, Timers::default()).unwrap();
        let out = tx.on_response(t0, response(180, "INVITE", "z9hG4bKinv"));
        assert!(matches!(out[0], TxOutput::Response(_)));
        assert!(tx.is_proceeding());
        assert!(tx.on_timeout(t0 + Duration::from_secs(2)).is_empty());
        // Nor does Timer B end a transaction that is ringing.
        assert!(tx.on_timeout(t0 + Duration::from_secs(40)).is_empty());
        assert!(!tx.is_terminated());
        let out = tx.on_response(t0, response(486, "INVITE", "z9hG4bKinv"));
        let TxOutput::Send(ack) = &out[0] else {
            panic!("no ACK")
        };
        let ack = message::parse(ack).unwrap();
        assert_eq!(ack.method(), Some(Method::Ack));
        assert_eq!(ack.branch, "z9hG4bKinv");
        assert_eq!(ack.to_tag.as_deref(), Some("t1"));
        // A retransmitted 486 is ACKed again but not delivered twice.
        let again = tx.on_response(t0, response(486, "INVITE", "z9hG4bKinv"));
        assert_eq!(sends(&again), 1);
        assert_eq!(again.len(), 1);
        tx.on_timeout(t0 + Duration::from_secs(33));
        assert!(tx.is_terminated());
    }

    #[test]
    fn retransmitted_2xx_reach_the_dialog_while_accepted() {
        let t0 = Instant::now();
        let (mut tx, _) = ClientInvite::start(t0, invite_bytes(), true, Timers::default()).unwrap();
        assert_eq!(
            tx.on_response(t0, response(200, "INVITE", "z9hG4bKinv"))
                .len(),
            1
        );
        assert_eq!(
            tx.on_response(t0, response(200, "INVITE", "z9hG4bKinv"))
                .len(),
            1
        );
        tx.on_timeout(t0 + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }
}
