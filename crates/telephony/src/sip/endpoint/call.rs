//! One call's dialog state, its events, and its own timers (ring time-out, 2xx
//! retransmission until the ACK, the linger after the end).

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Endpoint, TimerRef, Transport};
use crate::Digit;
use crate::sip::Disposition;
use crate::sip::auth::Credentials;
use crate::sip::message::Parsed;

/// Identifies a call within one [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CallKey(pub u64);

impl fmt::Display for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which side ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// We did (hang-up, ring time-out, error).
    Local,
    /// The peer did (BYE, CANCEL, a final error response).
    Remote,
}

/// What happened to a call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A new incoming call: answer, ring or reject it.
    Incoming {
        /// From header (name-addr).
        from: String,
        /// To header.
        to: String,
        /// Request-URI.
        uri: String,
        /// The SDP offer, if the INVITE carried one.
        offer: Option<String>,
    },
    /// 100 Trying: the next hop has the INVITE.
    Trying,
    /// 180 Ringing (or 183 without SDP).
    Ringing,
    /// 183 with SDP: the network plays tones or announcements.
    EarlyMedia {
        /// The early SDP answer.
        sdp: String,
    },
    /// 200 OK to our INVITE (we sent the ACK), or our 200 was sent for an incoming call.
    Answered {
        /// The SDP answer of the peer (outgoing calls).
        sdp: Option<String>,
    },
    /// The ACK for our 200 arrived (incoming calls).
    Confirmed,
    /// The peer changed its media (re-INVITE or UPDATE); we answered with our unchanged SDP.
    RemoteSdp {
        /// The new offer.
        sdp: String,
    },
    /// A DTMF digit sent by SIP INFO.
    Digit(Digit),
    /// The call is over.
    Ended {
        /// What the dialer should make of it.
        disposition: Disposition,
        /// The final SIP status that ended it, if one did.
        status: Option<u16>,
        /// Who ended it.
        by: Side,
        /// A human-readable reason (Reason header, phrase, or our own).
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Outgoing,
    Incoming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// INVITE sent / received, no final response.
    Early,
    /// 2xx sent or received.
    Established,
    /// BYE or CANCEL sent; waiting for its end.
    Terminating,
    /// Over; remembered for `linger` to absorb retransmissions.
    Ended,
}

/// A 2xx we retransmit until its ACK (RFC 3261 §13.3.1.4), for the first INVITE or a
/// re-INVITE alike.
#[derive(Debug, Clone)]
pub(super) struct OkRetransmit {
    pub(super) bytes: Vec<u8>,
    /// The CSeq of the INVITE answered: only the ACK with the same number stops us.
    pub(super) cseq: u32,
    /// Where the INVITE came from.
    pub(super) to: SocketAddr,
    /// Whether its ACK confirms the call (the first INVITE; not a re-INVITE).
    pub(super) confirms: bool,
    pub(super) next: Instant,
    pub(super) interval: Duration,
    pub(super) give_up: Instant,
}

impl OkRetransmit {
    /// Starts the T1-doubling schedule; on a reliable transport only the 64*T1 give-up.
    pub(super) fn new(
        bytes: Vec<u8>,
        invite: (u32, SocketAddr),
        confirms: bool,
        now: Instant,
        t1: Duration,
        reliable: bool,
    ) -> OkRetransmit {
        let interval = if reliable { t1 * 64 } else { t1 };
        OkRetransmit {
            bytes,
            cseq: invite.0,
            to: invite.1,
            confirms,
            next: now + interval,
            interval,
            give_up: now + t1 * 64,
        }
    }
}

#[derive(Debug)]
pub(super) struct Call {
    pub(super) direction: Direction,
    pub(super) state: State,
    pub(super) call_id: String,
    pub(super) local_tag: String,
    pub(super) remote_tag: Option<String>,
    /// Our From (outgoing) or To (incoming) without tag.
    pub(super) local_uri: String,
    /// Their To (outgoing) or From (incoming) without tag.
    pub(super) remote_uri: String,
    pub(super) local_cseq: u32,
    pub(super) remote_cseq: Option<u32>,
    pub(super) remote_target: String,
    pub(super) route_set: Vec<String>,
    /// The addresses this dialog has used (where the INVITE went or came from, its remote
    /// target, its first route): in-dialog requests are taken only from these or the
    /// endpoint's access list.
    pub(super) peers: Vec<std::net::IpAddr>,
    /// Where requests go when neither route nor target names an IP address.
    pub(super) destination: SocketAddr,
    pub(super) transport: Transport,
    pub(super) local_sdp: Option<String>,
    // Outgoing only.
    pub(super) invite_branch: Option<String>,
    pub(super) invite_bytes: Option<Vec<u8>>,
    pub(super) request_uri: String,
    /// The dial's extra headers, repeated in an INVITE re-sent with credentials.
    pub(super) extra_headers: Vec<rsip::Header>,
    pub(super) credentials: Option<Credentials>,
    pub(super) auth_tries: u32,
    pub(super) ring_deadline: Option<Instant>,
    pub(super) cancel_wanted: Option<Disposition>,
    pub(super) ack: Option<Vec<u8>>,
    // Incoming only, boxed: calls are kept in a map by value and thousands of ended ones linger
    // at a time; inline, these two made every call's slot 900 bytes instead of 480.
    pub(super) invite: Option<Box<Parsed>>,
    pub(super) ok: Option<Box<OkRetransmit>>,
    pub(super) forget_at: Option<Instant>,
    /// The deadline last pushed on the timer heap for this call: pushed again only when it
    /// moves.
    pub(super) timer_armed: Option<Instant>,
}

