//! The one place with SIP sockets and timers: a tokio task drives the sans-IO
//! [`Endpoint`](crate::sip::Endpoint) over UDP and TCP, and the call API the dialer
//! uses sits on top ([`UserAgent::dial`], [`Call::play`], [`Call::collect`], ...).
//!
//! Many calls, few tasks: one task for all SIP traffic (plus one reader per TCP connection),
//! and the media engine's own few tasks for all RTP.

mod call;
mod log_budget;
mod sip_task;
mod tcp;

pub use call::{Call, CallUpdate, Collect, CollectEnd, Collected, Incoming, PlayEnd};
pub use tcp::{TcpCounters, TcpLimits};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::media::PromptLibrary;
pub use super::media::engine::MediaConfig;
use super::media::engine::{MediaEngine, MediaError};
use super::sip::auth::Credentials;
use super::sip::endpoint::{CallError, DialError};
use super::sip::{AccessList, CallKey, Dial, EndpointConfig, RegState, Register, Transport};

/// How to start a [`UserAgent`].
#[derive(Debug, Clone)]
pub struct UserAgentConfig {
    /// SIP address to bind (UDP, and TCP on the same port). Port 0 picks a free one.
    pub sip_listen: SocketAddr,
    /// Whether to listen on TCP as well. Calls placed over TCP work without it (we connect
    /// out), but the far end's own requests of the call may come over a connection it opens:
    /// a dialer listens when one of its trunks uses TCP, and only then.
    pub tcp: bool,
    /// Timeouts and caps on TCP connections (see [`TcpLimits`]'s defaults).
    pub tcp_limits: TcpLimits,
    /// The IP RTP sockets bind to (and that SDP advertises).
    pub media_ip: IpAddr,
    /// The user part of our Contact.
    pub contact_user: String,
    /// Whether incoming calls are handed to [`UserAgent::accept`]. A dialer node takes none:
    /// an INVITE to it gets a stateless `403 Forbidden` at once and leaves nothing behind
    /// (before, it waited forever for an `accept` that never came).
    pub takes_calls: bool,
    /// Who may send requests outside a dialog (the trunks' addresses); `None` lets anyone.
    /// Strangers get a few stateless 403s a second and no state (see [`AccessList`]).
    pub allow: Option<AccessList>,
    /// The media engine's tunables: how long a silent far end may stay silent
    /// ([`MediaConfig::rtp_timeout`]), symmetric RTP, in-band DTMF.
    pub media: MediaConfig,
}

impl UserAgentConfig {
    /// Loopback defaults on `sip_listen`.
    pub fn new(sip_listen: SocketAddr) -> UserAgentConfig {
        UserAgentConfig {
            sip_listen,
            tcp: true,
            media_ip: sip_listen.ip(),
            contact_user: "huifang".into(),
            takes_calls: true,
            allow: None,
            tcp_limits: TcpLimits::default(),
            media: MediaConfig::default(),
        }
    }
}

/// Why the user agent could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum UaError {
    /// Binding the SIP socket failed.
    #[error("cannot listen for SIP on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The SIP task has stopped (shutdown or a crash, which is logged).
    #[error("the SIP task has stopped")]
    Stopped,
    /// The dial was refused before sending.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// A call command was refused.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The target's host is not an IP address and does not resolve.
    #[error("cannot resolve `{0}`")]
    Resolve(String),
    /// The call has ended (its media is closed).
    #[error("the call has ended")]
    Ended,
    /// The incoming INVITE carried no SDP offer (late offer is not supported); 488 was sent.
    #[error("incoming INVITE without an SDP offer")]
    NoOffer,
    /// The peer's SDP has nothing we can use.
    #[error(transparent)]
    Sdp(#[from] super::sip::sdp::SdpError),
    /// The media engine could not open a leg.
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// A call to place through [`UserAgent::dial`].
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// `sip:user@host[:port]` (host may be a name; it is resolved here).
    pub to: String,
    /// Caller ID: the user part of From.
    pub caller_id: String,
    /// Display name in From.
    pub display_name: Option<String>,
    /// An outbound proxy (`host:port`) to send through instead of the target's host.
    pub proxy: Option<String>,
    /// UDP or TCP.
    pub transport: Transport,
    /// Ring time-out (at least 15 s is enforced by the endpoint).
    pub ring_timeout: Duration,
    /// Digest credentials for 401/407.
    pub credentials: Option<Credentials>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Whether digits the far end sends by SIP INFO count (RFC 4733 and in-band always do).
    /// Off by default: a survey takes keys only from the channels its campaign allows.
    pub sip_info_dtmf: bool,
    /// Whether to hang up an answered call whose far end sends no RTP for the agent's
    /// [`MediaConfig::rtp_timeout`] (gone without a BYE, or never sending at all). On for
    /// owners' calls; off for an agent's nailed-up leg, whose phone may suppress silence.
    pub end_when_silent: bool,
}

