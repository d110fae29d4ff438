//! The SIP task: one loop that owns the [`Endpoint`], its UDP socket and TCP connections,
//! and routes the endpoint's events to the calls' channels.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::Command;
use super::call::{IncomingRaw, SipUpdate};
use super::log_budget::{Admit, LogBudget};
use super::tcp::{Close, Connection, Counters, TcpEvent, TcpLimits};
use crate::sip::{
    CallEvent, CallKey, Endpoint, EndpointConfig, Event, RegKey, RegState, Transport,
};

/// Most datagrams or commands handled before the loop flushes and looks at its timers.
const BATCH: usize = 64;

struct Task {
    endpoint: Endpoint,
    udp: UdpSocket,
    /// foldhash, as in the endpoint: every SIP event of every call is routed through it.
    calls: HashMap<CallKey, mpsc::UnboundedSender<SipUpdate>, foldhash::fast::RandomState>,
    registrations: HashMap<RegKey, mpsc::UnboundedSender<RegState>>,
    incoming: mpsc::UnboundedSender<IncomingRaw>,
    /// Open TCP connections by peer (accepted or ours), each with its id.
    tcp_out: HashMap<SocketAddr, (u64, mpsc::UnboundedSender<Vec<u8>>)>,
    tcp_in: mpsc::UnboundedSender<TcpEvent>,
    tcp: TcpState,
    /// Malformed SIP messages received, for [`super::UserAgent::malformed_sip`].
    malformed: Arc<AtomicU64>,
    /// Keeps a flood of malformed messages from filling the log.
    malformed_log: LogBudget,
    /// Requests the endpoint's gate refused, for [`super::UserAgent::refused_sip`].
    refused: Arc<AtomicU64>,
}

/// The TCP side's limits and books: accepted connections by source, the ids, the counters.
struct TcpState {
    limits: TcpLimits,
    counters: Arc<Counters>,
    /// Accepted connections open now, and per source IP.
    accepted: usize,
    per_ip: HashMap<IpAddr, usize>,
    next_id: u64,
    /// Keeps a flood of refused or timed-out connections from filling the log.
    log: LogBudget,
}

/// What the SIP task is started with.
pub(super) struct Setup {
    pub(super) config: EndpointConfig,
    pub(super) udp: UdpSocket,
    pub(super) tcp: Option<TcpListener>,
    pub(super) malformed: Arc<AtomicU64>,
    pub(super) refused: Arc<AtomicU64>,
    pub(super) tcp_limits: TcpLimits,
    pub(super) tcp_counters: Arc<Counters>,
}

/// Starts the task; returns its command sender and the stream of incoming calls.
pub(super) fn spawn(
    Setup {
        config,
        udp,
        tcp,
        malformed,
        refused,
        tcp_limits,
        tcp_counters,
    }: Setup,
) -> (
    mpsc::UnboundedSender<Command>,
    mpsc::UnboundedReceiver<IncomingRaw>,
) {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (incoming, incoming_rx) = mpsc::unbounded_channel();
    let (tcp_in, tcp_rx) = mpsc::unbounded_channel();
    // Tags, branches and Call-IDs must differ between runs and between user agents.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32)
        ^ super::session_id();
    let task = Task {
        endpoint: Endpoint::new(config, seed),
        udp,
        calls: HashMap::default(),
        registrations: HashMap::new(),
        incoming,
        tcp_out: HashMap::new(),
        tcp_in,
        tcp: TcpState {
            limits: tcp_limits,
            counters: tcp_counters,
            accepted: 0,
            per_ip: HashMap::new(),
            next_id: 0,
            log: LogBudget::new(),
        },
        malformed,
        malformed_log: LogBudget::new(),
        refused,
    };
    tokio::spawn(task.run(command_rx, tcp_rx, tcp));
    (commands, incoming_rx)
}

