//! Outgoing calls: INVITE, provisional and final responses, digest retries, the ring
//! time-out and CANCEL, and the ACK of a 2xx.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::Header;
use rsip::Method;
use rsip::headers::UntypedHeader;
use rsip::headers::{CSeq, CallId, From, MaxForwards, To, Via};

use super::call::{Call, Direction, State};
use super::{CallError, CallEvent, CallKey, Endpoint, Owner, Side, Transport};
use crate::sip::Disposition;
use crate::sip::auth::{self, Credentials};
use crate::sip::message::{self, Parsed};

/// Everything needed to place one call.
#[derive(Debug, Clone)]
pub struct Dial {
    /// Request-URI and To: `sip:13800138000@trunk.example` or `sip:owner@127.0.0.1:5080`.
    pub to: String,
    /// Our identity in From (the caller ID the owner sees): `sip:4008001234@huifang`.
    pub from: String,
    /// Optional display name in From.
    pub display_name: Option<String>,
    /// The next hop: the target itself, or the trunk's outbound proxy.
    pub next_hop: SocketAddr,
    /// When true, the next hop is an outbound proxy and gets a loose-route Route header.
    pub via_proxy: bool,
    /// UDP or TCP.
    pub transport: Transport,
    /// Our SDP offer.
    pub offer: String,
    /// How long to let it ring before CANCEL (raised to the endpoint's minimum).
    pub ring_timeout: Duration,
    /// Answers to 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Extra headers (name, value), e.g. `P-Asserted-Identity` or `X-Campaign`.
    pub headers: Vec<(String, String)>,
}

/// Why a dial was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// The target is not a `sip:`/`sips:` URI.
    #[error("`{0}` is not a SIP URI (sip:user@host[:port])")]
    BadUri(String),
    /// An extra header has a name that is not a token or a value with a line break.
    #[error("bad extra header `{0}`")]
    BadHeader(String),
}