impl DialRequest {
    /// A plain UDP call to `to` with defaults.
    pub fn new(to: impl Into<String>) -> DialRequest {
        DialRequest {
            to: to.into(),
            caller_id: "4008000400".into(),
            display_name: None,
            proxy: None,
            transport: Transport::Udp,
            ring_timeout: Duration::from_secs(30),
            credentials: None,
            headers: Vec::new(),
            sip_info_dtmf: false,
            end_when_silent: true,
        }
    }
}

pub(crate) enum Command {
    Dial {
        dial: Box<Dial>,
        reply:
            oneshot::Sender<Result<(CallKey, mpsc::UnboundedReceiver<call::SipUpdate>), DialError>>,
    },
    Answer {
        call: CallKey,
        sdp: String,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    Ring(CallKey),
    Reject(CallKey, u16),
    Hangup(CallKey),
    Info {
        call: CallKey,
        content_type: String,
        body: String,
    },
    Register(Box<Register>, mpsc::UnboundedSender<RegState>),
    Shutdown,
}

/// A running SIP user agent: bound sockets, the SIP task and the media engine.
#[derive(Clone)]
pub struct UserAgent {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    media: MediaEngine,
    prompts: PromptLibrary,
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<call::IncomingRaw>>,
    malformed: Arc<std::sync::atomic::AtomicU64>,
    refused: Arc<std::sync::atomic::AtomicU64>,
    tcp: Arc<tcp::Counters>,
}

impl UserAgent {
    /// Binds the sockets and starts the SIP task; the real bound address is in
    /// [`UserAgent::local_addr`] (bind port 0 in tests).
    pub async fn start(config: UserAgentConfig) -> Result<UserAgent, UaError> {
        let (udp, local, tcp) = bind_sip(config.sip_listen, config.tcp).await?;
        let mut endpoint_config = EndpointConfig::new(local);
        endpoint_config.contact_user = config.contact_user.clone();
        endpoint_config.takes_calls = config.takes_calls;
        endpoint_config.allow = config.allow.clone();
        let media = MediaEngine::with_config(config.media_ip, config.media);
        let malformed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let tcp_counters = Arc::new(tcp::Counters::default());
        let (commands, incoming) = sip_task::spawn(sip_task::Setup {
            config: endpoint_config,
            udp,
            tcp,
            malformed: malformed.clone(),
            refused: refused.clone(),
            tcp_limits: config.tcp_limits,
            tcp_counters: tcp_counters.clone(),
        });
        Ok(UserAgent {
            inner: Arc::new(Inner {
                commands,
                local,
                media,
                prompts: PromptLibrary::new(),
                incoming: tokio::sync::Mutex::new(incoming),
                malformed,
                refused,
                tcp: tcp_counters,
            }),
        })
    }

