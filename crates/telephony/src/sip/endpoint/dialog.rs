//! Requests inside an established dialog: BYE either way, INFO digits, re-INVITE, ACK.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rsip::Header;
use rsip::Method;
use rsip::headers::UntypedHeader;
use rsip::headers::{CSeq, CallId, From, MaxForwards, To, Via};

use super::call::{Direction, OkRetransmit, State};
use super::{CallEvent, CallKey, Endpoint, Owner, Side, Transport};
use crate::Digit;
use crate::sip::Disposition;
use crate::sip::auth;
use crate::sip::message::{self, Parsed};

impl Endpoint {
    /// Where in-dialog requests go: the first route, else the remote target, when they name
    /// an IP address; else the address the call has used so far (we resolve no names here).
    pub(super) fn dialog_next_hop(&self, key: CallKey) -> (SocketAddr, Transport) {
        let Some(call) = self.calls.get(&key) else {
            return (self.config.local, Transport::Udp);
        };
        let hop = call
            .route_set
            .first()
            .map(|r| message::uri_of(r).to_string())
            .unwrap_or_else(|| call.remote_target.clone());
        let addr = message::host_port(&hop).and_then(|(host, port)| {
            let ip: IpAddr = host.parse().ok()?;
            Some(SocketAddr::new(ip, port.unwrap_or(5060)))
        });
        (addr.unwrap_or(call.destination), call.transport)
    }

    /// Builds an in-dialog request with the next local CSeq.
    fn dialog_request(
        &mut self,
        key: CallKey,
        method: Method,
        extra: Vec<Header>,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let transport = self.calls.get(&key)?.transport;
        let (via, _) = self.via(transport);
        let user_agent = self.config.user_agent.clone();
        let call = self.calls.get_mut(&key)?;
        call.local_cseq += 1;
        let mut headers = vec![
            Header::Via(Via::new(via)),
            Header::MaxForwards(MaxForwards::new("70")),
            Header::From(From::new(call.local_party())),
            Header::To(To::new(call.remote_party())),
            Header::CallId(CallId::new(call.call_id.clone())),
            Header::CSeq(CSeq::new(format!("{} {method}", call.local_cseq))),
        ];
        for route in &call.route_set {
            headers.push(Header::Route(rsip::headers::Route::new(route.clone())));
        }
        headers.push(message::other("User-Agent", user_agent));
        headers.extend(extra);
        Some(message::build_request(
            method,
            &call.remote_target,
            headers,
            body,
        ))
    }

    /// Sends a BYE and waits for its answer (or Timer F) to end the call.
    pub(super) fn send_bye(&mut self, now: Instant, key: CallKey) {
        let Some(bytes) = self.dialog_request(key, Method::Bye, Vec::new(), b"") else {
            return;
        };
        if let Some(call) = self.calls.get_mut(&key) {
            call.state = State::Terminating;
            call.ok = None;
        }
        let (to, transport) = self.dialog_next_hop(key);
        self.start_client(now, Owner::Call(key), to, transport, bytes);
    }

    /// Answers a 401/407 to our BYE by sending it again, once, with credentials (a new CSeq,
    /// same route); false when we cannot, and the BYE's final answer then ends the call.
    pub(super) fn retry_bye_with_auth(
        &mut self,
        now: Instant,
        key: CallKey,
        response: &Parsed,
    ) -> bool {
        let cnonce = self.token(16);
        let Some(call) = self.calls.get_mut(&key) else {
            return false;
        };
        let Some(credentials) = call.credentials.clone() else {
            return false;
        };
        if call.state != State::Terminating || call.auth_tries >= 1 {
            return false;
        }
        let Ok(authorization) = auth::answer_challenge(
            response,
            Method::Bye,
            &call.remote_target,
            &credentials,
            &cnonce,
            1,
        ) else {
            return false;
        };
        call.auth_tries += 1;
        let Some(bytes) = self.dialog_request(key, Method::Bye, vec![authorization], b"") else {
            return false;
        };
        let (to, transport) = self.dialog_next_hop(key);
        self.start_client(now, Owner::Call(key), to, transport, bytes);
        true
    }