impl Call {
    /// Notes one more address of the dialog's far end (an IP literal in a URI; names are not
    /// resolved here).
    pub(super) fn add_peer(&mut self, uri_or_hop: &str) {
        if let Some(ip) = super::admission::peer_of(uri_or_hop)
            && !self.peers.contains(&ip)
        {
            self.peers.push(ip);
        }
    }

    /// Our side of the dialog as a From (outgoing) or To (incoming) value, with our tag.
    pub(super) fn local_party(&self) -> String {
        format!("{};tag={}", self.local_uri, self.local_tag)
    }

    /// Their side, with their tag once known.
    pub(super) fn remote_party(&self) -> String {
        match &self.remote_tag {
            Some(tag) => format!("{};tag={tag}", self.remote_uri),
            None => self.remote_uri.clone(),
        }
    }

    /// The earliest of this call's own timers.
    pub(super) fn deadline(&self) -> Option<Instant> {
        [
            self.ring_deadline,
            self.ok.as_ref().map(|ok| ok.next.min(ok.give_up)),
            self.forget_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Endpoint {
    pub(super) fn schedule_call(&mut self, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if let Some(at) = call.deadline()
            && call.timer_armed != Some(at)
        {
            call.timer_armed = Some(at);
            self.arm(at, TimerRef::Call(key));
        }
    }

    pub(super) fn call_timeout(&mut self, now: Instant, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        // Whichever entry fired, the next deadline is pushed afresh below.
        call.timer_armed = None;
        if call.forget_at.is_some_and(|at| at <= now) {
            let id = call.call_id.clone();
            // An INVITE left proceeding (no final response ever) has no timer of its own.
            if let Some(branch) = call.invite_branch.take() {
                self.clients.remove(&super::TxKeyRef {
                    branch: &branch,
                    method: crate::sip::message::method_name(rsip::Method::Invite),
                });
            }
            self.calls.remove(&key);
            self.by_call_id.remove(&id);
            return;
        }
        if call.ring_deadline.is_some_and(|at| at <= now) {
            call.ring_deadline = None;
            self.uac_ring_timeout(now, key);
        }
        if let Some(call) = self.calls.get_mut(&key)
            && let Some(ok) = call.ok.as_mut()
        {
            if ok.give_up <= now {
                // Unconfirmed, the call failed; a re-INVITE's lost ACK ends an answered one.
                let disposition = if ok.confirms {
                    Disposition::Failed
                } else {
                    Disposition::Answered
                };
                call.ok = None;
                // No ACK for our 200 (RFC 3261 §13.3.1.4): end the dialog with a BYE.
                self.send_bye(now, key);
                self.end(
                    now,
                    key,
                    disposition,
                    None,
                    Side::Local,
                    Some("no ACK for our 200 OK".into()),
                );
            } else if ok.next <= now {
                ok.interval = (ok.interval * 2).min(self.config.timers.t2);
                ok.next = now + ok.interval;
                let bytes = ok.bytes.clone();
                let (to, transport) = (ok.to, call.transport);
                self.send(to, transport, bytes);
            }
        }
        self.schedule_call(key);
    }

    /// Marks a call over, reports it once, and lets it linger for late retransmissions.
    pub(super) fn end(
        &mut self,
        now: Instant,
        key: CallKey,
        disposition: Disposition,
        status: Option<u16>,
        by: Side,
        reason: Option<String>,
    ) {
        let linger = self.config.linger;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.state == State::Ended {
            return;
        }
        call.state = State::Ended;
        call.ring_deadline = None;
        call.ok = None;
        call.forget_at = Some(now + linger);
        // What lingers only answers retransmissions (tags, route, the ACK): drop the rest
        // now rather than after `linger`, since thousands of ended calls linger at a time.
        call.invite_bytes = None;
        call.invite = None;
        call.local_sdp = None;
        call.extra_headers = Vec::new();
        call.credentials = None;
        self.emit(
            key,
            CallEvent::Ended {
                disposition,
                status,
                by,
                reason,
            },
        );
        self.schedule_call(key);
    }
}
