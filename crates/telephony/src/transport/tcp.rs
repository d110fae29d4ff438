//! SIP over TCP: the limits a user agent puts on connections, the framing of one connection's
//! byte stream with its deadlines (sans-IO: [`Framer`] is fed bytes and instants), and the
//! task that runs one connection on tokio's timers.
//!
//! A stranger's connection costs a descriptor and a buffer, so every accepted connection is
//! closed when it stays silent ([`TcpLimits::idle`]) or dribbles a message
//! ([`TcpLimits::header`], the slowloris case), and only so many are taken at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::sip::message::{self, MessageError};

/// What a user agent allows SIP-over-TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// A connection over which no complete message went either way for this long is closed.
    /// 60 s: half Kamailio's `tcp_connection_lifetime` (120 s), twice Asterisk's
    /// `tcpauthidletimeout` (30 s); longer than a trunk's ring time (30 s by default), so the
    /// final response to an INVITE comes back on the connection the INVITE went out on. A
    /// connection we opened and closed is opened again on the next send; a TCP trunk's later
    /// requests reach our listener, which is on whenever a trunk uses TCP.
    pub idle: Duration,
    /// A message begun (its first byte read) must be complete, headers and body, within this;
    /// so must a write, and a connect. 10 s: Kamailio's `tcp_msg_read_timeout` is 20 s; the
    /// largest message framed (64 KiB) takes 8 s even at 64 kbit/s, on a LAN milliseconds.
    pub header: Duration,
    /// Accepted connections open at once; one more is closed as soon as it is accepted (and
    /// counted). 256: a dialer's far ends are a few trunks, each with a connection or two;
    /// Kamailio allows 2,048 (`tcp_max_connections`), Asterisk 100 unauthenticated
    /// (`tcpauthlimit`). 256 descriptors and buffers leave the rest to RTP.
    pub max_connections: usize,
    /// Accepted connections open at once from one IP address. 32: one host cannot take the
    /// whole of [`TcpLimits::max_connections`] and lock the others (a trunk's SBC out) out.
    pub max_per_ip: usize,
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            idle: Duration::from_secs(60),
            header: Duration::from_secs(10),
            max_connections: 256,
            max_per_ip: 32,
        }
    }
}

/// How many TCP connections were refused or closed by a limit, since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Accepted and closed at once: [`TcpLimits::max_connections`] or
    /// [`TcpLimits::max_per_ip`] was reached.
    pub refused: u64,
    /// Closed after [`TcpLimits::idle`] without a message.
    pub idle_closed: u64,
    /// Closed because a message (or a write, or a connect) took longer than
    /// [`TcpLimits::header`].
    pub header_closed: u64,
    /// Connections open now, accepted and ours (a gauge, not a count since the start).
    pub open: u64,
}