    /// The bound SIP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Requests refused by the gate since the start: strangers' (outside
    /// [`UserAgentConfig::allow`]), in-dialog ones from another address than the call's, and
    /// INVITEs to an agent that takes no calls (answered or, past a source's few a second,
    /// dropped).
    pub fn refused_sip(&self) -> u64 {
        self.inner
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Malformed SIP messages received and dropped since the start (logged only a few a
    /// second).
    pub fn malformed_sip(&self) -> u64 {
        self.inner
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// TCP connections refused by the caps and closed by the timeouts of
    /// [`UserAgentConfig::tcp_limits`] since the start, and those open now (each refusal or
    /// close is logged only a few a second).
    pub fn tcp_counters(&self) -> TcpCounters {
        self.inner.tcp.snapshot()
    }

    /// The media engine (for its statistics).
    pub fn media(&self) -> &MediaEngine {
        &self.inner.media
    }

    /// The shared prompt cache: every prompt is decoded once and shared by all calls.
    pub fn prompts(&self) -> &PromptLibrary {
        &self.inner.prompts
    }

    /// Places a call; returns as soon as the INVITE is on its way.
    pub async fn dial(&self, request: DialRequest) -> Result<Call, UaError> {
        let (host, port) = super::sip::message::host_port(&request.to)
            .ok_or_else(|| UaError::Dial(DialError::BadUri(request.to.clone())))?;
        let next_hop = match &request.proxy {
            Some(proxy) => resolve(proxy, 5060).await?,
            None => resolve_host(&host, port.unwrap_or(5060)).await?,
        };
        let leg = self.inner.media.open().await?;
        let offer = super::sip::sdp::offer(leg.local_addr(), session_id(), 1);
        let from_host = self.inner.local;
        let dial = Dial {
            to: request.to.clone(),
            from: format!("sip:{}@{from_host}", request.caller_id),
            display_name: request.display_name.clone(),
            next_hop,
            via_proxy: request.proxy.is_some(),
            transport: request.transport,
            offer,
            ring_timeout: request.ring_timeout,
            credentials: request.credentials.clone(),
            headers: request.headers.clone(),
        };
        let (reply, answer) = oneshot::channel();
        self.send(Command::Dial {
            dial: Box::new(dial),
            reply,
        })?;
        let (key, updates) = answer.await.map_err(|_| UaError::Stopped)??;
        let mut call = Call::new(key, self.clone(), updates, leg);
        call.take_info_digits(request.sip_info_dtmf);
        call.end_when_silent(request.end_when_silent);
        Ok(call)
    }

    /// Waits for the next incoming call (the phone simulator and agents' legs); never
    /// returns one when the agent was started without [`UserAgentConfig::takes_calls`].
    pub async fn accept(&self) -> Option<Incoming> {
        let raw = self.inner.incoming.lock().await.recv().await?;
        Some(Incoming::new(raw, self.clone()))
    }

    /// Registers with a trunk's registrar; refreshes are automatic. Every change of the
    /// registration's state (registered, refreshed, failed) arrives on the returned channel.
    pub fn register(
        &self,
        register: Register,
    ) -> Result<mpsc::UnboundedReceiver<RegState>, UaError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.send(Command::Register(Box::new(register), tx))?;
        Ok(rx)
    }

    /// Stops the SIP task (calls in progress are abandoned).
    pub fn shutdown(&self) {
        let _ = self.inner.commands.send(Command::Shutdown);
    }

    pub(crate) fn send(&self, command: Command) -> Result<(), UaError> {
        self.inner
            .commands
            .send(command)
            .map_err(|_| UaError::Stopped)
    }

    pub(crate) fn media_engine(&self) -> &MediaEngine {
        &self.inner.media
    }
}

/// Binds SIP's UDP socket and, when asked, a TCP listener on the same port.
///
/// With port 0 the system picks a free UDP port, which may be taken on TCP (another program's
/// connection or listener); a few fresh picks are tried before giving up, rather than failing a
/// start that asked for any port.
async fn bind_sip(
    addr: SocketAddr,
    tcp: bool,
) -> Result<
    (
        tokio::net::UdpSocket,
        SocketAddr,
        Option<tokio::net::TcpListener>,
    ),
    UaError,
> {
    const PICKS: usize = 8;
    let mut pick = 1;
    loop {
        let udp = bind_udp(addr).map_err(|source| UaError::Bind { addr, source })?;
        let local = udp
            .local_addr()
            .map_err(|source| UaError::Bind { addr, source })?;
        if !tcp {
            return Ok((udp, local, None));
        }
        match tokio::net::TcpListener::bind(local).await {
            Ok(listener) => return Ok((udp, local, Some(listener))),
            Err(source)
                if addr.port() == 0
                    && source.kind() == std::io::ErrorKind::AddrInUse
                    && pick < PICKS =>
            {
                pick += 1;
            }
            Err(source) => {
                return Err(UaError::Bind {
                    addr: local,
                    source,
                });
            }
        }
    }
}

/// Binds the SIP UDP socket with 4 MiB buffers: at thousands of calls per second the default
/// (~200 KiB) drops bursts, and every drop costs a retransmission timer (sipp needs the same).
fn bind_udp(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for size in [4 << 20, 1 << 20] {
        if socket.set_recv_buffer_size(size).is_ok() && socket.set_send_buffer_size(size).is_ok() {
            break;
        }
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Resolves `host:port` (an IP address, or a name through the system resolver).
async fn resolve(hostport: &str, default_port: u16) -> Result<SocketAddr, UaError> {
    if let Ok(addr) = hostport.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = hostport.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let with_port = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    };
    tokio::net::lookup_host(with_port)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| UaError::Resolve(hostport.to_string()))
}

/// Resolves a bare host (IP literal, IPv6 without brackets, or a name) and a port.
async fn resolve_host(host: &str, port: u16) -> Result<SocketAddr, UaError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| UaError::Resolve(host.to_string()))
}

/// A fresh SDP session id (RFC 4566 suggests an NTP timestamp; any unique number will do).
pub(crate) fn session_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    base * 1000 + NEXT.fetch_add(1, Ordering::Relaxed) % 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Side;

