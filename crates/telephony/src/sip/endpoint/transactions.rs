//! The transaction plumbing of the endpoint: starting client transactions, feeding them
//! responses and timers, sending responses through server transactions, and routing what
//! they output (messages to send, responses and time-outs for the calls and registrations).

use std::net::SocketAddr;
use std::time::Instant;

use rsip::Method;

use super::{
    ClientEntry, ClientTx, Endpoint, Owner, ServerTx, TimerRef, Transport, TxKey, TxKeyRef,
};
use crate::sip::message::{self, Parsed};
use crate::sip::transaction::{ClientInvite, ClientNonInvite, TxOutput};

impl Endpoint {
    /// Starts a client transaction for `request` and routes its first transmission.
    pub(super) fn start_client(
        &mut self,
        now: Instant,
        owner: Owner,
        to: SocketAddr,
        transport: Transport,
        request: Vec<u8>,
    ) {
        let reliable = transport.reliable();
        let timers = self.config.timers;
        let started = if request.starts_with(b"INVITE ") {
            ClientInvite::start(now, request, reliable, timers).map(|(tx, out)| {
                (
                    TxKey::new(tx.branch(), message::method_name(Method::Invite)),
                    ClientTx::Invite(Box::new(tx)),
                    out,
                )
            })
        } else {
            ClientNonInvite::start(now, request, reliable, timers).map(|(tx, out)| {
                let method = first_method(&out).unwrap_or(Method::Options);
                (
                    TxKey::new(tx.branch(), message::method_name(method)),
                    ClientTx::NonInvite(tx),
                    out,
                )
            })
        };
        let (key, tx, out) = match started {
            Ok(started) => started,
            Err(err) => {
                // We built it ourselves, so this is a bug; never a panic on the wire.
                tracing::error!(%err, "built an unparseable request");
                return;
            }
        };
        let entry = ClientEntry {
            tx,
            owner,
            to,
            transport,
            armed: None,
        };
        self.clients.insert(key.clone(), Box::new(entry));
        self.client_outputs(now, key, out);
    }

    pub(super) fn client_outputs(&mut self, now: Instant, key: TxKey, out: Vec<TxOutput>) {
        let Some(entry) = self.clients.get_mut(&key) else {
            return;
        };
        let (to, transport, owner) = (entry.to, entry.transport, entry.owner);
        let deadline = match &entry.tx {
            ClientTx::Invite(tx) => tx.deadline(),
            ClientTx::NonInvite(tx) => tx.deadline(),
        };
        let terminated = match &entry.tx {
            ClientTx::Invite(tx) => tx.is_terminated(),
            ClientTx::NonInvite(tx) => tx.is_terminated(),
        };
        if terminated {
            self.clients.remove(&key);
        } else if let Some(at) = deadline
            && entry.armed != Some(at)
        {
            // An unmoved deadline is already on the heap (every response used to push it).
            entry.armed = Some(at);
            self.arm(at, TimerRef::Client(key.clone()));
        }
        for output in out {
            match output {
                TxOutput::Send(bytes) => self.send(to, transport, bytes),
                TxOutput::Response(response) => self.tu_response(now, owner, *response),
                TxOutput::Timeout => {
                    let method = message::parse_method(key.method).unwrap_or(Method::Options);
                    self.tu_timeout(now, owner, method)
                }
            }
        }
    }

    pub(super) fn on_response(&mut self, now: Instant, response: Parsed) {
        let view = TxKeyRef {
            branch: &response.branch,
            method: message::method_name(response.cseq_method),
        };
        let Some((key, entry)) = self.clients.get_key_value_mut(&view) else {
            // A 2xx retransmitted after its transaction ended belongs to the dialog.
            if response.cseq_method == Method::Invite
                && response.status().unwrap_or(0) >= 200
                && let Some(&call) = self.by_call_id.get(&response.call_id)
            {
                self.uac_late_2xx(now, call, &response);
            }
            return;
        };
        let key = key.clone();
        let out = match &mut entry.tx {
            ClientTx::Invite(tx) => tx.on_response(now, response),
            ClientTx::NonInvite(tx) => tx.on_response(now, response),
        };
        self.client_outputs(now, key, out);
    }