impl Endpoint {
    /// Places a call: sends the INVITE and returns the call's key at once; progress comes as
    /// [`CallEvent`]s.
    pub fn dial(&mut self, now: Instant, dial: Dial) -> Result<CallKey, DialError> {
        if message::host_port(&dial.to).is_none() {
            return Err(DialError::BadUri(dial.to));
        }
        if message::host_port(&dial.from).is_none() {
            return Err(DialError::BadUri(dial.from));
        }
        for (name, value) in &dial.headers {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!%*+`'~".contains(&b));
            if !token || value.contains(['\r', '\n']) {
                return Err(DialError::BadHeader(format!("{name}: {value}")));
            }
        }
        let key = CallKey(self.new_key());
        let call_id = format!("{}@huifang", self.token(20));
        let local_tag = self.token(10);
        let route_set = if dial.via_proxy {
            vec![format!("<sip:{};lr>", dial.next_hop)]
        } else {
            Vec::new()
        };
        let ring = dial.ring_timeout.max(self.config.min_ring_timeout);
        let local_uri = match &dial.display_name {
            Some(name) => format!("\"{}\" <{}>", name.replace('"', ""), dial.from),
            None => format!("<{}>", dial.from),
        };
        let call = Call {
            direction: Direction::Outgoing,
            state: State::Early,
            call_id: call_id.clone(),
            local_tag,
            remote_tag: None,
            local_uri,
            remote_uri: format!("<{}>", dial.to),
            local_cseq: 1,
            remote_cseq: None,
            remote_target: dial.to.clone(),
            route_set,
            peers: vec![super::admission::canonical(dial.next_hop.ip())],
            destination: dial.next_hop,
            transport: dial.transport,
            local_sdp: Some(dial.offer.clone()),
            invite_branch: None,
            invite_bytes: None,
            request_uri: dial.to.clone(),
            extra_headers: dial
                .headers
                .iter()
                .map(|(n, v)| message::other(n, v.clone()))
                .collect(),
            credentials: dial.credentials.clone(),
            auth_tries: 0,
            ring_deadline: Some(now + ring),
            cancel_wanted: None,
            ack: None,
            invite: None,
            ok: None,
            forget_at: None,
            timer_armed: None,
        };
        self.calls.insert(key, Box::new(call));
        self.by_call_id.insert(call_id, key);
        self.send_invite(now, key, None);
        self.schedule_call(key);
        Ok(key)
    }

    /// Builds and sends the (next) INVITE of an outgoing call, with the dial's extra headers
    /// and, on a retry, the answer to a digest challenge.
    fn send_invite(&mut self, now: Instant, key: CallKey, authorization: Option<Header>) {
        let transport = match self.calls.get(&key) {
            Some(call) => call.transport,
            None => return,
        };
        let (via, branch) = self.via(transport);
        let contact = self.contact(transport);
        let user_agent = self.config.user_agent.clone();
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let mut headers = vec![
            Header::Via(Via::new(via)),
            Header::MaxForwards(MaxForwards::new("70")),
            Header::From(From::new(call.local_party())),
            Header::To(To::new(call.remote_uri.clone())),
            Header::CallId(CallId::new(call.call_id.clone())),
            Header::CSeq(CSeq::new(format!("{} INVITE", call.local_cseq))),
            Header::Contact(rsip::headers::Contact::new(contact)),
        ];
        for route in &call.route_set {
            headers.push(Header::Route(rsip::headers::Route::new(route.clone())));
        }
        headers.push(message::other("Allow", super::ALLOW));
        headers.push(message::other("User-Agent", user_agent));
        headers.push(Header::ContentType(rsip::headers::ContentType::new(
            "application/sdp",
        )));
        headers.extend(call.extra_headers.iter().cloned());
        headers.extend(authorization);
        let body = call.local_sdp.clone().unwrap_or_default();
        let bytes =
            message::build_request(Method::Invite, &call.request_uri, headers, body.as_bytes());
        call.invite_branch = Some(branch);
        call.invite_bytes = Some(bytes.clone());
        let (to, transport) = (call.destination, call.transport);
        self.start_client(now, Owner::Call(key), to, transport, bytes);
    }

    /// A response reached the call through one of its client transactions.
    pub(super) fn uac_response(&mut self, now: Instant, key: CallKey, response: Parsed) {
        let status = response.status().unwrap_or(0);
        match response.cseq_method {
            Method::Invite => self.uac_invite_response(now, key, status, response),
            // A proxy or trunk that challenges our BYE: answer it, or the far end stays up.
            Method::Bye
                if matches!(status, 401 | 407) && self.retry_bye_with_auth(now, key, &response) => {
            }
            Method::Bye | Method::Cancel if status >= 200 => {
                if let Some(call) = self.calls.get(&key)
                    && call.state == State::Terminating
                    && response.cseq_method == Method::Bye
                {
                    let disposition = call.cancel_wanted.unwrap_or(Disposition::Answered);
                    self.end(now, key, disposition, None, Side::Local, None);
                }
            }
            _ => {}
        }
    }

    fn uac_invite_response(&mut self, now: Instant, key: CallKey, status: u16, response: Parsed) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if response.branch.as_str() != call.invite_branch.as_deref().unwrap_or_default() {
            return; // an answer to an INVITE we already replaced (auth retry)
        }
        match status {
            100..=199 if call.cancel_wanted.is_some() && call.state == State::Early => {
                // We hung up (or the ring time-out passed) before any provisional response,
                // 100 Trying included: CANCEL now that we may (RFC 3261 §9.1).
                let reason = call.cancel_wanted.unwrap_or(Disposition::Cancelled);
                self.send_cancel(now, key, reason);
            }
            100 => self.emit(key, CallEvent::Trying),
            101..=199 => {
                let event = match response.body_text() {
                    Some(sdp)
                        if status == 183
                            || response.content_type().as_deref() == Some("application/sdp") =>
                    {
                        CallEvent::EarlyMedia { sdp }
                    }
                    _ => CallEvent::Ringing,
                };
                self.emit(key, event);
            }
            200..=299 => self.uac_answered(now, key, response),
            _ => {
                let call_state = call.state;
                let cancelled = call.cancel_wanted;
                let had_credentials = call.credentials.is_some();
                if matches!(status, 401 | 407) && self.retry_with_auth(now, key, &response) {
                    return;
                }
                let mut reason = reason_of(&response);
                let (disposition, by) = match (status, cancelled) {
                    (487, Some(why)) => (why, Side::Local),
                    (401 | 407, _) => {
                        let tries = self.calls.get(&key).map_or(0, |c| c.auth_tries);
                        reason = Some(auth_failure(had_credentials, tries));
                        (Disposition::AuthFailed, Side::Remote)
                    }
                    _ => (Disposition::from_status(status), Side::Remote),
                };
                if call_state != State::Ended {
                    self.end(now, key, disposition, Some(status), by, reason);
                }
            }
        }
    }

    fn uac_answered(&mut self, now: Instant, key: CallKey, response: Parsed) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.ack.is_some() {
            // A retransmitted 2xx (our ACK was lost): the same ACK again, nothing more.
            self.uac_late_2xx(now, key, &response);
            return;
        }
        call.remote_tag = response.to_tag.clone();
        if let Some(target) = response.contact_uri() {
            call.add_peer(&target);
            call.remote_target = target;
        }
        let record_route = response.headers("Record-Route");
        if !record_route.is_empty() {
            call.route_set = record_route.into_iter().rev().collect();
            if let Some(first) = call.route_set.first().cloned() {
                call.add_peer(&first);
            }
        }
        call.ring_deadline = None;
        // The INVITE's challenges are over; in-dialog requests (a challenged BYE) count afresh.
        call.auth_tries = 0;
        let ack = self.build_ack(key, response.cseq);
        if let Some(call) = self.calls.get_mut(&key) {
            call.ack = ack.clone();
        }
        if let Some(ack) = ack {
            let (to, transport) = self.dialog_next_hop(key);
            self.send(to, transport, ack);
        }
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        match (call.state, call.cancel_wanted) {
            (State::Early, None) => {
                call.state = State::Established;
                let sdp = response.body_text();
                self.emit(key, CallEvent::Answered { sdp });
            }
            (State::Early | State::Terminating, Some(_)) => {
                // Answered while our CANCEL was on its way: take the call down with a BYE.
                self.send_bye(now, key);
            }
            _ => {}
        }
        self.schedule_call(key);
    }

    /// A 2xx retransmission after the INVITE transaction ended: re-send the ACK.
    pub(super) fn uac_late_2xx(&mut self, _now: Instant, key: CallKey, _response: &Parsed) {
        let Some(ack) = self.calls.get(&key).and_then(|c| c.ack.clone()) else {
            return;
        };
        let (to, transport) = self.dialog_next_hop(key);
        self.send(to, transport, ack);
    }

    fn build_ack(&mut self, key: CallKey, cseq: u32) -> Option<Vec<u8>> {
        let transport = self.calls.get(&key)?.transport;
        let (via, _) = self.via(transport);
        let call = self.calls.get(&key)?;
        let mut headers = vec![
            Header::Via(Via::new(via)),
            Header::MaxForwards(MaxForwards::new("70")),
            Header::From(From::new(call.local_party())),
            Header::To(To::new(call.remote_party())),
            Header::CallId(CallId::new(call.call_id.clone())),
            Header::CSeq(CSeq::new(format!("{cseq} ACK"))),
        ];
        for route in &call.route_set {
            headers.push(Header::Route(rsip::headers::Route::new(route.clone())));
        }
        Some(message::build_request(
            Method::Ack,
            &call.remote_target,
            headers,
            b"",
        ))
    }

    /// Answers a 401/407 by re-sending the INVITE with credentials; false when we cannot.
    fn retry_with_auth(&mut self, now: Instant, key: CallKey, response: &Parsed) -> bool {
        let cnonce = self.token(16);
        let Some(call) = self.calls.get_mut(&key) else {
            return false;
        };
        let Some(credentials) = call.credentials.clone() else {
            return false;
        };
        let stale = response
            .header("WWW-Authenticate")
            .or_else(|| response.header("Proxy-Authenticate"))
            .and_then(|c| auth::Challenge::parse(&c).ok())
            .is_some_and(|c| c.stale);
        // One try per challenge; a second challenge means the password is wrong, unless the
        // server only says the nonce went stale.
        if call.auth_tries >= 1 && !stale || call.auth_tries >= 3 || call.cancel_wanted.is_some() {
            return false;
        }
        let Ok(header) = auth::answer_challenge(
            response,
            Method::Invite,
            &call.request_uri,
            &credentials,
            &cnonce,
            1,
        ) else {
            return false;
        };
        call.auth_tries += 1;
        call.local_cseq += 1;
        self.send_invite(now, key, Some(header));
        true
    }

    /// The ring time-out: CANCEL. When our CANCEL already went out, this is its 64*T1 guard:
    /// no final response came for the INVITE, so it counts as cancelled (RFC 3261 §9.1).
    pub(super) fn uac_ring_timeout(&mut self, now: Instant, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.state != State::Terminating {
            self.send_cancel(now, key, Disposition::NoAnswer);
            return;
        }
        let why = call.cancel_wanted.unwrap_or(Disposition::Cancelled);
        if let Some(branch) = call.invite_branch.clone() {
            self.clients.remove(&super::TxKeyRef {
                branch: &branch,
                method: message::method_name(Method::Invite),
            });
        }
        let reason = Some("no final response to the INVITE after our CANCEL".to_string());
        self.end(now, key, why, None, Side::Local, reason);
    }

    /// Sends a CANCEL for the pending INVITE, or remembers to once a provisional arrives.
    pub(super) fn send_cancel(&mut self, now: Instant, key: CallKey, why: Disposition) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        // The first reason stands: a ring time-out after a hang-up is still a hang-up.
        call.cancel_wanted.get_or_insert(why);
        let Some(branch) = call.invite_branch.clone() else {
            return;
        };
        let proceeding = matches!(
            self.clients
                .get(&super::TxKeyRef { branch: &branch, method: message::method_name(Method::Invite) })
                .map(|e| &e.tx),
            Some(super::ClientTx::Invite(tx)) if tx.is_proceeding()
        );
        if !proceeding {
            return; // RFC 3261 §9.1: wait for a provisional response before cancelling
        }
        let guard = now + self.config.timers.t1 * 64;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.state = State::Terminating;
        call.ring_deadline = Some(guard);
        let Some(invite) = call
            .invite_bytes
            .as_deref()
            .and_then(|b| message::parse(b).ok())
        else {
            return;
        };
        let mut headers = vec![
            Header::Via(Via::new(invite.header("Via").unwrap_or_default())),
            Header::MaxForwards(MaxForwards::new("70")),
            Header::From(From::new(invite.header("From").unwrap_or_default())),
            Header::To(To::new(invite.header("To").unwrap_or_default())),
            Header::CallId(CallId::new(invite.call_id.clone())),
            Header::CSeq(CSeq::new(format!("{} CANCEL", invite.cseq))),
        ];
        for route in invite.headers("Route") {
            headers.push(Header::Route(rsip::headers::Route::new(route)));
        }
        let bytes = message::build_request(Method::Cancel, &call.request_uri, headers, b"");
        let (to, transport) = (call.destination, call.transport);
        self.start_client(now, Owner::Call(key), to, transport, bytes);
        self.schedule_call(key);
    }

    /// Hangs up: CANCEL before an answer, BYE after, a rejection for an unanswered incoming call.
    pub fn hangup(&mut self, now: Instant, key: CallKey) -> Result<(), CallError> {
        let call = self.calls.get(&key).ok_or(CallError::Unknown(key))?;
        match (call.direction, call.state) {
            (_, State::Ended | State::Terminating) => Ok(()),
            (Direction::Outgoing, State::Early) => {
                self.send_cancel(now, key, Disposition::Cancelled);
                Ok(())
            }
            (Direction::Incoming, State::Early) => self.reject(now, key, 480),
            (_, State::Established) => {
                self.send_bye(now, key);
                Ok(())
            }
        }
    }

    /// What a client transaction's answer means to its owner.
    pub(super) fn tu_response(&mut self, now: Instant, owner: Owner, response: Parsed) {
        match owner {
            Owner::Call(key) => self.uac_response(now, key, response),
            Owner::Reg(key) => self.reg_response(now, key, response),
            Owner::None => {}
        }
    }

    /// A client transaction got no answer at all (Timer B or F).
    pub(super) fn tu_timeout(&mut self, now: Instant, owner: Owner, method: Method) {
        match owner {
            Owner::Call(key) => {
                let Some(call) = self.calls.get(&key) else {
                    return;
                };
                let disposition = match (method, call.cancel_wanted) {
                    // Timer B only fires when nothing at all came back (a 1xx cancels it), so
                    // the trunk or phone is unreachable: that is no "no answer", even if our
                    // ring time-out passed meanwhile. Only our own hang-up stays "cancelled".
                    (Method::Invite, Some(Disposition::Cancelled)) => Disposition::Cancelled,
                    (Method::Invite, _) => Disposition::Timeout,
                    (_, _) if call.state == State::Terminating => {
                        call.cancel_wanted.unwrap_or(Disposition::Answered)
                    }
                    _ => return,
                };
                let reason = format!(
                    "no response to {method} (timer {})",
                    if method == Method::Invite { "B" } else { "F" }
                );
                self.end(now, key, disposition, None, Side::Local, Some(reason));
            }
            Owner::Reg(key) => self.reg_failed(now, key, None, "registrar did not answer".into()),
            Owner::None => {}
        }
    }
}

/// Why a digest challenge ended the call, in words an operator can act on.
fn auth_failure(had_credentials: bool, tries: u32) -> String {
    match (had_credentials, tries) {
        (false, _) => "authentication required but no credentials are configured \
                       (give --username and --password, or the trunk's)"
            .into(),
        (true, 0) => {
            "cannot answer the server's digest challenge (unsupported algorithm or qop)".into()
        }
        (true, _) => "the server refused our credentials: wrong user name or password".into(),
    }
}

/// The Reason header of a response, or the standard phrase of its status, for people.
fn reason_of(response: &Parsed) -> Option<String> {
    if let Some(reason) = response.header("Reason") {
        return Some(reason);
    }
    message::reason_phrase(response.status()?).map(str::to_string)
}