    #[tokio::test]
    async fn a_port_taken_on_tcp_is_a_clear_error_and_any_port_still_starts() {
        // Hold a TCP port whose UDP twin is free: asking for that very port names it.
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap();
        let Err(err) = UserAgent::start(UserAgentConfig::new(port)).await else {
            panic!("started on a port taken on TCP");
        };
        assert!(
            matches!(&err, UaError::Bind { addr, .. } if *addr == port),
            "{err}"
        );
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        // Port 0 picks again when its first pick is taken on TCP (not forced here: the pick is
        // the system's); it starts, on one port for both transports.
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .expect("starts on any free port");
        assert_ne!(ua.local_addr().port(), 0);
        ua.shutdown();
    }

    /// Garbage over a real socket is counted, every datagram, and the user agent keeps
    /// answering: a well-formed OPTIONS sent after the flood still gets its 200.
    #[tokio::test]
    async fn malformed_datagrams_are_counted_and_the_agent_still_answers() {
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = ua.local_addr();
        for i in 0..500u32 {
            let junk = format!("NOT SIP {i}\r\n\r\n");
            sock.send_to(junk.as_bytes(), to).await.unwrap();
        }
        let options = format!(
            "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKflood1\r\n\
             Max-Forwards: 70\r\nTo: <sip:{to}>\r\nFrom: <sip:probe@{me}>;tag=p1\r\n\
             Call-ID: flood-probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            me = sock.local_addr().unwrap()
        );
        sock.send_to(options.as_bytes(), to).await.unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
            .await
            .expect("no answer to OPTIONS after the flood")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
        // Datagrams are read in order: all 500 were handled before the OPTIONS.
        assert_eq!(ua.malformed_sip(), 500);
        ua.shutdown();
    }