/// The shared counters behind [`TcpCounters`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    refused: AtomicU64,
    idle_closed: AtomicU64,
    header_closed: AtomicU64,
    open: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> TcpCounters {
        TcpCounters {
            refused: self.refused.load(Ordering::Relaxed),
            idle_closed: self.idle_closed.load(Ordering::Relaxed),
            header_closed: self.header_closed.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
        }
    }

    pub(super) fn set_open(&self, open: usize) {
        self.open.store(open as u64, Ordering::Relaxed);
    }

    pub(super) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn closed(&self, why: &Close) {
        let counter = match why {
            Close::Idle => &self.idle_closed,
            Close::Header => &self.header_closed,
            Close::Peer | Close::Dropped | Close::Framing(_) | Close::Io(_) => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Close {
    /// No message for [`TcpLimits::idle`].
    Idle,
    /// A message, write or connect took longer than [`TcpLimits::header`].
    Header,
    /// The peer closed it (or reset it).
    Peer,
    /// The SIP task let it go (it stopped).
    Dropped,
    /// The stream lost its framing (no Content-Length, a message too long): it cannot be
    /// resynchronised.
    Framing(String),
    /// Connecting or writing failed.
    Io(String),
}

impl Close {
    /// Whether the log should hear of it (a limit, or a broken peer).
    pub(super) fn worth_a_line(&self) -> bool {
        !matches!(self, Close::Peer | Close::Dropped)
    }
}

/// What a connection reports to the SIP task.
pub(super) enum TcpEvent {
    /// A complete message from `peer`.
    Message(SocketAddr, Vec<u8>),
    /// Connection `id` to `peer` is gone (`accepted`: it was one of the listener's).
    Closed {
        peer: SocketAddr,
        id: u64,
        accepted: bool,
        why: Close,
    },
}

/// One connection's reading side and clock: bytes in, complete messages out, and the instant
/// by which the connection must show progress.
#[derive(Debug)]
pub(super) struct Framer {
    buf: Vec<u8>,
    /// When the first byte of the message now in `buf` arrived.
    started: Option<Instant>,
    /// The last complete message read or written (or the connection's start).
    active: Instant,
}

impl Framer {
    pub(super) fn new(now: Instant) -> Framer {
        Framer {
            buf: Vec::new(),
            started: None,
            active: now,
        }
    }

    /// Bytes read at `now`; returns the messages they complete. An error means the stream
    /// lost its framing and must be closed.
    pub(super) fn push(
        &mut self,
        now: Instant,
        bytes: &[u8],
    ) -> Result<Vec<Vec<u8>>, MessageError> {
        self.buf.extend_from_slice(bytes);
        let mut messages = Vec::new();
        loop {
            // CRLF between messages (RFC 5626 keep-alives) begins no message and is not kept.
            let blank = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            self.buf.drain(..blank);
            let Some(len) = message::frame(&self.buf)? else {
                break;
            };
            messages.push(self.buf.drain(..len).collect());
            self.started = None;
            self.active = now;
        }
        if self.buf.is_empty() {
            self.started = None;
        } else if self.started.is_none() {
            self.started = Some(now);
        }
        Ok(messages)
    }

    /// A complete message was written at `now`.
    pub(super) fn sent(&mut self, now: Instant) {
        self.active = now;
    }

    /// When the connection is to be closed unless a message completes first, and why.
    pub(super) fn deadline(&self, limits: &TcpLimits) -> (Instant, Close) {
        let idle = self.active + limits.idle;
        match self.started {
            Some(started) if started + limits.header < idle => {
                (started + limits.header, Close::Header)
            }
            _ => (idle, Close::Idle),
        }
    }
}

/// Runs one connection: its messages go to `events`, what `outgoing` brings is written, and
/// it is closed at its [`Framer::deadline`]. Its end is reported as [`TcpEvent::Closed`] (the
/// counters already count it, so whoever sees the socket close sees the count too).
pub(super) struct Connection {
    pub(super) peer: SocketAddr,
    pub(super) id: u64,
    pub(super) accepted: bool,
    pub(super) limits: TcpLimits,
    pub(super) counters: std::sync::Arc<Counters>,
    pub(super) events: mpsc::UnboundedSender<TcpEvent>,
}

impl Connection {
    /// Connects to the peer first (within [`TcpLimits::header`]), then serves it.
    pub(super) async fn connect_and_serve(self, outgoing: mpsc::UnboundedReceiver<Vec<u8>>) {
        let why =
            match tokio::time::timeout(self.limits.header, TcpStream::connect(self.peer)).await {
                Ok(Ok(stream)) => return self.serve(stream, outgoing).await,
                Ok(Err(err)) => Close::Io(format!("connect: {err}")),
                Err(_) => Close::Header,
            };
        self.counters.closed(&why);
        self.end(why);
    }

    pub(super) async fn serve(self, stream: TcpStream, outgoing: mpsc::UnboundedReceiver<Vec<u8>>) {
        let (mut reader, mut writer) = stream.into_split();
        let why = self.run(&mut reader, &mut writer, outgoing).await;
        // Counted before the socket closes: whoever sees it close sees the count.
        self.counters.closed(&why);
        drop((reader, writer));
        self.end(why);
    }

    fn end(self, why: Close) {
        let _ = self.events.send(TcpEvent::Closed {
            peer: self.peer,
            id: self.id,
            accepted: self.accepted,
            why,
        });
    }

    async fn run(
        &self,
        reader: &mut OwnedReadHalf,
        writer: &mut OwnedWriteHalf,
        mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    ) -> Close {
        let mut framer = Framer::new(now());
        let mut chunk = vec![0u8; 8192];
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        loop {
            let (deadline, why) = framer.deadline(&self.limits);
            sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
            tokio::select! {
                read = reader.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return Close::Peer,
                    Ok(n) => match framer.push(now(), &chunk[..n]) {
                        Ok(messages) => {
                            for msg in messages {
                                if self.events.send(TcpEvent::Message(self.peer, msg)).is_err() {
                                    return Close::Dropped;
                                }
                            }
                        }
                        Err(err) => return Close::Framing(err.to_string()),
                    },
                },
                bytes = outgoing.recv() => {
                    let Some(bytes) = bytes else { return Close::Dropped };
                    // A peer that stops reading would hold the write (and this task) forever.
                    match tokio::time::timeout(self.limits.header, writer.write_all(&bytes)).await {
                        Ok(Ok(())) => framer.sent(now()),
                        Ok(Err(err)) => return Close::Io(format!("write: {err}")),
                        Err(_) => return Close::Header,
                    }
                },
                () = &mut sleep => return why,
            }
        }
    }
}

/// Now on tokio's clock (which tests may pause), as the [`Framer`]'s `Instant`.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
#[path = "tcp_tests.rs"]
mod tests;