    /// Sends an INFO in an established dialog (DTMF by `application/dtmf-relay`, say).
    pub fn send_info(
        &mut self,
        now: Instant,
        key: CallKey,
        content_type: &str,
        body: &str,
    ) -> Result<(), super::CallError> {
        let state = self.calls.get(&key).map(|c| c.state);
        if state != Some(State::Established) {
            return Err(super::CallError::State {
                call: key,
                action: "send INFO",
            });
        }
        let extra = vec![Header::ContentType(rsip::headers::ContentType::new(
            content_type,
        ))];
        if let Some(bytes) = self.dialog_request(key, Method::Info, extra, body.as_bytes()) {
            let (to, transport) = self.dialog_next_hop(key);
            self.start_client(now, Owner::None, to, transport, bytes);
        }
        Ok(())
    }

    /// The dialog of a request from one of its far ends (see [`Endpoint::dialog_of`]).
    pub(super) fn call_of(&self, req: &Parsed, from: SocketAddr) -> Option<CallKey> {
        self.dialog_of(req).filter(|&key| self.trusts(key, from))
    }

    /// The dialog of a new request, checked for order: RFC 3261 §12.2.2 refuses (500) a CSeq
    /// not above the last one; a replayed or forged older request changes nothing.
    fn call_in_order(&mut self, now: Instant, req: &Parsed, from: SocketAddr) -> Option<CallKey> {
        let Some(key) = self.call_of(req, from) else {
            self.reply(now, req, 481, None);
            return None;
        };
        let call = self.calls.get_mut(&key)?;
        if call.remote_cseq.is_some_and(|seq| req.cseq <= seq) {
            self.reply(now, req, 500, None);
            return None;
        }
        call.remote_cseq = Some(req.cseq);
        Some(key)
    }

    pub(super) fn dialog_bye(&mut self, now: Instant, from: SocketAddr, req: Parsed) {
        let Some(key) = self.call_in_order(now, &req, from) else {
            return;
        };
        self.reply(now, &req, 200, None);
        let reason = req.header("Reason");
        let state = self.calls.get(&key).map(|c| c.state);
        if matches!(
            state,
            Some(State::Established | State::Early | State::Terminating)
        ) {
            let disposition = match state {
                Some(State::Terminating) => self
                    .calls
                    .get(&key)
                    .and_then(|c| c.cancel_wanted)
                    .unwrap_or(Disposition::Answered),
                Some(State::Early) => {
                    // A BYE on an early dialog ends the pending INVITE too (RFC 3261 §15.1.2).
                    let pending = self.calls.get(&key).and_then(|c| {
                        (c.direction == Direction::Incoming)
                            .then(|| c.invite.clone())
                            .flatten()
                    });
                    if let Some(invite) = pending {
                        let tag = self.calls.get(&key).map(|c| c.local_tag.clone());
                        self.reply(now, &invite, 487, tag.as_deref());
                    }
                    Disposition::Cancelled
                }
                _ => Disposition::Answered,
            };
            self.end(now, key, disposition, None, Side::Remote, reason);
        }
    }

    pub(super) fn dialog_info(&mut self, now: Instant, from: SocketAddr, req: Parsed) {
        let Some(key) = self.call_in_order(now, &req, from) else {
            return;
        };
        let digit = match req.content_type().as_deref() {
            Some("application/dtmf-relay") => req.body_text().and_then(|b| dtmf_relay_digit(&b)),
            Some("application/dtmf") => req
                .body_text()
                .and_then(|b| b.trim().chars().next())
                .and_then(|c| Digit::parse(c).ok()),
            _ => None,
        };
        self.reply(now, &req, 200, None);
        if let Some(digit) = digit {
            self.emit(key, CallEvent::Digit(digit));
        }
    }