impl Task {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut tcp_rx: mpsc::UnboundedReceiver<TcpEvent>,
        tcp: Option<TcpListener>,
    ) {
        let mut buf = vec![0u8; 65_536];
        let mut alarm = Alarm::new();
        loop {
            alarm.set(self.endpoint.poll_timeout());
            let accept = async {
                match &tcp {
                    Some(listener) => listener.accept().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                readable = self.udp.readable() => match readable {
                    Ok(()) => self.drain_udp(&mut buf),
                    Err(err) => tracing::debug!(%err, "SIP UDP receive error"),
                },
                Some(event) = tcp_rx.recv() => match event {
                    TcpEvent::Message(from, bytes) => self.receive(from, Transport::Tcp, &bytes),
                    TcpEvent::Closed { peer, id, accepted, why } => {
                        self.closed(peer, id, accepted, &why);
                    }
                },
                accepted = accept => match accepted {
                    Ok((stream, peer)) => self.adopt(stream, peer),
                    Err(err) => {
                        // Out of descriptors, say: pause rather than spin on the same error.
                        tracing::warn!(%err, "SIP TCP accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
                command = commands.recv() => {
                    // Take every command already queued: one flush for a burst of dials.
                    let mut next = command;
                    let mut stop = false;
                    for taken in 1..=BATCH {
                        match next {
                            None | Some(Command::Shutdown) => {
                                stop = true;
                                break;
                            }
                            Some(command) => self.command(command),
                        }
                        next = match commands.try_recv() {
                            Ok(command) if taken < BATCH => Some(command),
                            Ok(Command::Shutdown) => {
                                stop = true;
                                break;
                            }
                            Ok(command) => {
                                // The batch is full: handle this one, the rest next turn.
                                self.command(command);
                                break;
                            }
                            Err(_) => break,
                        };
                    }
                    if stop {
                        break;
                    }
                },
                () = alarm.ring() => {
                    self.endpoint.handle_timeout(Instant::now());
                }
            }
            self.flush().await;
        }
        tracing::debug!("SIP task stopped");
    }
}

/// The endpoint's next deadline as one timer, moved only when the deadline moves (re-arming a
/// fresh sleep on every turn of the loop showed in the call set-up profile).
struct Alarm {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    armed: Option<Instant>,
}

impl Alarm {
    fn new() -> Alarm {
        Alarm {
            sleep: Box::pin(tokio::time::sleep_until(Alarm::far())),
            armed: None,
        }
    }

    fn far() -> tokio::time::Instant {
        tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
    }

    /// Rings at `deadline`, or never for `None`.
    fn set(&mut self, deadline: Option<Instant>) {
        if deadline != self.armed {
            self.armed = deadline;
            let at = deadline.map_or_else(Alarm::far, tokio::time::Instant::from_std);
            self.sleep.as_mut().reset(at);
        }
    }

    /// Waits for the deadline; once it rang, it is disarmed until the next [`Alarm::set`].
    async fn ring(&mut self) {
        (&mut self.sleep).await;
        // An elapsed sleep stays ready: without parking it, an endpoint left with no timers
        // (deadline `None`, which `armed` would already equal) spun the loop at full speed.
        self.armed = None;
        self.sleep.as_mut().reset(Alarm::far());
    }
}

impl Task {
    /// Reads every datagram waiting (up to a batch), so a burst costs one flush.
    fn drain_udp(&mut self, buf: &mut [u8]) {
        for _ in 0..BATCH {
            match self.udp.try_recv_from(buf) {
                Ok((n, from)) => self.receive(from, Transport::Udp, &buf[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) => {
                    // ICMP errors surface here on Linux; they concern one peer, not the socket.
                    tracing::debug!(%err, "SIP UDP receive error");
                }
            }
        }
    }

    fn receive(&mut self, from: SocketAddr, transport: Transport, bytes: &[u8]) {
        let now = Instant::now();
        if let Err(err) = self.endpoint.handle_datagram(now, from, transport, bytes) {
            // A malformed message is counted and dropped, never fatal; the log gets a few
            // lines a second of them at most.
            self.malformed.fetch_add(1, Ordering::Relaxed);
            if let Admit::Log { suppressed } = self.malformed_log.admit(now) {
                tracing::warn!(%from, %err, suppressed, "dropped a malformed SIP message");
            }
        }
        let gate = self.endpoint.admission_stats();
        self.refused
            .store(gate.refused + gate.silenced, Ordering::Relaxed);
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Dial { dial, reply } => {
                let result = self.endpoint.dial(now, *dial).map(|key| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.calls.insert(key, tx);
                    (key, rx)
                });
                if let Err(Ok((key, _))) = reply.send(result) {
                    // Whoever dialled gave up waiting: nobody holds this call, so end it.
                    let _ = self.endpoint.hangup(now, key);
                }
            }
            Command::Answer { call, sdp, reply } => {
                let answered = self.endpoint.answer(now, call, sdp);
                if reply.send(answered).is_err() {
                    let _ = self.endpoint.hangup(now, call);
                }
            }
            Command::Ring(call) => {
                let _ = self.endpoint.ring(now, call);
            }
            Command::Reject(call, status) => {
                let _ = self.endpoint.reject(now, call, status);
            }
            Command::Hangup(call) => {
                let _ = self.endpoint.hangup(now, call);
            }
            Command::Info {
                call,
                content_type,
                body,
            } => {
                let _ = self.endpoint.send_info(now, call, &content_type, &body);
            }
            Command::Register(register, updates) => {
                let key = self.endpoint.register(now, *register);
                self.registrations.insert(key, updates);
            }
            Command::Shutdown => {}
        }
    }

    async fn flush(&mut self) {
        while let Some(transmit) = self.endpoint.poll_transmit() {
            match transmit.transport {
                Transport::Udp => {
                    if let Err(err) = self.udp.send_to(&transmit.bytes, transmit.to).await {
                        tracing::warn!(to = %transmit.to, %err, "SIP UDP send failed");
                    }
                }
                Transport::Tcp => self.send_tcp(transmit.to, transmit.bytes),
            }
        }
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::Call {
                    call,
                    event:
                        CallEvent::Incoming {
                            from,
                            to,
                            uri,
                            offer,
                        },
                } => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.calls.insert(call, tx);
                    let raw = IncomingRaw {
                        key: call,
                        from,
                        to,
                        uri,
                        offer,
                        updates: rx,
                    };
                    if self.incoming.send(raw).is_err() {
                        let _ = self.endpoint.reject(Instant::now(), call, 480);
                    }
                }
                Event::Call { call, event } => {
                    let ended = matches!(event, CallEvent::Ended { .. });
                    if let Some(tx) = self.calls.get(&call) {
                        let _ = tx.send(event);
                    }
                    if ended {
                        self.calls.remove(&call);
                    }
                }
                Event::Registration {
                    registration,
                    state,
                } => {
                    tracing::info!(?registration, ?state, "registration");
                    if let Some(tx) = self.registrations.get(&registration) {
                        let _ = tx.send(state);
                    }
                }
            }
        }
    }

    /// Sends over the TCP connection to `to`, connecting first when there is none.
    fn send_tcp(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        if let Some((_, tx)) = self.tcp_out.get(&to)
            && tx.send(bytes.clone()).is_ok()
        {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(bytes);
        let connection = self.connection(to, false);
        self.tcp_out.insert(to, (connection.id, tx));
        self.tcp.counters.set_open(self.tcp_out.len());
        tokio::spawn(connection.connect_and_serve(rx));
    }

    /// Takes an accepted connection, unless the limits are reached: then it is closed at once
    /// and counted. Its writes go through `tcp_out`, its reads to the loop.
    fn adopt(&mut self, stream: TcpStream, peer: SocketAddr) {
        let limits = self.tcp.limits;
        let from_ip = self.tcp.per_ip.get(&peer.ip()).copied().unwrap_or(0);
        let full = if self.tcp.accepted >= limits.max_connections {
            Some("max_connections")
        } else if from_ip >= limits.max_per_ip {
            Some("max_per_ip")
        } else {
            None
        };
        if let Some(limit) = full {
            drop(stream);
            self.tcp.counters.refused();
            if let Admit::Log { suppressed } = self.tcp.log.admit(Instant::now()) {
                tracing::warn!(%peer, limit, suppressed, "refused a SIP TCP connection");
            }
            return;
        }
        self.tcp.accepted += 1;
        *self.tcp.per_ip.entry(peer.ip()).or_default() += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let connection = self.connection(peer, true);
        self.tcp_out.insert(peer, (connection.id, tx));
        self.tcp.counters.set_open(self.tcp_out.len());
        tokio::spawn(connection.serve(stream, rx));
    }

    fn connection(&mut self, peer: SocketAddr, accepted: bool) -> Connection {
        self.tcp.next_id += 1;
        Connection {
            peer,
            id: self.tcp.next_id,
            accepted,
            limits: self.tcp.limits,
            counters: self.tcp.counters.clone(),
            events: self.tcp_in.clone(),
        }
    }

    /// A connection ended: it leaves `tcp_out` (unless a newer one to the peer took its
    /// place) and frees its place under the limits.
    fn closed(&mut self, peer: SocketAddr, id: u64, accepted: bool, why: &Close) {
        if self.tcp_out.get(&peer).is_some_and(|(open, _)| *open == id) {
            self.tcp_out.remove(&peer);
            self.tcp.counters.set_open(self.tcp_out.len());
        }
        if accepted {
            self.tcp.accepted = self.tcp.accepted.saturating_sub(1);
            if let Some(n) = self.tcp.per_ip.get_mut(&peer.ip()) {
                *n -= 1;
                if *n == 0 {
                    self.tcp.per_ip.remove(&peer.ip());
                }
            }
        }
        if why.worth_a_line()
            && let Admit::Log { suppressed } = self.tcp.log.admit(Instant::now())
        {
            tracing::warn!(%peer, ?why, suppressed, "closed a SIP TCP connection");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn an_alarm_that_rang_stays_silent_when_no_deadline_is_left() {
        let mut alarm = Alarm::new();
        alarm.set(Some(Instant::now() + Duration::from_millis(5)));
        tokio::time::timeout(Duration::from_secs(1), alarm.ring())
            .await
            .expect("rings at its deadline");
        // The endpoint's last timer fired: nothing is due any more.
        alarm.set(None);
        let again = tokio::time::timeout(Duration::from_secs(600), alarm.ring()).await;
        assert!(again.is_err(), "an alarm with no deadline rang again");
    }

    #[tokio::test(start_paused = true)]
    async fn an_alarm_follows_a_moved_deadline() {
        let mut alarm = Alarm::new();
        alarm.set(Some(Instant::now() + Duration::from_secs(30)));
        alarm.set(Some(Instant::now() + Duration::from_millis(5)));
        tokio::time::timeout(Duration::from_secs(1), alarm.ring())
            .await
            .expect("rings at the earlier deadline");
    }
}
