//! SIP transactions (RFC 3261 §17, with the RFC 6026 `Accepted` states), one file per kind.
//!
//! A transaction is a small state machine with its own timers. It is fed messages and the
//! current time, and answers with [`TxOutput`]s; it never reads a clock or touches a socket.

mod client;
mod client_inv;
mod server;
mod server_inv;

pub use client::ClientNonInvite;
pub use client_inv::ClientInvite;
pub use server::ServerNonInvite;
pub use server_inv::ServerInvite;

use std::time::{Duration, Instant};

use super::message::Parsed;

/// The RFC 3261 base timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate (500 ms): the first retransmission interval.
    pub t1: Duration,
    /// The longest retransmission interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// How long a message may stay in the network (5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// The transaction timers of RFC 3261 (A–K) and RFC 6026 (L, M), by their RFC names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxTimer {
    /// INVITE client: retransmit the request.
    A,
    /// INVITE client: give up waiting for a response.
    B,
    /// INVITE client: absorb retransmitted final responses.
    D,
    /// Non-INVITE client: retransmit the request.
    E,
    /// Non-INVITE client: give up.
    F,
    /// Non-INVITE client: absorb retransmitted responses.
    K,
    /// INVITE server: retransmit the final non-2xx response.
    G,
    /// INVITE server: give up waiting for the ACK.
    H,
    /// INVITE server: absorb retransmitted ACKs.
    I,
    /// Non-INVITE server: absorb retransmitted requests.
    J,
    /// INVITE server (RFC 6026): absorb retransmitted INVITEs after a 2xx.
    L,
    /// INVITE client (RFC 6026): pass retransmitted 2xx to the dialog.
    M,
}

/// What a transaction asks of the layers around it.
#[derive(Debug)]
pub enum TxOutput {
    /// Bytes to (re)transmit to the transaction's peer.
    Send(Vec<u8>),
    /// A response for the transaction user (client transactions).
    Response(Box<Parsed>),
    /// Timer B, F or H fired: the peer never answered.
    Timeout,
}

/// A transaction's armed timers: a handful at most, so a small vector is the table.
#[derive(Debug, Default, Clone)]
pub(crate) struct TimerTable(Vec<(TxTimer, Instant)>);

impl TimerTable {
    pub(crate) fn arm(&mut self, timer: TxTimer, at: Instant) {
        self.cancel(timer);
        self.0.push((timer, at));
    }

    pub(crate) fn cancel(&mut self, timer: TxTimer) {
        self.0.retain(|(t, _)| *t != timer);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().map(|(_, at)| *at).min()
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<TxTimer> {
        let mut due: Vec<_> = self
            .0
            .iter()
            .filter(|(_, at)| *at <= now)
            .copied()
            .collect();
        due.sort_by_key(|(_, at)| *at);
        self.0.retain(|(_, at)| *at > now);
        due.into_iter().map(|(t, _)| t).collect()
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::sip::message::{self, Parsed};

    pub(crate) fn request(method: &str, branch: &str) -> Parsed {
        let text = format!(
            "{method} sip:owner@127.0.0.1:5080 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
             From: <sip:400@127.0.0.1>;tag=f1\r\n\
             To: <sip:owner@127.0.0.1:5080>\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        message::parse(text.as_bytes()).unwrap()
    }

    pub(crate) fn response(status: u16, method: &str, branch: &str) -> Parsed {
        let text = format!(
            "SIP/2.0 {status} Whatever\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
             From: <sip:400@127.0.0.1>;tag=f1\r\n\
             To: <sip:owner@127.0.0.1:5080>;tag=t1\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        message::parse(text.as_bytes()).unwrap()
    }
}