    /// A user agent that takes no calls (a dialer node) answers a stranger's INVITE with a
    /// final 403 at once, instead of 100 Trying and then nothing, state kept forever.
    #[tokio::test]
    async fn an_agent_that_takes_no_calls_refuses_an_invite_at_once() {
        let mut config = UserAgentConfig::new("127.0.0.1:0".parse().unwrap());
        config.takes_calls = false;
        let ua = UserAgent::start(config).await.unwrap();
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = ua.local_addr();
        let me = sock.local_addr().unwrap();
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            me.port() + 2
        );
        let invite = format!(
            "INVITE sip:400@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKstranger1\r\n\
             Max-Forwards: 70\r\nTo: <sip:400@{to}>\r\nFrom: <sip:stranger@{me}>;tag=s1\r\n\
             Call-ID: stranger-1\r\nCSeq: 1 INVITE\r\nContact: <sip:stranger@{me}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        sock.send_to(invite.as_bytes(), to).await.unwrap();
        let mut buf = [0u8; 4096];
        let final_status = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (n, _) = sock.recv_from(&mut buf).await.unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                if !text.starts_with("SIP/2.0 1") {
                    return text;
                }
            }
        })
        .await
        .expect("no final response to the INVITE");
        assert!(final_status.starts_with("SIP/2.0 403"), "{final_status}");
        ua.shutdown();
    }

    /// A phone on a raw socket that answers every INVITE and BYE with 200 and never sends RTP
    /// (our own agent would send silence); returns its SIP address.
    async fn silent_phone() -> SocketAddr {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let header = |name: &str| {
                    text.lines()
                        .find(|line| line.to_ascii_lowercase().starts_with(&format!("{name}:")))
                        .map(|line| line.to_string())
                        .unwrap_or_default()
                };
                let (to, body) = if text.starts_with("INVITE ") {
                    // An RTP port nothing listens on, that never sends.
                    let sdp = format!(
                        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                         t=0 0\r\nm=audio {} RTP/AVP 0 101\r\n\
                         a=rtpmap:101 telephone-event/8000\r\n",
                        me.port() + 2
                    );
                    (format!("{};tag=silent", header("to")), sdp)
                } else if text.starts_with("BYE ") {
                    (header("to"), String::new())
                } else {
                    continue;
                };
                let content_type = if body.is_empty() {
                    String::new()
                } else {
                    "Content-Type: application/sdp\r\n".to_string()
                };
                let reply = format!(
                    "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{to}\r\n{}\r\n{}\r\n\
                     Contact: <sip:owner@{me}>\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
                    header("via"),
                    header("from"),
                    header("call-id"),
                    header("cseq"),
                    body.len()
                );
                let _ = sock.send_to(reply.as_bytes(), from).await;
            }
        });
        me
    }

    /// A phone that answers and then sends no RTP (gone without a BYE) is hung up after the
    /// media time-out, with the reason said; a call asked not to (an agent's leg) goes on.
    #[tokio::test]
    async fn an_answered_call_whose_far_end_never_sends_is_hung_up() {
        let phone = silent_phone().await;
        let mut config = UserAgentConfig::new("127.0.0.1:0".parse().unwrap());
        config.takes_calls = false;
        config.media.rtp_timeout = Some(Duration::from_millis(400));
        let ua = UserAgent::start(config).await.unwrap();
        let to = format!("sip:owner@{phone}");
        let mut call = ua.dial(DialRequest::new(to.clone())).await.unwrap();
        assert!(call.wait_answer().await);
        let mut seen = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(update) = call.next_update().await {
                seen.push(update);
            }
        })
        .await;
        assert!(ended.is_ok(), "still up after 10 s of silence: {seen:?}");
        assert!(seen.contains(&CallUpdate::RtpTimeout), "{seen:?}");
        match call.ended() {
            Some(CallUpdate::Ended {
                by: Side::Local,
                reason: Some(reason),
                ..
            }) => assert!(
                reason.contains("no RTP from the far end for 400 ms"),
                "{reason}"
            ),
            other => panic!("ended as {other:?}"),
        }

        let mut request = DialRequest::new(to);
        request.end_when_silent = false;
        let mut leg = ua.dial(request).await.unwrap();
        assert!(leg.wait_answer().await);
        let first = tokio::time::timeout(Duration::from_secs(10), leg.next_update()).await;
        assert_eq!(first.ok().flatten(), Some(CallUpdate::RtpTimeout));
        let more = tokio::time::timeout(Duration::from_millis(800), leg.next_update()).await;
        assert!(
            more.is_err(),
            "the leg went on after the time-out: {more:?}"
        );
        assert!(leg.ended().is_none());
        leg.hangup().await;
        ua.shutdown();
    }
}
