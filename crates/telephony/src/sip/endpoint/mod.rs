//! The user agent engine: every call, transaction and registration of one SIP endpoint.
//!
//! Sans-IO in the style of `quinn-proto`: the transport feeds [`Endpoint::handle_datagram`]
//! and [`Endpoint::handle_timeout`], issues commands ([`Endpoint::dial`], [`Endpoint::answer`],
//! [`Endpoint::hangup`], ...), and drains [`Endpoint::poll_transmit`], [`Endpoint::poll_event`]
//! and [`Endpoint::poll_timeout`] until they are empty. Nothing here reads a clock, opens a
//! socket or resolves a name: addresses are `SocketAddr`s and time is an `Instant` passed in.

mod admission;
mod call;
mod dialog;
mod register;
mod transactions;
mod uac;
mod uas;

pub use admission::{AccessList, AdmissionStats};
pub use call::{CallEvent, CallKey, Side};
pub use register::{RegKey, RegState, Register};
pub use uac::{Dial, DialError};

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rsip::Method;

use super::message::{self, MessageError, Parsed};
use super::transaction::{ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, Timers};
use call::Call;
use register::Registration;

/// The transport a message travels on; TCP is reliable, so retransmission timers stay off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Datagrams: the transaction layer retransmits.
    Udp,
    /// A stream: reliable, framed by Content-Length.
    Tcp,
}

impl Transport {
    /// The token used in Via (`SIP/2.0/UDP`).
    pub fn token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    fn reliable(self) -> bool {
        self == Transport::Tcp
    }
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Transport, String> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            other => Err(format!("`{other}` is not a SIP transport (udp or tcp)")),
        }
    }
}

/// Bytes the transport must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The next hop.
    pub to: SocketAddr,
    /// Over which transport.
    pub transport: Transport,
    /// One whole SIP message.
    pub bytes: Vec<u8>,
}

/// Something the endpoint's user should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A call changed.
    Call {
        /// Which call.
        call: CallKey,
        /// What happened.
        event: CallEvent,
    },
    /// A registration changed.
    Registration {
        /// Which registration.
        registration: RegKey,
        /// Its new state.
        state: RegState,
    },
}

/// How the endpoint presents itself.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The address written into Via and Contact (the transport's bound address).
    pub local: SocketAddr,
    /// The user part of our Contact.
    pub contact_user: String,
    /// User-Agent header value.
    pub user_agent: String,
    /// RFC 3261 T1/T2/T4.
    pub timers: Timers,
    /// The shortest ring time-out a dial may ask for (a dialer that hangs up sooner annoys
    /// owners who were reaching for the phone; regulators ask for 15 s).
    pub min_ring_timeout: Duration,
    /// How long a finished call is remembered to absorb late retransmissions.
    pub linger: Duration,
    /// Who may send requests outside a dialog; `None` lets anyone (a phone, a simulator). See
    /// [`AccessList`]: a dialer node lists its trunks.
    pub allow: Option<AccessList>,
    /// Whether incoming calls are taken. When not (a dialer node), an INVITE gets a stateless
    /// `403` at once: no call, no transaction, nothing kept.
    pub takes_calls: bool,
    /// Stateless refusals a source gets per second; beyond, its requests are dropped unanswered.
    pub refusals_per_source: std::num::NonZeroU32,
}

impl EndpointConfig {
    /// Defaults for an endpoint bound at `local`.
    pub fn new(local: SocketAddr) -> EndpointConfig {
        EndpointConfig {
            local,
            contact_user: "huifang".into(),
            user_agent: concat!("huifang/", env!("CARGO_PKG_VERSION")).into(),
            timers: Timers::default(),
            min_ring_timeout: Duration::from_secs(15),
            linger: Duration::from_secs(32),
            allow: None,
            takes_calls: true,
            refusals_per_source: std::num::NonZeroU32::new(5).expect("5 is not zero"),
        }
    }
}

