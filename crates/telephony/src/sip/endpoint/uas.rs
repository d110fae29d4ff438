//! Incoming calls: a new INVITE, ringing, answering (with 2xx retransmission until the ACK),
//! rejecting, and the caller's CANCEL.

use std::net::SocketAddr;
use std::time::Instant;

use rsip::Header;
use rsip::headers::UntypedHeader;

use super::call::{Call, Direction, OkRetransmit, State};
use super::{CallError, CallEvent, CallKey, Endpoint, Side, Transport};
use crate::sip::Disposition;
use crate::sip::message::{self, Parsed};

impl Endpoint {
    pub(super) fn uas_invite(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        req: Parsed,
    ) {
        let key = crate::sip::endpoint::CallKey(self.new_key());
        let local_tag = self.token(10);
        let to = req.header("To").unwrap_or_default();
        let from_header = req.header("From").unwrap_or_default();
        let uri = match &req.msg {
            rsip::SipMessage::Request(r) => r.uri.to_string(),
            rsip::SipMessage::Response(_) => String::new(),
        };
        let call = Call {
            direction: Direction::Incoming,
            state: State::Early,
            call_id: req.call_id.clone(),
            local_tag: local_tag.clone(),
            remote_tag: req.from_tag.clone(),
            local_uri: strip_tag(&to),
            remote_uri: strip_tag(&from_header),
            local_cseq: 0,
            remote_cseq: Some(req.cseq),
            remote_target: req.contact_uri().unwrap_or_else(|| format!("sip:{from}")),
            route_set: req.headers("Record-Route"),
            peers: vec![super::admission::canonical(from.ip())],
            destination: from,
            transport,
            local_sdp: None,
            invite_branch: None,
            invite_bytes: None,
            request_uri: uri.clone(),
            extra_headers: Vec::new(),
            credentials: None,
            auth_tries: 0,
            ring_deadline: None,
            cancel_wanted: None,
            ack: None,
            invite: Some(Box::new(req.clone())),
            ok: None,
            forget_at: None,
            timer_armed: None,
        };
        let mut call = call;
        let target = call.remote_target.clone();
        call.add_peer(&target);
        if let Some(first) = call.route_set.first().cloned() {
            call.add_peer(&first);
        }
        self.calls.insert(key, Box::new(call));
        self.by_call_id.insert(req.call_id.clone(), key);
        self.reply(now, &req, 100, None);
        self.emit(
            key,
            CallEvent::Incoming {
                from: from_header,
                to,
                uri,
                offer: req.body_text(),
            },
        );
    }

    fn pending_invite(&self, key: CallKey, action: &'static str) -> Result<Parsed, CallError> {
        let call = self.calls.get(&key).ok_or(CallError::Unknown(key))?;
        match (&call.invite, call.direction, call.state) {
            (Some(invite), Direction::Incoming, State::Early) => Ok(Parsed::clone(invite)),
            _ => Err(CallError::State { call: key, action }),
        }
    }

    /// Sends 180 Ringing for an incoming call.
    pub fn ring(&mut self, now: Instant, key: CallKey) -> Result<(), CallError> {
        let invite = self.pending_invite(key, "ring")?;
        let tag = self.calls.get(&key).map(|c| c.local_tag.clone());
        self.reply(now, &invite, 180, tag.as_deref());
        Ok(())
    }

    /// Answers an incoming call with our SDP; the 200 is retransmitted until the ACK.
    pub fn answer(&mut self, now: Instant, key: CallKey, sdp: String) -> Result<(), CallError> {
        let invite = self.pending_invite(key, "answer")?;
        let transport = self.calls.get(&key).map_or(Transport::Udp, |c| c.transport);
        let contact = self.contact(transport);
        let t1 = self.config.timers.t1;
        let user_agent = self.config.user_agent.clone();
        let Some(call) = self.calls.get_mut(&key) else {
            return Err(CallError::Unknown(key));
        };
        let mut headers = message::response_headers(&invite, Some(&call.local_tag));
        for rr in invite.headers("Record-Route") {
            headers.push(Header::RecordRoute(rsip::headers::RecordRoute::new(rr)));
        }
        headers.push(Header::Contact(rsip::headers::Contact::new(contact)));
        headers.push(message::other("Allow", super::ALLOW));
        headers.push(message::other("User-Agent", user_agent));
        headers.push(Header::ContentType(rsip::headers::ContentType::new(
            "application/sdp",
        )));
        let bytes = message::build_response(200, headers, sdp.as_bytes());
        call.state = State::Established;
        call.local_sdp = Some(sdp);
        call.ok = Some(Box::new(OkRetransmit::new(
            bytes.clone(),
            (invite.cseq, call.destination),
            true,
            now,
            t1,
            transport_is_reliable(transport),
        )));
        self.respond(now, &invite, 200, bytes);
        self.emit(key, CallEvent::Answered { sdp: None });
        self.schedule_call(key);
        Ok(())
    }

    /// Refuses an incoming call (486 busy, 603 decline, 480 unavailable, ...).
    pub fn reject(&mut self, now: Instant, key: CallKey, status: u16) -> Result<(), CallError> {
        let invite = self.pending_invite(key, "reject")?;
        let status = if (300..700).contains(&status) {
            status
        } else {
            603
        };
        let tag = self.calls.get(&key).map(|c| c.local_tag.clone());
        self.reply(now, &invite, status, tag.as_deref());
        self.end(
            now,
            key,
            Disposition::from_status(status),
            Some(status),
            Side::Local,
            None,
        );
        Ok(())
    }

    /// The caller gave up: 200 for the CANCEL, 487 for the INVITE.
    pub(super) fn uas_cancel(&mut self, now: Instant, _from: SocketAddr, req: Parsed) {
        let Some(&key) = self.by_call_id.get(&req.call_id) else {
            self.reply(now, &req, 481, None);
            return;
        };
        self.reply(now, &req, 200, None);
        let Ok(invite) = self.pending_invite(key, "cancel") else {
            return; // already answered: the caller will BYE
        };
        if invite.branch != req.branch {
            return;
        }
        let tag = self.calls.get(&key).map(|c| c.local_tag.clone());
        self.reply(now, &invite, 487, tag.as_deref());
        self.end(
            now,
            key,
            Disposition::Cancelled,
            Some(487),
            Side::Remote,
            req.header("Reason"),
        );
    }

    /// Timer H: our non-2xx final was never ACKed; nothing more to do than forget.
    pub(super) fn uas_no_ack(&mut self, _now: Instant, branch: &str) {
        tracing::debug!(branch, "no ACK for a final response");
    }
}

fn transport_is_reliable(transport: Transport) -> bool {
    transport == Transport::Tcp
}

/// A From/To header without its tag parameter.
fn strip_tag(header: &str) -> String {
    let mut out = String::new();
    let (head, params) = match header.rfind('>') {
        Some(i) => header.split_at(i + 1),
        None => match header.find(';') {
            Some(i) => header.split_at(i),
            None => (header, ""),
        },
    };
    out.push_str(head);
    for p in params.split(';').skip(1) {
        if !p.trim().to_ascii_lowercase().starts_with("tag=") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}