    /// A re-INVITE: answer with our SDP unchanged (session version bumped) and report theirs;
    /// the 200 is retransmitted until its ACK like the first one (RFC 3261 §13.3.1.4).
    pub(super) fn dialog_reinvite(&mut self, now: Instant, from: SocketAddr, req: Parsed) {
        // Our last 200 still awaiting its ACK refuses a new offer (RFC 3261 §14.2).
        let awaiting_ack = self
            .call_of(&req, from)
            .and_then(|key| self.calls.get(&key))
            .is_some_and(|call| call.ok.is_some());
        if awaiting_ack {
            self.reply(now, &req, 500, None);
            return;
        }
        let Some(key) = self.call_in_order(now, &req, from) else {
            return;
        };
        let Some(bytes) = self.answer_offer(now, key, &req) else {
            return;
        };
        let (t1, reliable) = (self.config.timers.t1, call_transport(self, key).reliable());
        if let Some(call) = self.calls.get_mut(&key) {
            let invite = (req.cseq, from);
            call.ok = Some(Box::new(OkRetransmit::new(
                bytes, invite, false, now, t1, reliable,
            )));
        }
        self.schedule_call(key);
    }

    /// An UPDATE (RFC 3311) in a dialog we have: 200, with our SDP if it made an offer.
    pub(super) fn dialog_update(&mut self, now: Instant, from: SocketAddr, req: Parsed) {
        let Some(key) = self.call_in_order(now, &req, from) else {
            return;
        };
        if req.body_text().is_none() {
            self.reply(now, &req, 200, None);
        } else {
            self.answer_offer(now, key, &req);
        }
    }

    /// Answers a re-INVITE's or UPDATE's offer with our SDP again, version bumped, and reports
    /// the peer's; returns the 200 sent.
    fn answer_offer(&mut self, now: Instant, key: CallKey, req: &Parsed) -> Option<Vec<u8>> {
        let contact = self.contact(call_transport(self, key));
        let call = self.calls.get_mut(&key)?;
        let sdp = match (req.body_text(), call.local_sdp.as_deref()) {
            // A real answer to the new offer (RFC 3264 §8): its codecs, the reverse of its
            // direction (hold), on our same RTP address and session.
            (Some(offer), Some(ours)) => match answer_again(&offer, ours) {
                Some(answer) => answer,
                None => {
                    // No audio we can use (no m=audio, no common codec): refuse the offer
                    // and keep the session as it was (RFC 3261 §14.2), rather than lose the
                    // call's media or end it.
                    self.reply(now, req, 488, None);
                    return None;
                }
            },
            (None, Some(ours)) => bump_sdp_version(ours),
            (_, None) => String::new(),
        };
        if let Some(target) = req.contact_uri() {
            if let Some(peer) = super::admission::peer_of(&target)
                && !call.peers.contains(&peer)
            {
                call.peers.push(peer);
            }
            call.remote_target = target;
        }
        call.local_sdp = Some(sdp.clone());
        let mut headers = message::response_headers(req, Some(&call.local_tag));
        headers.push(Header::Contact(rsip::headers::Contact::new(contact)));
        headers.push(Header::ContentType(rsip::headers::ContentType::new(
            "application/sdp",
        )));
        let bytes = message::build_response(200, headers, sdp.as_bytes());
        self.respond(now, req, 200, bytes.clone());
        if let Some(offer) = req.body_text() {
            self.emit(key, CallEvent::RemoteSdp { sdp: offer });
        }
        Some(bytes)
    }