    pub(super) fn client_timeout(&mut self, now: Instant, key: TxKey) {
        let Some(entry) = self.clients.get_mut(&key) else {
            return;
        };
        let due = match &entry.tx {
            ClientTx::Invite(tx) => tx.deadline(),
            ClientTx::NonInvite(tx) => tx.deadline(),
        };
        if due.is_none_or(|at| at > now) {
            return; // a stale heap entry; the live deadline has its own
        }
        entry.armed = None;
        let out = match &mut entry.tx {
            ClientTx::Invite(tx) => tx.on_timeout(now),
            ClientTx::NonInvite(tx) => tx.on_timeout(now),
        };
        self.client_outputs(now, key, out);
    }

    /// Sends a response within the server transaction of `request`.
    pub(super) fn respond(&mut self, now: Instant, request: &Parsed, status: u16, bytes: Vec<u8>) {
        let view = TxKeyRef {
            branch: &request.branch,
            method: message::method_name(request.cseq_method_of_request()),
        };
        let Some((key, entry)) = self.servers.get_key_value_mut(&view) else {
            return;
        };
        let key = key.clone();
        let out = match &mut entry.tx {
            ServerTx::Invite(tx) => tx.respond(now, status, bytes),
            ServerTx::NonInvite(tx) => tx.respond(now, status, bytes),
        };
        self.server_outputs(now, key, out);
    }

    /// Builds and sends a response with no body beyond `extra` headers.
    pub(super) fn reply(
        &mut self,
        now: Instant,
        request: &Parsed,
        status: u16,
        to_tag: Option<&str>,
    ) {
        let headers = self.reply_headers(request, to_tag);
        let bytes = message::build_response(status, headers, b"");
        self.respond(now, request, status, bytes);
    }

    /// The headers of a [`Endpoint::reply`] to `request`.
    pub(super) fn reply_headers(
        &self,
        request: &Parsed,
        to_tag: Option<&str>,
    ) -> Vec<rsip::Header> {
        let mut headers = message::response_headers(request, to_tag);
        headers.push(message::other("User-Agent", self.config.user_agent.clone()));
        headers
    }

    pub(super) fn server_outputs(&mut self, now: Instant, key: TxKey, out: Vec<TxOutput>) {
        let Some(entry) = self.servers.get_mut(&key) else {
            return;
        };
        let (to, transport) = (entry.from, entry.transport);
        let (deadline, terminated) = match &entry.tx {
            ServerTx::Invite(tx) => (tx.deadline(), tx.is_terminated()),
            ServerTx::NonInvite(tx) => (tx.deadline(), tx.is_terminated()),
        };
        if terminated {
            self.servers.remove(&key);
        } else if let Some(at) = deadline
            && entry.armed != Some(at)
        {
            entry.armed = Some(at);
            self.arm(at, TimerRef::Server(key.clone()));
        }
        for output in out {
            match output {
                TxOutput::Send(bytes) => self.send(to, transport, bytes),
                TxOutput::Timeout => self.uas_no_ack(now, &key.branch),
                TxOutput::Response(_) => {}
            }
        }
    }

    pub(super) fn server_timeout(&mut self, now: Instant, key: TxKey) {
        let Some(entry) = self.servers.get_mut(&key) else {
            return;
        };
        let due = match &entry.tx {
            ServerTx::Invite(tx) => tx.deadline(),
            ServerTx::NonInvite(tx) => tx.deadline(),
        };
        if due.is_none_or(|at| at > now) {
            return;
        }
        entry.armed = None;
        let out = match &mut entry.tx {
            ServerTx::Invite(tx) => tx.on_timeout(now),
            ServerTx::NonInvite(tx) => tx.on_timeout(now),
        };
        self.server_outputs(now, key, out);
    }
}

fn first_method(out: &[TxOutput]) -> Option<Method> {
    out.iter().find_map(|o| match o {
        TxOutput::Send(bytes) => {
            let line = bytes.split(|b| *b == b' ').next()?;
            message::parse_method(std::str::from_utf8(line).ok()?)
        }
        _ => None,
    })
}