/// Why a command on a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No such call (never existed, or ended and forgotten).
    #[error("no call {0}")]
    Unknown(CallKey),
    /// The call is not in a state that allows it.
    #[error("call {call} cannot {action} now")]
    State {
        /// Which call.
        call: CallKey,
        /// What was asked.
        action: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Owner {
    Call(CallKey),
    Reg(RegKey),
    /// A stand-alone request (OPTIONS ping) whose answer nobody waits for.
    None,
}

#[derive(Debug)]
enum ClientTx {
    Invite(Box<ClientInvite>),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
struct ClientEntry {
    tx: ClientTx,
    owner: Owner,
    to: SocketAddr,
    transport: Transport,
    /// The deadline last pushed on the timer heap: pushed again only when it moves.
    armed: Option<Instant>,
}

#[derive(Debug)]
enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerEntry {
    tx: ServerTx,
    from: SocketAddr,
    transport: Transport,
    /// The deadline last pushed on the timer heap: pushed again only when it moves.
    armed: Option<Instant>,
}

/// A transaction's key: its branch and method (CANCEL shares its INVITE's branch, so the
/// method is part of it). The branch is shared, not copied, with the timer-heap entries that
/// point at the transaction, and a message's branch is looked up through [`TxKeyRef`]: before,
/// every armed timer and every response looked up cost a copy of the branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TxKey {
    branch: Arc<str>,
    method: &'static str,
}

impl TxKey {
    fn new(branch: &str, method: &'static str) -> TxKey {
        TxKey {
            branch: Arc::from(branch),
            method,
        }
    }
}

/// A [`TxKey`] borrowed from a message, to look a transaction up without a copy. It hashes as
/// the key does (the branch's text, then the method's).
#[derive(Hash)]
struct TxKeyRef<'a> {
    branch: &'a str,
    method: &'static str,
}

impl hashbrown::Equivalent<TxKey> for TxKeyRef<'_> {
    fn equivalent(&self, key: &TxKey) -> bool {
        self.branch == &*key.branch && self.method == key.method
    }
}

/// The endpoint's maps are keyed by Call-IDs, branches and small numbers; SipHash (std's
/// default) showed in the call set-up profile. foldhash (hashbrown's own default) is several
/// times faster; it is seeded per map at random, which is not SipHash's guarantee against
/// chosen collisions but leaves a peer no fixed set of colliding keys to send.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// The transactions' maps: hashbrown's own map (std's, with the same hasher) for its lookups by
/// an equivalent key ([`TxKeyRef`]).
type TxMap<V> = hashbrown::HashMap<TxKey, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimerRef {
    Client(TxKey),
    Server(TxKey),
    Call(CallKey),
    Reg(RegKey),
}

/// A timer on the endpoint's heap, ordered by when it is due and then by when it was armed
/// only: comparing the targets (branch strings) on every heap step showed in the profile.
#[derive(Debug)]
struct Alarm {
    at: Instant,
    seq: u64,
    target: TimerRef,
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Alarm) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Alarm {}

impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Alarm) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Alarm {
    fn cmp(&self, other: &Alarm) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// One SIP user agent: many calls, their transactions and registrations.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    /// `config.local` as text, for every Via and Contact (formatting the address for each
    /// request showed in the call set-up profile).
    local_text: String,
    rng: ChaCha8Rng,
    next_key: u64,
    /// Boxed, as are the transactions below: ended calls and their transactions linger 32 s,
    /// tens of thousands at a time at full rate, and a map holds a slot for every bucket and
    /// copies them all when it grows. A box per entry keeps the slots 16 bytes; inline they
    /// were ~500 (calls) and ~200 (transactions): boxed, the set-up benchmark's peak memory
    /// fell by a third (30,000 calls: 181 to 123 MiB).
    calls: Map<CallKey, Box<Call>>,
    by_call_id: Map<String, CallKey>,
    clients: TxMap<Box<ClientEntry>>,
    servers: TxMap<Box<ServerEntry>>,
    registrations: Map<RegKey, Registration>,
    timers: BinaryHeap<Reverse<Alarm>>,
    /// Orders alarms due at the same instant (first armed, first fired).
    alarms_armed: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    refusals: admission::RefusalBudget,
    admission: AdmissionStats,
}