    /// An ACK: for a non-2xx it belongs to the INVITE server transaction; for our 2xx it
    /// confirms the dialog and stops the 200's retransmission.
    pub(super) fn on_ack(&mut self, now: Instant, from: SocketAddr, req: &Parsed) {
        let view = super::TxKeyRef {
            branch: &req.branch,
            method: message::method_name(Method::Invite),
        };
        if let Some((key, entry)) = self.servers.get_key_value_mut(&view)
            && let super::ServerTx::Invite(tx) = &mut entry.tx
            && tx.is_final()
        {
            tx.on_ack(now);
            let key = key.clone();
            self.server_outputs(now, key, Vec::new());
        }
        let Some(key) = self.call_of(req, from) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        // Only the ACK of the INVITE our 200 answered stops it (not a late one for an
        // earlier 200); only the first INVITE's confirms the call.
        if call.ok.as_ref().is_some_and(|ok| ok.cseq == req.cseq)
            && call.ok.take().is_some_and(|ok| ok.confirms)
        {
            self.emit(key, CallEvent::Confirmed);
        }
    }
}

fn call_transport(endpoint: &Endpoint, key: CallKey) -> Transport {
    endpoint
        .calls
        .get(&key)
        .map_or(Transport::Udp, |c| c.transport)
}

/// The digit of an `application/dtmf-relay` body (`Signal=4\r\nDuration=160`).
fn dtmf_relay_digit(body: &str) -> Option<Digit> {
    body.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("signal") {
            return None;
        }
        let value = value.trim();
        match value.parse::<u8>() {
            Ok(n) if value.len() > 1 => Digit::from_event(n).ok(),
            _ => Digit::parse(value.chars().next()?).ok(),
        }
    })
}

/// Our answer to a new offer in an existing session: same RTP address and session id as our
/// last SDP, version one higher. `None` when either SDP cannot be read.
fn answer_again(offer: &str, ours: &str) -> Option<String> {
    let local = crate::sip::sdp::parse_answer(ours).ok()?.remote;
    let origin = ours.lines().find_map(|l| l.strip_prefix("o="))?;
    let mut fields = origin.split(' ').skip(1);
    let session: u64 = fields.next()?.trim().parse().ok()?;
    let version: u64 = fields.next()?.trim().parse().ok()?;
    let (answer, _) =
        crate::sip::sdp::answer(offer, local, session, version.saturating_add(1)).ok()?;
    Some(answer)
}

/// Increments the session version of an SDP's `o=` line, as a changed or repeated answer must.
pub(crate) fn bump_sdp_version(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .map(|line| {
            if let Some(rest) = line.strip_prefix("o=") {
                let mut fields: Vec<String> = rest.split(' ').map(str::to_string).collect();
                if fields.len() >= 3
                    && let Ok(v) = fields[2].parse::<u64>()
                {
                    fields[2] = v.saturating_add(1).to_string();
                    return format!("o={}", fields.join(" "));
                }
            }
            line.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_offer_gets_a_real_answer_on_our_address() {
        let ours = crate::sip::sdp::offer("127.0.0.1:4000".parse().unwrap(), 7, 1);
        let hold = "v=0\r\no=- 9 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 5000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
        let answer = answer_again(hold, &ours).unwrap();
        assert!(answer.contains(" 7 2 IN IP4"), "{answer}");
        assert!(answer.contains("m=audio 4000 RTP/AVP 8 101"), "{answer}");
        assert!(answer.contains("a=recvonly"), "{answer}");
    }

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            dtmf_relay_digit("Signal=4\r\nDuration=160\r\n").map(Digit::as_char),
            Some('4')
        );
        assert_eq!(
            dtmf_relay_digit("Signal= #\r\n").map(Digit::as_char),
            Some('#')
        );
        assert_eq!(
            dtmf_relay_digit("Signal=11\r\n").map(Digit::as_char),
            Some('#')
        );
        assert_eq!(dtmf_relay_digit("Duration=160"), None);
        assert_eq!(dtmf_relay_digit("Signal=x"), None);
    }

    #[test]
    fn sdp_version_is_bumped() {
        let sdp = "v=0\r\no=- 1 7 IN IP4 127.0.0.1\r\ns=-\r\n";
        assert_eq!(
            bump_sdp_version(sdp),
            "v=0\r\no=- 1 8 IN IP4 127.0.0.1\r\ns=-\r\n"
        );
    }
}