impl Endpoint {
    /// A new endpoint; `seed` feeds the tags, branches and Call-IDs it makes up.
    pub fn new(config: EndpointConfig, seed: u64) -> Endpoint {
        Endpoint {
            refusals: admission::RefusalBudget::new(config.refusals_per_source),
            admission: AdmissionStats::default(),
            local_text: config.local.to_string(),
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_key: 1,
            calls: Map::default(),
            by_call_id: Map::default(),
            clients: TxMap::default(),
            servers: TxMap::default(),
            registrations: Map::default(),
            timers: BinaryHeap::new(),
            alarms_armed: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// What the gate refused so far (see [`AccessList`]).
    pub fn admission_stats(&self) -> AdmissionStats {
        self.admission
    }

    /// How many calls are remembered (live or lingering).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Feeds one datagram (or one framed stream message) received from `from`.
    ///
    /// A malformed message is returned as an error for the transport to log; it changes nothing.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) -> Result<(), MessageError> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(()); // keep-alive (RFC 5626 CRLF)
        }
        let parsed = message::parse(bytes)?;
        check_content_length(&parsed)?;
        if parsed.msg.is_response() {
            self.on_response(now, parsed);
        } else {
            self.on_request(now, from, transport, parsed);
        }
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse(alarm)) = self.timers.peek() {
            if alarm.at > now {
                break;
            }
            let Some(Reverse(Alarm { target, .. })) = self.timers.pop() else {
                break;
            };
            match target {
                TimerRef::Client(key) => self.client_timeout(now, key),
                TimerRef::Server(key) => self.server_timeout(now, key),
                TimerRef::Call(key) => self.call_timeout(now, key),
                TimerRef::Reg(key) => self.reg_timeout(now, key),
            }
        }
    }

    /// The next instant [`Endpoint::handle_timeout`] wants to be called (may be early).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse(alarm)| alarm.at)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- plumbing shared by the role files ----

    fn new_key(&mut self) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }

    fn branch(&mut self) -> String {
        let mut branch = String::with_capacity(23);
        branch.push_str("z9hG4bK");
        branch.push_str(&self.token(16));
        branch
    }

    fn via(&mut self, transport: Transport) -> (String, String) {
        let branch = self.branch();
        let mut via = String::with_capacity(40 + self.local_text.len());
        for part in [
            "SIP/2.0/",
            transport.token(),
            " ",
            &self.local_text,
            ";branch=",
            &branch,
            ";rport",
        ] {
            via.push_str(part);
        }
        (via, branch)
    }

    fn contact(&self, transport: Transport) -> String {
        let param = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        format!(
            "<sip:{}@{}{param}>",
            self.config.contact_user, self.local_text
        )
    }

    fn emit(&mut self, call: CallKey, event: CallEvent) {
        self.events.push_back(Event::Call { call, event });
    }

    fn send(&mut self, to: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            to,
            transport,
            bytes,
        });
    }

    fn arm(&mut self, at: Instant, target: TimerRef) {
        self.alarms_armed += 1;
        self.timers.push(Reverse(Alarm {
            at,
            seq: self.alarms_armed,
            target,
        }));
    }

    fn on_request(&mut self, now: Instant, from: SocketAddr, transport: Transport, req: Parsed) {
        let Some(method) = req.method() else { return };
        if method == Method::Ack {
            self.on_ack(now, from, &req);
            return;
        }
        let view = TxKeyRef {
            branch: &req.branch,
            method: message::method_name(method),
        };
        if let Some((key, entry)) = self.servers.get_key_value_mut(&view) {
            let key = key.clone();
            let out = match &mut entry.tx {
                ServerTx::Invite(tx) => tx.on_retransmission(),
                ServerTx::NonInvite(tx) => tx.on_retransmission(),
            };
            self.server_outputs(now, key, out);
            return;
        }
        if let Err(status) = self.admit(from, method, &req) {
            self.refuse(now, from, transport, &req, status);
            return;
        }
        if let Some(bytes) = self.stateless_answer(from, method, &req) {
            self.send(from, transport, bytes);
            return;
        }
        let key = TxKey::new(&req.branch, message::method_name(method));
        let reliable = transport.reliable();
        let timers = self.config.timers;
        let tx = if method == Method::Invite {
            ServerTx::Invite(ServerInvite::new(reliable, timers))
        } else {
            ServerTx::NonInvite(ServerNonInvite::new(reliable, timers))
        };
        self.servers.insert(
            key,
            Box::new(ServerEntry {
                tx,
                from,
                transport,
                armed: None,
            }),
        );
        match method {
            Method::Invite if req.to_tag.is_none() => self.uas_invite(now, from, transport, req),
            Method::Invite => self.dialog_reinvite(now, from, req),
            Method::Cancel => self.uas_cancel(now, from, req),
            Method::Bye => self.dialog_bye(now, from, req),
            Method::Info => self.dialog_info(now, from, req),
            Method::Update => self.dialog_update(now, from, req),
            // Answered above without a transaction: `stateless_answer` takes every other method.
            _ => {}
        }
    }

    /// The answer to a request that changes nothing here, sent without a server transaction
    /// (RFC 3261 §8.2.7, as `refuse` sends its 403s): OPTIONS, a method we do not take, a
    /// request inside a dialog we do not have (or not from its far end), a CANCEL for no call.
    /// A retransmission is answered alike again. A transaction kept ~1 KB for 32 s (Timer J)
    /// of each: with no access list (a dialer node's), a stranger's flood of OPTIONS at
    /// 5,000 a second took the node from 28 to 120 MB (`benches/invite_flood.sh`).
    fn stateless_answer(&self, from: SocketAddr, method: Method, req: &Parsed) -> Option<Vec<u8>> {
        let (status, headers) = match method {
            Method::Options => {
                let mut headers = message::response_headers(req, Some("opt"));
                headers.push(message::other("Allow", ALLOW));
                headers.push(message::other(
                    "Accept",
                    "application/sdp, application/dtmf-relay, application/dtmf",
                ));
                headers.push(message::other("User-Agent", self.config.user_agent.clone()));
                (200, headers)
            }
            // A new call.
            Method::Invite if req.to_tag.is_none() => return None,
            Method::Invite | Method::Bye | Method::Info | Method::Update => {
                if self.call_of(req, from).is_some() {
                    return None;
                }
                (481, self.reply_headers(req, None))
            }
            Method::Cancel => {
                if self.by_call_id.contains_key(&req.call_id) {
                    return None;
                }
                (481, self.reply_headers(req, None))
            }
            _ => {
                let mut headers = message::response_headers(req, None);
                headers.push(message::other("Allow", ALLOW));
                (405, headers)
            }
        };
        Some(message::build_response(status, headers, b""))
    }
}

/// The methods we answer.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// A Content-Length that is not a number, or promises more body than arrived, makes the
/// message unusable: RFC 3261 §18.3 says to discard it (a body cut short is not an offer).
fn check_content_length(parsed: &Parsed) -> Result<(), MessageError> {
    let Some(value) = parsed.header("Content-Length") else {
        return Ok(());
    };
    match value.trim().parse::<usize>() {
        Ok(length) if length <= parsed.body().len() => Ok(()),
        _ => Err(MessageError::Malformed {
            header: "Content-Length",
            value,
        }),
    }
}

impl Parsed {
    /// The method a request's server transaction is keyed by (CANCEL has its own).
    fn cseq_method_of_request(&self) -> Method {
        self.method().unwrap_or(self.cseq_method)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_cancel;
#[cfg(test)]
mod tests_malformed;
#[cfg(test)]
mod tests_peer;
#[cfg(test)]
mod tests_proxy;
#[cfg(test)]
mod tests_register;
#[cfg(test)]
mod tests_reinvite;
#[cfg(test)]
mod tests_retransmit;
#[cfg(test)]
mod tests_tcp;
#[cfg(test)]
mod tests_trust;
